"""The native viewer: its renderer offscreen, its camera and keys, and the real window under Xvfb.

Offscreen tests draw with the renderer into a framebuffer of an EGL context and read it back.
The window tests start ``cybermesh view`` on a virtual display, press keys with xdotool, read
``/api/state`` for the loop's state, and read the screen (Xvfb keeps it in a file) to compare
what is drawn with the lattice the reference stepper computes for the same seed and tick.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from components.bot import BOT_STATES, STATE_COLOURS
from game.bench.web import mirror_process
from game.config import Config, load_config, override
from game.engine.frames import BotView
from game.errors import BadInput
from game.viewer.font import FIRST, LAST, read_atlas, write_atlas
from game.viewer.images import Image
from game.viewer.render import OBJECT_BOX, Camera, Renderer, Scene
from game.viewer.view import HUD_PAD, KEYS, Viewer, help_lines
from tests.conftest import need
from tests.helpers import open_gl_context
from tests.webrun import get_json, reference_lattice, wait_for
from tests.xvfb import Display, crop, virtual_display, xvfb_available

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
WINDOW = (800, 600)


def lattice_from_pixels(image: Image, camera: Camera, screen: tuple[int, int],
                        shape: tuple[int, int]) -> np.ndarray:
    """Read each cell back from the pixel at its centre: bright means alive."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w]
    px, py = camera.to_screen(xs + 0.5, ys + 0.5, screen)
    samples = image[np.floor(py).astype(int), np.floor(px).astype(int)]
    bright: np.ndarray = (samples.mean(axis=-1) > 128).astype(np.uint8)
    return bright


# -- offscreen: the renderer -------------------------------------------------------------------


@pytest.fixture
def gl() -> Iterator[Any]:
    ctx = open_gl_context()
    with ctx:
        yield ctx
    ctx.release()


def draw(ctx: Any, renderer: Renderer, scene: Scene, camera: Camera,
         screen: tuple[int, int]) -> Image:
    fbo = ctx.simple_framebuffer(screen)
    fbo.use()
    renderer.draw(scene, camera, screen)
    pixels = np.frombuffer(fbo.read(components=3), np.uint8).reshape(screen[1], screen[0], 3)
    fbo.release()
    return pixels[::-1]  # GL rows are bottom first


@pytest.mark.hardware
def test_renderer_draws_every_cell_and_the_bot_colours(gl: Any) -> None:
    shape, screen = (48, 64), (333, 257)  # odd sizes: no lucky alignment
    cells = (np.random.default_rng(3).random(shape) < 0.4).astype(np.uint8)
    renderer = Renderer(gl, (64, 48), 3, 4, 16, read_atlas())
    renderer.upload_cells(cells)
    bots = [BotView(r, c, BOT_STATES[(r * 4 + c) % len(BOT_STATES)], 0, "")
            for r in range(3) for c in range(4)]
    camera = Camera()
    for zoom_fit in (True, False):
        if zoom_fit:
            camera.fit((64, 48), screen)
        else:  # zoomed in and panned: only part of the lattice on screen
            camera.zoom_at(2.0, 100, 80, screen)
        image = draw(gl, renderer, Scene(bots=bots), camera, screen)
        drawn = lattice_from_pixels(np.pad(image, ((0, 2000), (0, 2000), (0, 0))), camera, screen,
                                    shape)
        xs: Any = np.arange(64) + 0.5
        ys: Any = np.arange(48) + 0.5
        cx, cy = camera.to_screen(xs, ys, screen)
        visible = np.outer((cy >= 0) & (cy < screen[1]), (cx >= 0) & (cx < screen[0]))
        assert visible.sum() > 500
        assert np.array_equal(drawn[visible], cells[visible])
    # The border of tile (row 1, col 2) in that bot's state colour, as the dashboard has it.
    camera.fit((64, 48), screen)
    image = draw(gl, renderer, Scene(bots=bots), camera, screen)
    dead_edge = next(y for y in range(16, 32) if not cells[y, 32])  # a dead cell on the edge
    x, y = camera.to_screen(32.1, dead_edge + 0.5, screen)
    state = BOT_STATES[(1 * 4 + 2) % len(BOT_STATES)]
    assert np.abs(image[int(y), int(x)].astype(int) - STATE_COLOURS[state]).max() <= 2
    renderer.release()


@pytest.mark.hardware
def test_renderer_overlays_and_hud(gl: Any) -> None:
    from game.engine.frames import PatternView

    screen = (400, 300)
    renderer = Renderer(gl, (80, 80), 5, 5, 16, read_atlas())
    renderer.upload_cells(np.zeros((80, 80), np.uint8))
    energy = np.zeros((80, 80), np.float32)
    energy[40:50, 10:20] = 1.0
    renderer.upload_energy(energy)
    camera = Camera()
    camera.fit((80, 80), screen)
    plain = draw(gl, renderer, Scene(), camera, screen)
    heat = draw(gl, renderer, Scene(energy=True, energy_max=1.0), camera, screen)
    x, y = (int(v) for v in camera.to_screen(15, 45, screen))
    assert heat[y, x, 0] > plain[y, x, 0] + 100  # hot cells turn red-yellow
    x, y = (int(v) for v in camera.to_screen(60, 20, screen))
    assert np.array_equal(heat[y, x], plain[y, x])  # cold ones stay as they were
    objects = [PatternView(30, 30, 2, 2, "xs4_33")]
    shown = draw(gl, renderer, Scene(patterns=objects, detect=True), camera, screen)
    hidden = draw(gl, renderer, Scene(patterns=objects, detect=False), camera, screen)
    box = np.round(np.array(OBJECT_BOX[:3]) * 255)
    near = (np.abs(shown.astype(int) - box).max(axis=-1) < 40).sum()
    assert near > 10 and (np.abs(hidden.astype(int) - box).max(axis=-1) < 40).sum() == 0
    text = draw(gl, renderer, Scene(hud=["tick 12345"]), camera, screen)
    font = renderer.font
    w, h = font.size(["tick 12345"])
    assert (text[:int(h), :int(w)].max(axis=-1) > 200).sum() > 40  # glyphs, bright
    renderer.release()


# -- the camera, the font, the keys ----------------------------------------------------------


@pytest.mark.unit
def test_camera_maps_both_ways_and_zooms_about_the_cursor() -> None:
    screen = (1000, 700)
    camera = Camera()
    camera.fit((80, 80), screen, top=84)
    x0, y0 = camera.to_screen(0, 0, screen)
    x1, y1 = camera.to_screen(80, 80, screen)
    assert y0 >= 84 and y1 <= 700 and x0 >= 0 and x1 <= 1000  # below the HUD, on screen
    assert abs((x0 + x1) / 2 - 500) < 1e-9
    for px, py in ((0, 0), (512.5, 300.25), (999, 699)):
        wx, wy = camera.to_world(px, py, screen)
        assert np.allclose(camera.to_screen(wx, wy, screen), (px, py))
    before = camera.to_world(250, 600, screen)
    camera.zoom_at(4.0, 250, 600, screen)
    assert np.allclose(camera.to_world(250, 600, screen), before)
    zoom = camera.zoom
    camera.pan(30, -20)
    assert np.allclose(camera.to_world(280, 580, screen), before) and camera.zoom == zoom
    camera.zoom_at(1e9, 0, 0, screen)
    assert camera.zoom == 64.0


@pytest.mark.unit
def test_font_atlas_round_trip_and_bad_files(tmp_path: Path) -> None:
    atlas = read_atlas()
    assert atlas.pixels.shape == (6 * atlas.cell_h, 16 * atlas.cell_w)
    assert atlas.glyph("A") == ord("A") - FIRST and atlas.glyph("é") == ord("?") - FIRST
    assert LAST - FIRST + 1 <= 6 * 16
    glyphs = atlas.layout(["ab", " c"], 10, 20)
    cw, ch = atlas.cell_w, atlas.cell_h
    assert glyphs.tolist() == [[10, 20, ord("a") - FIRST], [10 + cw, 20, ord("b") - FIRST],
                               [10 + cw, 20 + ch, ord("c") - FIRST]]
    copy = tmp_path / "font.pgm"
    write_atlas(copy, atlas.pixels, atlas.cell_w, atlas.cell_h, "test")
    assert np.array_equal(read_atlas(copy).pixels, atlas.pixels)
    bad = tmp_path / "bad.pgm"
    bad.write_bytes(copy.read_bytes()[:-10])
    with pytest.raises(BadInput, match="not a HUD font atlas"):
        read_atlas(bad)
    with pytest.raises(BadInput, match="cannot read"):
        read_atlas(tmp_path / "missing.pgm")


@pytest.mark.unit
def test_every_key_has_a_method_and_a_help_line() -> None:
    import glfw

    seen: set[str] = set()
    for key in KEYS:
        assert callable(getattr(Viewer, key.action)), key.action
        for name in key.names:
            assert hasattr(glfw, f"KEY_{name}"), name
            assert name not in seen, f"{name} bound twice"
            seen.add(name)
    text = "\n".join(help_lines())
    assert all(k.does in text for k in KEYS)
    # The keys, Golly's where Golly has them.
    for name in ("SPACE", "N", "RIGHT", "EQUAL", "MINUS", "R", "G", "S", "P", "A", "W", "E", "D",
                 "H", "ESCAPE", "Q"):
        assert name in seen


@pytest.mark.integration
def test_view_without_a_display_exits_2_with_one_line() -> None:
    env = {k: v for k, v in ENV.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "game.app.cli", "view", "--no-web"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "cybermesh serve" in lines[0]


# -- the window under Xvfb ---------------------------------------------------------------------


@contextmanager
def viewer(display: Display, tmp_path: Path, *args: str) -> Iterator[tuple[Any, str, str]]:
    """``cybermesh view`` on ``display``: (process, window id, mirror URL)."""
    events = tmp_path / "events.jsonl"
    with mirror_process("view", "--port", "0", "--backend", "numpy",
                        "--size", f"{WINDOW[0]}x{WINDOW[1]}", "--events", str(events),
                        "--set", "loop.degrade=false", *args,
                        env=display.env) as (proc, url):
        wid, _, _ = display.window("CyberMesh")
        display.xdotool("mousemove", "0", "0")  # over the HUD: no bot line, no cursor effects
        yield proc, wid, url


def state(url: str) -> dict[str, Any]:
    result: dict[str, Any] = get_json(url + "/api/state")
    return result


def view_config(seed: int) -> Config:
    return override(override(load_config(None), "seed", seed), "lattice.backend", "numpy")


def window_image(display: Display, wid: str) -> Image:
    _, x, y = display.window("CyberMesh")
    return crop(display.screenshot(), x, y, *WINDOW)


def fitted_camera() -> Camera:
    """The viewer's camera at start: the lattice fitted below three HUD lines (no bots)."""
    camera = Camera()
    font = read_atlas()
    camera.fit((80, 80), WINDOW, top=font.size(["x"] * 3)[1] + HUD_PAD)
    return camera


@pytest.mark.hardware
def test_keys_pause_step_resume_and_change_the_rate(tmp_path: Path) -> None:
    need(xvfb_available(), "Xvfb and xdotool are not installed")
    with virtual_display() as display, viewer(display, tmp_path, "--seed", "4") as (proc, wid,
                                                                                    url):
        wait_for(lambda: state(url)["tick"] > 5, 30, "ticks")
        display.key(wid, "space")
        wait_for(lambda: state(url)["paused"], 10, "a pause")
        frozen = state(url)["tick"]
        time.sleep(0.6)
        assert state(url)["tick"] == frozen
        display.key(wid, "n")
        wait_for(lambda: state(url)["tick"] == frozen + 1, 10, "one step")
        display.key(wid, "Right")
        wait_for(lambda: state(url)["tick"] == frozen + 2, 10, "another step")
        time.sleep(0.3)
        assert state(url)["tick"] == frozen + 2 and state(url)["paused"]
        rate = state(url)["tick_rate"]
        display.key(wid, "plus")
        wait_for(lambda: state(url)["tick_rate"] == rate * 2, 10, "a doubled rate")
        display.key(wid, "minus", "minus")
        wait_for(lambda: state(url)["tick_rate"] == rate / 2, 10, "a halved rate")
        display.key(wid, "space")
        wait_for(lambda: not state(url)["paused"], 10, "resume")
        wait_for(lambda: state(url)["tick"] > frozen + 5, 10, "ticks after resume")
        display.key(wid, "q")
        assert proc.wait(timeout=20) == 0
    last = (tmp_path / "events.jsonl").read_text().splitlines()[-1]
    assert '"kind":"stop"' in last


@pytest.mark.hardware
def test_window_shows_the_lattice_and_overlays_toggle(tmp_path: Path) -> None:
    need(xvfb_available(), "Xvfb and xdotool are not installed")
    seed = 6
    with virtual_display() as display, viewer(display, tmp_path, "--seed", str(seed)) as (
            proc, wid, url):
        # Past the second detection tick: the census taken at the first joins there.
        wait_for(lambda: state(url)["tick"] > 2 * Config().detect.every + 8, 30, "ticks")
        display.key(wid, "space")
        wait_for(lambda: state(url)["paused"], 10, "a pause")
        tick = state(url)["tick"]
        time.sleep(3.5)  # the key's message at the bottom fades
        image = window_image(display, wid)
        Path("test-results").mkdir(exist_ok=True)
        from game.viewer.images import write_png

        write_png(Path("test-results/viewer.png"), image)
        camera = fitted_camera()
        drawn = lattice_from_pixels(image, camera, WINDOW, (80, 80))
        expected = reference_lattice(view_config(seed), tick)
        assert expected.sum() > 100
        assert np.array_equal(drawn, expected), f"{(drawn != expected).sum()} cells differ"

        x0, y0 = (int(v) for v in camera.to_screen(0, 0, WINDOW))
        x1, y1 = (int(v) for v in camera.to_screen(80, 80, WINDOW))
        y1 = min(y1, WINDOW[1] - 40)  # above the message line

        def lattice_area() -> Image:
            return window_image(display, wid)[y0:y1, x0:x1].astype(int)

        def hot(img: Image) -> int:
            red, green, blue = img[..., 0], img[..., 1], img[..., 2]
            return int(((red > 60) & (red > green + 40) & (red > blue + 30)).sum())

        def boxes(img: Image) -> int:
            colour = np.round(np.array(OBJECT_BOX[:3]) * 255)
            return int((np.abs(img - colour).max(axis=-1) < 40).sum())

        before = lattice_area()
        assert hot(before) == 0 and boxes(before) == 0
        display.key(wid, "e")
        wait_for(lambda: hot(lattice_area()) > 200, 10, "the energy heatmap")
        display.key(wid, "e")
        wait_for(lambda: hot(lattice_area()) == 0, 10, "the heatmap gone")
        display.key(wid, "d")
        wait_for(lambda: boxes(lattice_area()) > 50, 10, "object boxes")
        display.key(wid, "d")
        wait_for(lambda: boxes(lattice_area()) == 0, 10, "object boxes gone")

        def dark_centre() -> float:
            centre = window_image(display, wid)[250:350, 300:500]
            return float((centre.max(axis=-1) < 12).mean())

        plain = dark_centre()
        display.key(wid, "h")
        wait_for(lambda: dark_centre() > plain + 0.3, 10, "the help panel")
        display.key(wid, "h")
        wait_for(lambda: dark_centre() < plain + 0.1, 10, "the help panel gone")
        assert state(url)["tick"] == tick  # toggles never tick
        display.key(wid, "Escape")
        assert proc.wait(timeout=20) == 0
