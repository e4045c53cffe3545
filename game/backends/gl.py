"""The ``gl`` lattice backend: a fragment-shader ping-pong on an OpenGL 3.3 core context.

The lattice lives in two R8UI textures (one byte per cell, 0 or 1). A generation is one full-screen
draw that reads the current texture with ``texelFetch`` and writes the next one through a
framebuffer; then the roles swap. Nothing is read back between generations, so ``step(n)`` queues
``n`` draws and returns; the readers (``get_cells``, ``births``, ``population``) are where the CPU
waits for the GPU.

Only fragment shaders and GLSL 3.30 are used so that the same path runs on macOS's GL 4.1 core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from game.cells import Cells
from game.errors import BackendUnavailable
from game.glcontext import load_shader
from game.rules import Rule

if TYPE_CHECKING:
    import moderngl


class GlBackend:
    """Life-like rule on an H×W torus, stepped by a fragment shader (``--backend gl``).

    ``ctx`` may be a context the caller already has (the viewer's window context, so it can draw
    :attr:`current_texture` without a copy); without one the backend creates a headless context and
    releases it in :meth:`close`.
    """

    name = "gl"

    def __init__(
        self, rule: Rule, shape: tuple[int, int], ctx: moderngl.Context | None = None
    ) -> None:
        height, width = (int(shape[0]), int(shape[1]))
        if height <= 0 or width <= 0:
            raise ValueError(f"lattice shape must be positive, got {shape}")
        self.rule = rule
        self.shape = (height, width)
        self._closed = False
        self._cur = 0
        # Births are "current & ~previous"; the previous texture means nothing until a step has run
        # since the last set_cells (or since construction).
        self._stepped = False
        self._textures: list[moderngl.Texture] = []
        self._fbos: list[moderngl.Framebuffer] = []
        self._program: moderngl.Program | None = None
        self._vao: moderngl.VertexArray | None = None

        if ctx is None:
            from game.glcontext import create_headless_context

            ctx = create_headless_context()
            self._owns_ctx = True
        else:
            self._owns_ctx = False
        self._ctx: moderngl.Context = ctx

        try:
            self._build(width, height)
        except BaseException:
            self.close()
            raise

    def _build(self, width: int, height: int) -> None:
        import moderngl

        ctx = self._ctx
        # Entering the context makes it current: several backends (tests, a viewer beside a
        # headless run) may each hold a context in one thread, and GL object names are per context.
        # glcontext's ``with`` does not nest: callers must not hold ``with ctx`` around these calls.
        with ctx:
            max_tex = int(ctx.info["GL_MAX_TEXTURE_SIZE"])
            max_vp = min(int(v) for v in ctx.info["GL_MAX_VIEWPORT_DIMS"])
            limit = min(max_tex, max_vp)
            if width > limit or height > limit:
                raise BackendUnavailable(
                    f"lattice {width}x{height} is larger than this GPU's {limit}x{limit} texture"
                    " limit; use --backend numpy"
                )
            self._program = ctx.program(
                vertex_shader=load_shader("life.vert"),
                fragment_shader=load_shader("life.frag"),
            )
            self._program["u_state"] = 0
            zeros = np.zeros(self.shape, dtype=np.uint8)
            for _ in range(2):
                # dtype "u1" is R8UI (an integer format), not the normalised R8 of "f1".
                tex = ctx.texture((width, height), 1, data=zeros, alignment=1, dtype="u1")
                # Integer textures are incomplete (and read as 0) under LINEAR filtering, and
                # must not be mipmapped; texelFetch ignores filtering but not completeness.
                tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
                self._textures.append(tex)
                self._fbos.append(ctx.framebuffer(color_attachments=[tex]))
            # An empty vertex array: the vertex shader builds its triangle from gl_VertexID.
            self._vao = ctx.vertex_array(self._program, [])

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("GlBackend is closed")

    @property
    def current_texture(self) -> moderngl.Texture:
        """The R8UI texture holding the live generation (the other one after the next step).

        Use it with :attr:`ctx` current: every backend method makes its context current only for
        the call and then restores whatever was current before (a viewer's own window context).
        """
        self._check_open()
        return self._textures[self._cur]

    @property
    def ctx(self) -> moderngl.Context:
        """The OpenGL context the textures belong to (enter it with ``with`` to use it directly)."""
        return self._ctx

    def _read(self, index: int) -> Cells:
        out: Cells = np.empty(self.shape, dtype=np.uint8)
        # alignment=1: rows are tightly packed; with the GL default of 4, widths that are not a
        # multiple of 4 would come back skewed.
        self._textures[index].read_into(out, alignment=1)
        return out

    def set_cells(self, cells: Cells) -> None:
        """Replace the whole lattice with ``cells`` (shape ``self.shape``; nonzero means alive)."""
        self._check_open()
        arr = np.asarray(cells)
        if arr.shape != self.shape:
            raise ValueError(f"cells have shape {arr.shape}, expected {self.shape}")
        # The shader sums raw texel values, so anything but 0/1 would miscount neighbours.
        data = np.ascontiguousarray(arr != 0, dtype=np.uint8)
        with self._ctx:
            self._textures[self._cur].write(data, alignment=1)
        self._stepped = False

    def get_cells(self) -> Cells:
        """Return a fresh uint8 (H, W) copy of the lattice."""
        self._check_open()
        with self._ctx:
            return self._read(self._cur)

    def step(self, generations: int = 1) -> None:
        """Advance by ``generations``: one draw per generation, no readback in between."""
        self._check_open()
        if generations < 0:
            raise ValueError(f"generations must be >= 0, got {generations}")
        if generations == 0:
            return
        assert self._program is not None and self._vao is not None
        with self._ctx:
            # Set on every call, not once: ``rule`` is a plain attribute a caller may reassign.
            self._program["u_birth"] = self.rule.birth_mask
            self._program["u_survive"] = self.rule.survive_mask
            for _ in range(generations):
                nxt = 1 - self._cur
                self._textures[self._cur].use(location=0)
                # Framebuffer.use() also sets the viewport to the texture size, which the shader
                # relies on to map gl_FragCoord to cells.
                self._fbos[nxt].use()
                self._vao.render(vertices=3)
                self._cur = nxt
        self._stepped = True

    def births(self) -> Cells:
        """Cells born in the most recent generation (all zero before any step)."""
        self._check_open()
        if not self._stepped:
            return np.zeros(self.shape, dtype=np.uint8)
        with self._ctx:
            current = self._read(self._cur)
            previous = self._read(1 - self._cur)
        born: Cells = current & ~previous  # cells hold 0/1, so ~previous is 255 where dead
        return born

    def population(self) -> int:
        """Return the number of live cells."""
        return int(np.count_nonzero(self.get_cells()))

    def close(self) -> None:
        """Release the GL objects, and the context when this backend created it; idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._ctx:
            objects: list[
                moderngl.VertexArray
                | moderngl.Program
                | moderngl.Framebuffer
                | moderngl.Texture
                | None
            ] = [self._vao, self._program]
            objects += [*self._fbos, *self._textures]
            for obj in objects:
                if obj is not None:
                    obj.release()
        self._vao = None
        self._program = None
        self._fbos = []
        self._textures = []
        if self._owns_ctx:
            self._ctx.release()
