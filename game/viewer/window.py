"""A glfw window with a moderngl context, in the manner of moderngl-window's ``WindowConfig``.

Subclasses override the ``on_*`` hooks; :meth:`Window.run` owns the loop (poll, ``on_frame``,
swap at the display's rate). The context is OpenGL 3.3 core, forward-compatible, so the same
code runs on macOS's 4.1 core profile. glfw is imported here only: a headless command never
loads it.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

from game.errors import BadInput

if TYPE_CHECKING:
    import moderngl

NO_DISPLAY = ("no display: cybermesh view needs a window ({why}); "
              "run `cybermesh serve` for a headless run with the web mirror")


class NoDisplay(BadInput):  # noqa: N818 - reads as what it is
    """No window can be opened here (no display server, or no OpenGL 3.3 for it)."""


def _glfw() -> Any:
    import glfw

    glfw.ERROR_REPORTING = "ignore"  # failures are checked where they matter, in one line
    return glfw


def display_available() -> bool:
    """Whether a window could be opened: a display server is named (macOS and Windows: yes)."""
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    """One window and its GL context; subclass and override the hooks.

    ``size`` is in screen coordinates; :attr:`fb_size` is the framebuffer in pixels (they differ
    on HiDPI screens), and every pixel position handed to a hook is in framebuffer pixels.
    """

    title = "CyberMesh"
    size = (1280, 800)
    vsync = True
    #: Frames per second at most: vsync paces a real display, this paces one that ignores the
    #: swap interval (Xvfb, some remote desktops) instead of spinning a core.
    max_fps = 60.0

    def __init__(self, size: tuple[int, int] | None = None, visible: bool = True) -> None:
        if not display_available():
            raise NoDisplay(NO_DISPLAY.format(why="DISPLAY and WAYLAND_DISPLAY are unset"))
        glfw = self._glfw = _glfw()
        if not glfw.init():
            raise NoDisplay(NO_DISPLAY.format(why=f"glfw cannot reach the display "
                                                  f"{os.environ.get('DISPLAY', '')!r}"))
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        glfw.window_hint(glfw.VISIBLE, visible)
        width, height = size or self.size
        self.handle = glfw.create_window(width, height, self.title, None, None)
        if not self.handle:
            glfw.terminate()
            raise NoDisplay(NO_DISPLAY.format(why="the display has no OpenGL 3.3 core context"))
        glfw.make_context_current(self.handle)
        glfw.swap_interval(1 if self.vsync else 0)
        from moderngl import create_context

        self.ctx: moderngl.Context = create_context(require=330)
        self.fb_size: tuple[int, int] = tuple(glfw.get_framebuffer_size(self.handle))
        self.cursor = (0.0, 0.0)
        self._buttons: set[int] = set()
        glfw.set_key_callback(self.handle, self._key)
        glfw.set_mouse_button_callback(self.handle, self._button)
        glfw.set_cursor_pos_callback(self.handle, self._cursor)
        glfw.set_scroll_callback(self.handle, self._scroll)
        glfw.set_framebuffer_size_callback(self.handle, self._resized)

    # -- hooks -----------------------------------------------------------------------------------

    def on_frame(self, now: float, dt: float) -> None:
        """Update and draw one frame (``dt``: seconds since the last frame)."""

    def on_key(self, key: int, mods: int) -> None:
        """A key was pressed (or repeats while held)."""

    def on_drag(self, dx: float, dy: float) -> None:
        """The cursor moved by (dx, dy) pixels with the left button held."""

    def on_scroll(self, steps: float, x: float, y: float) -> None:
        """The wheel turned ``steps`` notches (up positive) with the cursor at (x, y)."""

    def on_resize(self, width: int, height: int) -> None:
        """The framebuffer is now ``width`` × ``height`` pixels."""

    # -- loop ------------------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """Whether the window was asked to close (Esc, the close button, :meth:`request_close`)."""
        return bool(self._glfw.window_should_close(self.handle))

    def set_rate(self, fps: float) -> None:
        """Draw at most ``fps`` frames a second from now on (the pacer's knob)."""
        self.max_fps = max(1.0, fps)

    def request_close(self) -> None:
        """End :meth:`run` after the current frame."""
        self._glfw.set_window_should_close(self.handle, True)

    def run(self) -> None:
        """Poll, draw and swap until the window closes."""
        glfw = self._glfw
        last = time.perf_counter()
        while not self.closing:
            glfw.poll_events()
            now = time.perf_counter()
            self.on_frame(now, now - last)
            last = now
            glfw.swap_buffers(self.handle)
            spare = 1.0 / self.max_fps - (time.perf_counter() - now)
            if spare > 0:
                time.sleep(spare)

    def destroy(self) -> None:
        """Release the context and the window."""
        self.ctx.release()
        self._glfw.destroy_window(self.handle)
        self._glfw.terminate()

    # -- glfw callbacks ----------------------------------------------------------------------------

    def _scale(self) -> tuple[float, float]:
        win = self._glfw.get_window_size(self.handle)
        return (self.fb_size[0] / max(1, win[0]), self.fb_size[1] / max(1, win[1]))

    def _key(self, window: Any, key: int, scancode: int, action: int, mods: int) -> None:
        if action in (self._glfw.PRESS, self._glfw.REPEAT):
            self.on_key(key, mods)

    def _button(self, window: Any, button: int, action: int, mods: int) -> None:
        if action == self._glfw.PRESS:
            self._buttons.add(button)
        else:
            self._buttons.discard(button)

    def _cursor(self, window: Any, x: float, y: float) -> None:
        sx, sy = self._scale()
        x, y = x * sx, y * sy
        if self._glfw.MOUSE_BUTTON_LEFT in self._buttons:
            self.on_drag(x - self.cursor[0], y - self.cursor[1])
        self.cursor = (x, y)

    def _scroll(self, window: Any, dx: float, dy: float) -> None:
        self.on_scroll(dy, *self.cursor)

    def _resized(self, window: Any, width: int, height: int) -> None:
        self.fb_size = (width, height)
        self.on_resize(width, height)
