"""Lattice backends behind one interface, and the choice between them (``--backend``)."""

from __future__ import annotations

import glob
import sys
from typing import TYPE_CHECKING

from game.backends.base import LifeBackend
from game.errors import BackendUnavailable
from game.rules import Rule

if TYPE_CHECKING:
    import moderngl

__all__ = ["LifeBackend", "choose_backend", "make_backend"]


def _may_have_gpu() -> bool:
    """Cheap pre-check: on Linux without a DRM render node or an NVIDIA device there is none."""
    if sys.platform.startswith("linux"):
        return bool(glob.glob("/dev/dri/renderD*") or glob.glob("/dev/nvidia[0-9]*"))
    return True


def choose_backend(name: str) -> str:
    """Resolve ``auto``: gl on a hardware GPU, numpy on a software renderer or without GL."""
    if name != "auto":
        return name
    if not _may_have_gpu():
        return "numpy"
    from game.glcontext import probe_hardware_gl

    return "gl" if probe_hardware_gl() else "numpy"


def make_backend(name: str, rule: Rule, shape: tuple[int, int],
                 ctx: moderngl.Context | None = None) -> LifeBackend:
    """Create the backend ``name`` (auto, numpy, gl, reference) for ``rule`` on an H×W torus.

    ``ctx``: the gl backend runs on this context (the viewer's window) instead of its own.
    """
    resolved = choose_backend(name)
    if resolved == "numpy":
        from game.backends.bitpacked import BitPackedBackend

        return BitPackedBackend(rule, shape)
    if resolved == "gl":
        from game.backends.gl import GlBackend

        return GlBackend(rule, shape, ctx)
    if resolved == "reference":
        from game.backends.reference import ReferenceBackend

        return ReferenceBackend(rule, shape)
    raise BackendUnavailable(f"unknown backend {name!r}: expected auto, numpy, gl or reference")
