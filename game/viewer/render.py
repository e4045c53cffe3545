"""The viewer's renderer: the lattice, its overlays and the HUD on a moderngl context.

It draws a :class:`Scene` (what the simulation looks like now, plus the HUD's text) through a
:class:`Camera` into whatever framebuffer is bound: the window's, or an offscreen one in tests
and in ``cybermesh bench --scenario view``. Three programs from ``shaders/``: the lattice pass
(cells, energy heatmap, tile borders in the bots' state colours), coloured shapes (shards and
their trails, glider and object boxes, HUD panels) and bitmap-font text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from components.bot import BOT_STATES, STATE_COLOURS
from game.engine.frames import BotView, GliderView, PatternView, ShardView
from game.glcontext import load_shader
from game.viewer.font import COLUMNS, FontAtlas

if TYPE_CHECKING:
    import moderngl

Colour = tuple[float, float, float, float]


def _hex(code: str, alpha: float = 1.0) -> Colour:
    return (int(code[1:3], 16) / 255, int(code[3:5], 16) / 255, int(code[5:7], 16) / 255, alpha)


# The dashboard's palette (web/static/draw.js), so both pictures of a run look alike.
BACKGROUND: Final = _hex("#010409")
PANEL: Final[Colour] = (0.0, 0.0, 0.0, 0.72)
TEXT: Final = _hex("#e6edf3")
MESSAGE: Final = _hex("#f2cc60")
GLIDER_BOX: Final = _hex("#f2cc60", 0.95)
OBJECT_BOX: Final = _hex("#58a6ff", 0.85)
MEMORY_SHARD: Final = _hex("#39d3f2")
ADAPTER_SHARD: Final = _hex("#ff7ad9")
GLIDER_HALF: Final = 2.5  # a glider box is 5×5 cells around the track's centre
LABEL_MIN_ZOOM: Final = 6.0  # object names are drawn from this many pixels per cell
TRAIL: Final = 6  # positions kept per shard for its trail
MIN_ZOOM: Final = 0.05  # pixels per cell
MAX_ZOOM: Final = 64.0


def state_colour(state: str) -> tuple[float, float, float]:
    """The viewer's colour of a bot state (the dashboard's, from :data:`STATE_COLOURS`)."""
    rgb = STATE_COLOURS.get(state, (255, 255, 255))  # type: ignore[call-overload]
    return (rgb[0] / 255, rgb[1] / 255, rgb[2] / 255)


@dataclass(slots=True)
class Camera:
    """Which part of the lattice is on screen.

    World point (x, y) is at the centre, ``zoom`` screen pixels per cell. World units are cells,
    y down (row order), like the lattice.
    """

    x: float = 0.0
    y: float = 0.0
    zoom: float = 8.0

    def fit(self, world: tuple[int, int], screen: tuple[int, int], top: float = 0.0,
            margin: float = 0.96) -> None:
        """Fit the ``world`` (width, height in cells) in the screen below ``top`` pixels."""
        height = max(1.0, screen[1] - top)
        self.zoom = self._clamp(margin * min(screen[0] / world[0], height / world[1]))
        self.x = world[0] / 2
        self.y = world[1] / 2 - top / (2 * self.zoom)

    def view(self, screen: tuple[int, int]) -> tuple[float, float, float, float]:
        """The world→NDC map as (scale x, scale y, offset x, offset y) for the shaders."""
        sx, sy = 2 * self.zoom / screen[0], -2 * self.zoom / screen[1]
        return (sx, sy, -self.x * sx, -self.y * sy)

    def to_world(self, px: float, py: float, screen: tuple[int, int]) -> tuple[float, float]:
        """The world point under framebuffer pixel (px, py)."""
        return (self.x + (px - screen[0] / 2) / self.zoom,
                self.y + (py - screen[1] / 2) / self.zoom)

    def to_screen(self, wx: float, wy: float, screen: tuple[int, int]) -> tuple[float, float]:
        """The framebuffer pixel of world point (wx, wy)."""
        return ((wx - self.x) * self.zoom + screen[0] / 2,
                (wy - self.y) * self.zoom + screen[1] / 2)

    def pan(self, dx: float, dy: float) -> None:
        """Move the picture by (dx, dy) pixels (a drag)."""
        self.x -= dx / self.zoom
        self.y -= dy / self.zoom

    def zoom_at(self, factor: float, px: float, py: float, screen: tuple[int, int]) -> None:
        """Zoom by ``factor`` keeping the world point under pixel (px, py) where it is."""
        wx, wy = self.to_world(px, py, screen)
        self.zoom = self._clamp(self.zoom * factor)
        self.x = wx - (px - screen[0] / 2) / self.zoom
        self.y = wy - (py - screen[1] / 2) / self.zoom

    def _clamp(self, zoom: float) -> float:
        return min(MAX_ZOOM, max(MIN_ZOOM, zoom))


@dataclass(slots=True)
class Scene:
    """What one frame shows: the simulation's objects (the mirror's views) and the HUD."""

    tick: int = 0
    bots: list[BotView] = field(default_factory=list)
    shards: list[ShardView] = field(default_factory=list)
    gliders: list[GliderView] = field(default_factory=list)
    patterns: list[PatternView] = field(default_factory=list)
    energy: bool = False
    energy_max: float = 0.0
    detect: bool = False
    hud: list[str] = field(default_factory=list)
    message: str = ""
    help: list[str] = field(default_factory=list)


class Shapes:
    """Coloured vertices gathered for one draw call: ``[x, y, r, g, b, a]`` rows."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, ...]] = []

    def add(self, x: float, y: float, colour: Colour) -> None:
        """One vertex."""
        self.rows.append((x, y, *colour))

    def box(self, x0: float, y0: float, x1: float, y1: float, colour: Colour) -> None:
        """A rectangle's outline as four line segments."""
        corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        for i in range(4):
            self.add(*corners[i], colour)
            self.add(*corners[(i + 1) % 4], colour)

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: Colour) -> None:
        """A filled rectangle as two triangles."""
        for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y0), (x1, y1), (x0, y1)):
            self.add(x, y, colour)

    def array(self) -> npt.NDArray[np.float32]:
        """The vertices as float32 rows."""
        return np.array(self.rows, np.float32).reshape(-1, 6)


class Renderer:
    """Draws scenes of one run (a lattice of ``size`` cells in ``rows``×``cols`` tiles)."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int], rows: int, cols: int,
                 tile: int, font: FontAtlas) -> None:
        import moderngl

        self.ctx = ctx
        self.size = size
        self.rows, self.cols, self.tile = rows, cols, tile
        self.font = font
        width, height = size
        self._lattice = ctx.program(vertex_shader=load_shader("view_lattice.vert"),
                                    fragment_shader=load_shader("view_lattice.frag"))
        self._shapes = ctx.program(vertex_shader=load_shader("view_shapes.vert"),
                                   fragment_shader=load_shader("view_shapes.frag"))
        self._text = ctx.program(vertex_shader=load_shader("view_text.vert"),
                                 fragment_shader=load_shader("view_text.frag"))
        self._cells = ctx.texture((width, height), 1, dtype="u1")
        self._cells.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._energy = ctx.texture((width, height), 1, dtype="f4")
        self._energy.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._bots = ctx.texture((cols, rows), 4, dtype="f1")  # f1: normalised RGBA8
        self._bots.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._bots.write(np.zeros((rows, cols, 4), np.uint8).tobytes())
        self._bots_key: tuple[object, ...] | None = None
        self._atlas = ctx.texture((font.pixels.shape[1], font.pixels.shape[0]), 1,
                                  data=np.ascontiguousarray(font.pixels).tobytes(), dtype="f1",
                                  alignment=1)
        self._atlas.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._external: moderngl.Texture | None = None
        self._quad = ctx.vertex_array(self._lattice, [])
        self._shape_buf = ctx.buffer(reserve=6 * 4 * 1024, dynamic=True)
        self._shape_vao = ctx.vertex_array(self._shapes,
                                           [(self._shape_buf, "2f 4f", "in_pos", "in_colour")])
        self._glyph_buf = ctx.buffer(reserve=3 * 4 * 1024, dynamic=True)
        self._glyph_vao = ctx.vertex_array(self._text, [(self._glyph_buf, "3f/i", "in_glyph")])
        self._lattice["u_cells"] = 0
        self._lattice["u_energy"] = 1
        self._lattice["u_bots"] = 2
        self._lattice["u_size"] = (float(width), float(height))
        self._lattice["u_tile"] = float(tile)
        self._text["u_atlas"] = 3
        self._text["u_cell"] = (float(font.cell_w), float(font.cell_h))
        self._text["u_columns"] = COLUMNS
        self._trails: dict[int, list[tuple[float, float]]] = {}
        self._trail_tick = -1
        # Per-state colours as bytes, for filling the bot texture with one lookup.
        self._palette = np.array([(*STATE_COLOURS[s], 255) for s in BOT_STATES] + [(0, 0, 0, 0)],
                                 np.uint8)

    # -- what the lattice pass samples ---------------------------------------------------------

    def upload_cells(self, cells: npt.NDArray[np.uint8]) -> None:
        """Copy the lattice (H×W, 0/1) into the renderer's texture."""
        self._external = None
        self._cells.write(np.ascontiguousarray(cells, np.uint8).tobytes())

    def use_texture(self, texture: moderngl.Texture) -> None:
        """Sample the lattice from ``texture`` (the gl backend's own R8UI texture: no copy)."""
        self._external = texture

    def upload_energy(self, field_: npt.NDArray[np.float32]) -> None:
        """Copy the energy field (H×W float32) into the renderer's texture."""
        self._energy.write(np.ascontiguousarray(field_, np.float32).tobytes())

    def _upload_bots(self, bots: list[BotView]) -> None:
        key = tuple((b.row, b.col, b.state) for b in bots)
        if key == self._bots_key:
            return
        self._bots_key = key
        index: dict[str, int] = {s: i for i, s in enumerate(BOT_STATES)}
        states = np.full((self.rows, self.cols), len(BOT_STATES), np.intp)
        for b in bots:
            states[b.row, b.col] = index.get(b.state, len(BOT_STATES))
        self._bots.write(self._palette[states].tobytes())

    # -- drawing -------------------------------------------------------------------------------

    def draw(self, scene: Scene, camera: Camera, screen: tuple[int, int]) -> None:
        """Draw ``scene`` through ``camera`` into the bound framebuffer of ``screen`` pixels."""
        import moderngl

        ctx = self.ctx
        ctx.viewport = (0, 0, *screen)
        ctx.clear(*BACKGROUND)
        ctx.enable(moderngl.BLEND | moderngl.PROGRAM_POINT_SIZE)
        ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        view = camera.view(screen)
        self._upload_bots(scene.bots)
        (self._external or self._cells).use(0)
        self._energy.use(1)
        self._bots.use(2)
        self._lattice["u_view"] = view
        self._lattice["u_px"] = camera.zoom
        self._lattice["u_energy_on"] = scene.energy
        self._lattice["u_energy_max"] = float(scene.energy_max)
        self._quad.render(moderngl.TRIANGLE_STRIP, vertices=4)
        self._draw_world(scene, camera, view)
        self._draw_hud(scene, camera, screen)

    def _shapes_call(self, shapes: Shapes, mode: int, view: tuple[float, ...],
                     point: float = 1.0, round_: bool = False) -> None:
        data = shapes.array()
        if not len(data):
            return
        raw = data.tobytes()
        if len(raw) > self._shape_buf.size:
            self._shape_buf.orphan(len(raw) * 2)
        self._shape_buf.write(raw)
        self._shapes["u_view"] = view
        self._shapes["u_point"] = point
        self._shapes["u_round"] = round_
        self._shape_vao.render(mode, vertices=len(data))

    def _draw_world(self, scene: Scene, camera: Camera, view: tuple[float, ...]) -> None:
        import moderngl

        lines = Shapes()
        for g in scene.gliders:
            lines.box(g.cx - GLIDER_HALF, g.cy - GLIDER_HALF, g.cx + GLIDER_HALF,
                      g.cy + GLIDER_HALF, GLIDER_BOX)
        if scene.detect:
            for p in scene.patterns:
                lines.box(p.x, p.y, p.x + p.w, p.y + p.h, OBJECT_BOX)
        self._update_trails(scene)
        points = Shapes()
        for s in scene.shards:
            colour = ADAPTER_SHARD if s.payload else MEMORY_SHARD
            trail = self._trails.get(s.id, [])
            for i in range(1, len(trail)):
                fade = (*colour[:3], 0.6 * i / len(trail))
                (ax, ay), (bx, by) = trail[i - 1], trail[i]
                if abs(ax - bx) + abs(ay - by) < self.tile * 2:  # not across the torus seam
                    lines.add(ax, ay, fade)
                    lines.add(bx, by, fade)
            points.add(s.x, s.y, colour)
        self._shapes_call(lines, moderngl.LINES, view)
        size = min(16.0, max(4.0, camera.zoom * 1.5))
        self._shapes_call(points, moderngl.POINTS, view, point=size, round_=True)

    def _update_trails(self, scene: Scene) -> None:
        if scene.tick == self._trail_tick:
            return
        self._trail_tick = scene.tick
        live = {s.id for s in scene.shards}
        self._trails = {k: v for k, v in self._trails.items() if k in live}
        for s in scene.shards:
            trail = self._trails.setdefault(s.id, [])
            if not trail or trail[-1] != (s.x, s.y):
                trail.append((s.x, s.y))
                del trail[:-TRAIL]

    def _draw_hud(self, scene: Scene, camera: Camera, screen: tuple[int, int]) -> None:
        import moderngl

        pixels = (2 / screen[0], -2 / screen[1], -1.0, 1.0)  # pixels (y down) -> NDC
        font, pad = self.font, 6.0
        panels = Shapes()
        texts: list[tuple[npt.NDArray[np.float32], Colour]] = []
        if scene.detect and camera.zoom >= LABEL_MIN_ZOOM:
            labels = []
            for p in scene.patterns[:400]:
                sx, sy = camera.to_screen(p.x, p.y + p.h, screen)
                if -50 < sx < screen[0] and 0 < sy < screen[1]:
                    labels.append(font.layout([p.apgcode], sx, sy + 1))
            if labels:
                texts.append((np.concatenate(labels), OBJECT_BOX))
        if scene.hud:
            w, h = font.size(scene.hud)
            panels.rect(0, 0, w + 2 * pad, h + 2 * pad, PANEL)
            texts.append((font.layout(scene.hud, pad, pad), TEXT))
        if scene.message:
            w, h = font.size([scene.message])
            y = screen[1] - h - 2 * pad
            panels.rect(0, y, w + 2 * pad, screen[1], PANEL)
            texts.append((font.layout([scene.message], pad, y + pad), MESSAGE))
        if scene.help:
            w, h = font.size(scene.help)
            x0 = max(0.0, (screen[0] - w) / 2 - pad)
            y0 = max(0.0, (screen[1] - h) / 2 - pad)
            panels.rect(x0, y0, x0 + w + 2 * pad, y0 + h + 2 * pad, (0.0, 0.0, 0.0, 0.85))
            texts.append((font.layout(scene.help, x0 + pad, y0 + pad), TEXT))
        self._shapes_call(panels, moderngl.TRIANGLES, pixels)
        self._text["u_screen"] = (float(screen[0]), float(screen[1]))
        self._text["u_scale"] = 1.0
        self._atlas.use(3)
        for glyphs, colour in texts:
            raw = glyphs.tobytes()
            if len(raw) > self._glyph_buf.size:
                self._glyph_buf.orphan(len(raw) * 2)
            self._glyph_buf.write(raw)
            self._text["u_colour"] = colour
            self._glyph_vao.render(moderngl.TRIANGLE_STRIP, vertices=4, instances=len(glyphs))

    def release(self) -> None:
        """Free the GL objects."""
        for obj in (self._quad, self._shape_vao, self._glyph_vao, self._shape_buf,
                    self._glyph_buf, self._cells, self._energy, self._bots, self._atlas,
                    self._lattice, self._shapes, self._text):
            obj.release()


def zoom_factor(steps: float) -> float:
    """The zoom change of ``steps`` wheel notches: √2 each, so two notches double it."""
    return math.pow(2.0, steps / 2)
