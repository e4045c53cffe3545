"""``cybermesh view``: the native window — the run drawn live, driven from the keyboard.

The render loop is the run's loop: each frame runs the ticks due (the fixed-timestep
accumulator of :class:`game.engine.loop.FixedStepLoop`), then draws the newest state at the
display's rate. Keys follow Golly where Golly has one; :data:`KEYS` is the one table the key
handler and the help overlay (H) both read. The web mirror runs alongside unless ``--no-web``.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Final

import numpy as np

from game.app.serve import LiveRun, StatusLine, status_text
from game.cells import Cell
from game.config import Config
from game.engine.commands import Reseed, StampPattern
from game.engine.frames import BotView, MirrorFrame
from game.engine.loop import Control
from game.errors import BadInput
from game.paths import PATTERNS_DIR
from game.rle import read_rle
from game.viewer.font import read_atlas
from game.viewer.render import Camera, Renderer, Scene, zoom_factor
from game.viewer.window import Window

if TYPE_CHECKING:
    import moderngl

MESSAGE_SECONDS: Final = 3.0
HUD_PAD: Final = 16.0  # the HUD panel's padding, top and bottom


@dataclass(frozen=True, slots=True)
class Key:
    """One key binding.

    glfw key names (``SPACE``, ``RIGHT``...), how help shows them, what it does, and the
    :class:`Viewer` method it calls.
    """

    names: tuple[str, ...]
    label: str
    does: str
    action: str


KEYS: Final[tuple[Key, ...]] = (
    Key(("SPACE",), "Space", "pause / resume", "toggle"),
    Key(("N", "RIGHT"), "N  ->", "one tick (pauses first)", "step"),
    Key(("EQUAL", "KP_ADD"), "+", "double the tick rate", "faster"),
    Key(("MINUS", "KP_SUBTRACT"), "-", "halve the tick rate", "slower"),
    Key(("R",), "R", "reseed the lattice (new soup)", "reseed"),
    Key(("G",), "G", "glider at the cursor", "glider"),
    Key(("S",), "S", "inject a shard at the bot under the cursor", "shard"),
    Key(("P",), "P", "pulse the bot under the cursor", "pulse"),
    Key(("A",), "A", "cycle that bot's adapter", "adapter"),
    Key(("W",), "W", "start a LoRA wave there (its adapter)", "wave"),
    Key(("E",), "E", "energy heatmap on / off", "energy_overlay"),
    Key(("D",), "D", "detected objects on / off", "detect_overlay"),
    Key(("F",), "F", "fit the lattice to the window", "fit"),
    Key(("H", "F1"), "H", "this help", "help"),
    Key(("ESCAPE", "Q"), "Esc  Q", "quit", "quit"),
)


def help_lines() -> list[str]:
    """The help overlay: every key and what it does, plus the mouse."""
    lines = ["CyberMesh keys", ""]
    lines += [f"{k.label:<8} {k.does}" for k in KEYS]
    lines += ["", "drag    pan", "wheel   zoom at the cursor"]
    return lines


class Picture:
    """What a run looks like now, drawn by a :class:`Renderer`.

    The viewer's picture without the window (``cybermesh bench --scenario view`` draws it
    offscreen).

    Textures are refreshed only when the tick changed: the lattice is copied from the
    substrate, or sampled straight from the gl backend's texture when the backend runs on
    this context; the energy field is copied only while its overlay is on.
    """

    def __init__(self, ctx: moderngl.Context, live: LiveRun) -> None:
        self.ctx = ctx
        self.live = live
        sim = live.sim
        h, w = sim.shape
        mesh = sim.config.mesh
        self.renderer = Renderer(ctx, (w, h), mesh.rows, mesh.cols, mesh.tile, read_atlas())
        self.camera = Camera()
        self.energy = False
        self.detect = False
        self._drawn_tick = -1
        self._energy_tick = -1
        self._energy_max = 0.0

    @property
    def shares_texture(self) -> bool:
        """Whether the lattice is the gl backend's own texture on this context (no copy)."""
        return getattr(self.live.sim.backend, "ctx", None) is self.ctx

    def refresh(self) -> None:
        """Bring the lattice and energy textures up to the run's tick."""
        sim, renderer = self.live.sim, self.renderer
        if sim.tick != self._drawn_tick:
            self._drawn_tick = sim.tick
            if self.shares_texture:
                renderer.use_texture(sim.backend.current_texture)  # type: ignore[attr-defined]
            else:
                renderer.upload_cells(sim.substrate.alive)
        if self.energy and sim.tick != self._energy_tick:
            self._energy_tick = sim.tick
            renderer.upload_energy(sim.substrate.energy)
            self._energy_max = float(sim.substrate.energy.max())

    def frame(self) -> MirrorFrame | None:
        """The mirror's newest frame (bots, shards, gliders, objects), if any yet."""
        frames = self.live.sim.frames
        return frames.get() if frames is not None else None

    def draw(self, screen: tuple[int, int], hud: list[str] | None = None, message: str = "",
             help_: list[str] | None = None) -> None:
        """Draw the run now into the bound framebuffer of ``screen`` pixels."""
        self.refresh()
        sim = self.live.sim
        scene = Scene(tick=sim.tick, energy=self.energy, detect=self.detect,
                      energy_max=self._energy_max if self.energy else 0.0,
                      hud=hud or [], message=message, help=help_ or [])
        frame = self.frame()
        if frame is not None:
            scene.bots, scene.shards = frame.bots, frame.shards
            scene.gliders, scene.patterns = frame.gliders, frame.patterns
        self.renderer.draw(scene, self.camera, screen)

    def fit(self, screen: tuple[int, int], top: float = 0.0) -> None:
        """The whole lattice on screen below ``top`` pixels."""
        h, w = self.live.sim.shape
        self.camera.fit((w, h), screen, top=top)

    def release(self) -> None:
        """Free the GL objects."""
        self.renderer.release()


class Viewer(Window):
    """The window of one :class:`LiveRun`: draws it and turns keys into its controls."""

    title = "CyberMesh"

    def __init__(self, size: tuple[int, int] | None = None) -> None:
        super().__init__(size)
        self.live: LiveRun | None = None
        self.picture: Picture | None = None
        self.show_help = False
        self.message = ""
        self.message_until = 0.0
        self.stop_requested = False
        self._rng = random.Random(0)
        self._glider = read_rle(PATTERNS_DIR / "glider.rle").cells
        import glfw

        self._actions: dict[int, Callable[[], None]] = {}
        for key in KEYS:
            for name in key.names:
                self._actions[int(getattr(glfw, f"KEY_{name}"))] = getattr(self, key.action)

    def attach(self, live: LiveRun) -> None:
        """Draw ``live`` from now on."""
        self.live = live
        self.picture = Picture(self.ctx, live)
        if live.pacer is not None:
            live.pacer.pace_render(self, self.max_fps)
        self.fit()
        self._rng = random.Random(live.sim.config.seed)

    def say(self, text: str) -> None:
        """Show ``text`` at the bottom of the window for a few seconds."""
        self.message = text
        self.message_until = time.monotonic() + MESSAGE_SECONDS

    # -- the frame ---------------------------------------------------------------------------

    def on_frame(self, now: float, dt: float) -> None:
        """Run the ticks due, then draw the newest state."""
        live = self.live
        if self.stop_requested or live is None:
            self.request_close()
            return
        live.frame()
        if live.done:
            self.request_close()
        self.draw()

    def draw(self) -> None:
        """Draw the run's newest state and the HUD into the window."""
        picture = self.picture
        assert picture is not None
        if time.monotonic() > self.message_until:
            self.message = ""
        self.ctx.screen.use()
        picture.draw(self.fb_size, self.hud(picture.frame()), self.message,
                     help_lines() if self.show_help else None)

    def hud(self, frame: MirrorFrame | None) -> list[str]:
        """Tick, rate, state, population, shards in flight, the bot under the cursor, overlays."""
        live, picture = self.live, self.picture
        assert live is not None and picture is not None
        sim, loop = live.sim, live.loop
        state = "PAUSED" if loop.paused else "running"
        lines = [
            f"tick {sim.tick}   {loop.ticks_per_second():.1f} ticks/s (set {loop.tick_rate:g})"
            f"   {state}",
            f"population {frame.population if frame else sim.population()}"
            f"   shards in flight {frame.in_flight if frame else 0}",
        ]
        bot = self._bot_view(frame)
        if bot is not None:
            lines.append(f"bot {bot.row},{bot.col} {bot.state}   adapter "
                         f"{bot.adapter or '-'}   inbox {bot.inbox}")
        on = {True: "on", False: "off"}
        web = f"   web {live.url}" if live.url else ""
        lines.append(f"E energy {on[picture.energy]}   D detect {on[picture.detect]}   "
                     f"H help{web}")
        return lines

    def on_resize(self, width: int, height: int) -> None:
        """Keep drawing at the new size (the camera keeps its centre and zoom)."""

    # -- where the cursor points ---------------------------------------------------------------

    def cursor_cell(self) -> Cell | None:
        """The lattice cell (x, y) under the cursor, None off the lattice."""
        assert self.live is not None and self.picture is not None
        h, w = self.live.sim.shape
        wx, wy = self.picture.camera.to_world(*self.cursor, self.fb_size)
        x, y = int(np.floor(wx)), int(np.floor(wy))
        return (x, y) if 0 <= x < w and 0 <= y < h else None

    def cursor_bot(self) -> Cell | None:
        """The mesh cell (row, col) of the tile under the cursor."""
        cell = self.cursor_cell()
        if cell is None:
            return None
        assert self.live is not None
        tile = self.live.sim.config.mesh.tile
        return (cell[1] // tile, cell[0] // tile)

    def _bot_view(self, frame: MirrorFrame | None) -> BotView | None:
        bot = self.cursor_bot()
        if frame is None or bot is None:
            return None
        return next((b for b in frame.bots if (b.row, b.col) == bot), None)

    def _need_bot(self) -> Cell | None:
        bot = self.cursor_bot()
        if bot is None:
            self.say("point at the lattice first")
        return bot

    # -- key actions (named in KEYS) -------------------------------------------------------------

    def on_key(self, key: int, mods: int) -> None:
        """Run the key's action; refused ones (a layer that is off) say why instead."""
        action = self._actions.get(key)
        if action is None:
            return
        try:
            action()
        except BadInput as err:
            self.say(str(err))

    def _loop(self, control: str) -> None:
        assert self.live is not None
        self.live.loop.post(Control(control))  # type: ignore[arg-type]

    def toggle(self) -> None:
        """Space: pause or resume."""
        assert self.live is not None
        self._loop("toggle")
        self.say("running" if self.live.loop.paused else "paused")

    def step(self) -> None:
        """N / →: one tick (a running run pauses first, as on the web mirror)."""
        self._loop("pause")
        self._loop("step")

    def faster(self) -> None:
        """+: double the tick rate."""
        assert self.live is not None
        self._loop("faster")
        self.say(f"tick rate {min(self.live.loop.tick_rate * 2, 100000):g}/s")

    def slower(self) -> None:
        """-: halve the tick rate."""
        assert self.live is not None
        self._loop("slower")
        self.say(f"tick rate {max(self.live.loop.tick_rate / 2, 0.25):g}/s")

    def reseed(self) -> None:
        """R: a new random soup."""
        assert self.live is not None
        self.live.sim.post(Reseed())
        self.say("reseeded")

    def glider(self) -> None:
        """G: stamp a glider with its top-left at the cursor."""
        assert self.live is not None
        cell = self.cursor_cell()
        if cell is None:
            self.say("point at the lattice first")
            return
        self.live.sim.post(StampPattern("glider", np.asarray(self._glider), cell[0], cell[1]))
        self.say(f"glider at {cell[0]},{cell[1]}")

    def shard(self) -> None:
        """S: a shard from the bot under the cursor, carrying a held-out corpus text."""
        assert self.live is not None
        sim = self.live.sim
        if sim.net is None:
            raise BadInput("no shards in this run (tier 2 is off: set traffic.rate or --shards)")
        bot = self._need_bot()
        if bot is None:
            return
        text = self._rng.choice(sim.net.held_out)
        target: Cell | None = None
        if sim.config.route.router != "semantic":  # the shortest router needs a target bot
            mesh = sim.config.mesh
            target = (self._rng.randrange(mesh.rows), self._rng.randrange(mesh.cols))
        sim.inject(text, bot, target)
        to = "the most similar bot" if target is None else f"{target[0]},{target[1]}"
        self.say(f"shard from {bot[0]},{bot[1]} to {to}: {text[:50]}")

    def pulse(self) -> None:
        """P: pulse the bot under the cursor."""
        assert self.live is not None
        bot = self._need_bot()
        if bot is not None:
            self.live.sim.pulse(bot)
            self.say(f"pulse {bot[0]},{bot[1]}")

    def adapter(self) -> None:
        """A: the next resident adapter for the bot under the cursor (after the last: none)."""
        pointed = self._bot_adapter()
        if pointed is None:
            return
        bot, now, names = pointed
        cycle: list[str | None] = [*names, None]
        chosen = cycle[(cycle.index(now) + 1) % len(cycle)] if now in cycle else cycle[0]
        assert self.live is not None
        self.live.sim.select_adapter(bot, chosen)
        self.say(f"bot {bot[0]},{bot[1]} adapter {chosen or 'none'}")

    def wave(self) -> None:
        """W: a LoRA wave from the bot under the cursor, of its adapter (else the first one)."""
        pointed = self._bot_adapter()
        if pointed is None:
            return
        bot, now, names = pointed
        adapter = now or names[0]
        assert self.live is not None
        self.live.sim.start_wave(bot, adapter)
        self.say(f"wave of {adapter} from {bot[0]},{bot[1]}")

    def _bot_adapter(self) -> tuple[Cell, str | None, list[str]] | None:
        """The bot under the cursor, its active adapter and the resident ones (None: no bot)."""
        assert self.live is not None and self.picture is not None
        from systems.pulse import PulseSystem  # loads torch

        system = self.live.sim.schedule.get("pulse")
        if not isinstance(system, PulseSystem):
            raise BadInput("no LoRA adapters in this run (pulses are off: set pulse.enabled)")
        bot = self._need_bot()
        if bot is None:
            return None
        current = self._bot_view(self.picture.frame())
        return bot, (current.adapter or None) if current else None, list(system.model.names)

    def energy_overlay(self) -> None:
        """E: the energy heatmap on or off."""
        picture = self.picture
        assert picture is not None
        picture.energy = not picture.energy
        self.say(f"energy heatmap {'on' if picture.energy else 'off'}")

    def detect_overlay(self) -> None:
        """D: boxes and names of detected objects on or off."""
        live, picture = self.live, self.picture
        assert live is not None and picture is not None
        picture.detect = not picture.detect
        note = "" if live.sim.config.detect.enabled else " (detection is off: detect.enabled)"
        self.say(f"detected objects {'on' if picture.detect else 'off'}{note}")

    def fit(self) -> None:
        """F: the whole lattice in the window, below the HUD."""
        picture = self.picture
        assert picture is not None
        hud = picture.renderer.font.size(self.hud(None))[1] + HUD_PAD
        picture.fit(self.fb_size, top=hud)

    def help(self) -> None:
        """H: the help overlay on or off."""
        self.show_help = not self.show_help

    def quit(self) -> None:
        """Esc / Q: close the window."""
        self.request_close()

    # -- mouse and window ------------------------------------------------------------------------

    def on_drag(self, dx: float, dy: float) -> None:
        """Pan with the left button."""
        if self.picture is not None:
            self.picture.camera.pan(dx, dy)

    def on_scroll(self, steps: float, x: float, y: float) -> None:
        """Zoom at the cursor."""
        if self.picture is not None:
            self.picture.camera.zoom_at(zoom_factor(steps), x, y, self.fb_size)


def run_view(args: argparse.Namespace, config: Config) -> int:
    """Open the window, run until it closes (Esc, Q, SIGINT/SIGTERM, --ticks); exit code."""
    viewer = Viewer(args.size)
    run: LiveRun | None = None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        viewer.stop_requested = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    status = StatusLine()
    try:
        run = LiveRun(config, args.events, web=not args.no_web, ticks=args.ticks,
                      token=args.token, ctx=viewer.ctx, mirror=True,
                      tick_budget=config.loop.view_tick_budget)
        viewer.attach(run)
        if run.sim.net is not None:
            viewer.say("loading the embedding model ...")
            viewer.draw()
            viewer._glfw.swap_buffers(viewer.handle)
            print("loading the embedding model ...", file=sys.stderr, flush=True)
            run.load_model()
        if not args.no_web:
            host = args.host or config.serve.host
            port = config.serve.port if args.port is None else args.port
            url = run.start_web(host, port)
            print(f"web mirror on {url}", file=sys.stderr, flush=True)
            print(f"control token: {run.token}", file=sys.stderr, flush=True)
        sim = run.sim
        print(f"viewer: backend {sim.backend.name}, lattice {sim.shape[1]}x{sim.shape[0]}, "
              f"{config.tick_rate:g} ticks/s; press H for the keys", file=sys.stderr, flush=True)
        viewer.say("H shows the keys")
        viewer.run()
        status.show(status_text(sim, run.loop, run.url), force=True)
    finally:
        status.close()
        for s, handler in old.items():
            signal.signal(s, handler)
        try:
            if run is not None:
                if viewer.picture is not None:
                    viewer.picture.release()
                run.close()
        finally:
            viewer.destroy()
    return 0
