"""Headless OpenGL contexts for the ``gl`` lattice backend and the ``auto`` backend probe.

moderngl is imported inside the functions, not at module level: importing it loads the GL loader
libraries, and the CLI's start-up (``--help``, the numpy backend) must not pay for that.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from game.errors import BackendUnavailable, one_line
from game.paths import SHADERS_DIR

if TYPE_CHECKING:
    import moderngl

#: The context version every GL path needs: 3.3 core is the floor that macOS's 4.1 core also meets.
REQUIRED_GL = 330

# Substrings (lower case) of GL_RENDERER naming CPU rasterisers: Mesa's llvmpipe / softpipe / swrast
# and e.g. "Apple Software Renderer". On these the numpy backend is faster than a fragment shader.
_SOFTWARE_MARKERS = ("llvmpipe", "softpipe", "swrast", "software")

# A driver's reason is quoted inside a longer error line: keep it short.
_REASON_CHARS = 160


def load_shader(name: str) -> str:
    """The GLSL source ``shaders/NAME``; a missing file raises :class:`BackendUnavailable`."""
    path = SHADERS_DIR / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        # The shaders are not Python package data: an install without the checkout lacks them.
        raise BackendUnavailable(f"GL shader {path} cannot be read ({exc.strerror})") from exc


def create_headless_context() -> moderngl.Context:
    """Create a standalone OpenGL 3.3+ core context without a window or display.

    EGL comes first because it needs no display server (Mesa's llvmpipe on a CI runner, a GPU
    over ssh); the platform default (GLX, WGL, CGL on macOS) is the fallback. The new context is
    current in the calling thread afterwards. Raises :class:`BackendUnavailable` with one line
    naming why each attempt failed.
    """
    try:
        import moderngl
    except ImportError as exc:  # a broken install, not bad input, but the user can only reinstall
        reason = one_line(exc, _REASON_CHARS)
        raise BackendUnavailable(
            f"OpenGL 3.3 is not available (moderngl cannot be imported: {reason})"
        ) from exc

    reasons: list[str] = []
    # Typed as Any: moderngl's stub annotates **settings as Dict[str, Any] per keyword (a stub bug).
    attempts: tuple[tuple[str, dict[str, Any]], ...] = (
        ("EGL", {"backend": "egl"}),
        ("default", {}),
    )
    for label, settings in attempts:
        try:
            ctx = moderngl.create_standalone_context(require=REQUIRED_GL, **settings)
        except Exception as exc:  # glcontext raises bare Exception/OSError/ValueError
            reasons.append(f"{label}: {one_line(exc, _REASON_CHARS)}")
            continue
        return ctx
    raise BackendUnavailable(f"OpenGL 3.3 is not available ({'; '.join(reasons)})")


def renderer_info(ctx: moderngl.Context) -> dict[str, str]:
    """Return ``GL_RENDERER``, ``GL_VENDOR`` and ``GL_VERSION`` of ``ctx`` as strings."""
    info = ctx.info
    return {key: str(info.get(key, "")) for key in ("GL_RENDERER", "GL_VENDOR", "GL_VERSION")}


def is_software_renderer(info: dict[str, str]) -> bool:
    """Tell whether ``info`` (from :func:`renderer_info`) names a CPU rasteriser (llvmpipe...)."""
    renderer = info.get("GL_RENDERER", "").lower()
    return any(marker in renderer for marker in _SOFTWARE_MARKERS)


def probe_hardware_gl() -> bool:
    """Tell whether a headless 3.3 context can be created and runs on a hardware GPU.

    Used by backend ``auto``: on a software renderer (or without GL at all) numpy is the faster
    choice, so any failure here means "no", never an error.
    """
    # The current GL context is per thread, and creating then releasing one would leave the
    # caller's thread with no usable current context (a viewer window's context would silently stop
    # being current). Probing in a throwaway thread leaves the caller's GL state untouched.
    result: list[bool] = []
    worker = threading.Thread(target=lambda: result.append(_probe()), name="gl-probe", daemon=True)
    worker.start()
    worker.join()
    return bool(result) and result[0]


def _probe() -> bool:
    try:
        ctx = create_headless_context()
    except BackendUnavailable:
        return False
    try:
        return not is_software_renderer(renderer_info(ctx))
    except Exception:  # a probe must fall back to numpy, never crash "auto"
        return False
    finally:
        ctx.release()
