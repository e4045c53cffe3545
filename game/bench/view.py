"""``cybermesh bench --scenario view``: the viewer's render time per frame.

The viewer's :class:`game.viewer.view.Picture` draws into an offscreen framebuffer of a
window's size on the same OpenGL as the window would use (llvmpipe here), every overlay on, while
the run ticks at its set rate in the same loop, as in ``cybermesh view``. Frames are paced at
60 Hz like a vsynced display. Per lattice size it reports the render time (CPU wall time of texture
uploads, draw calls and ``glFinish``: on a software renderer that is the rasterising) and the
GL timer query's figure, the tick time in the same frames, and the tick rate reached.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from game.config import Config, override
from game.stats import percentile

if TYPE_CHECKING:
    import moderngl

SCREEN: Final = (1280, 800)
FRAME_BUDGET_MS: Final = 1000 / 60
HUD_TOP: Final = 84.0  # about the viewer's four HUD lines

# name, mesh side, tile, backend, detection (at 1024² a full census every tick is the
# detect bench's business: here it is off, as the report says)
CASES: Final = (
    ("80x80", 5, 16, "numpy", True),
    ("1024x1024", 64, 16, "numpy", False),
    ("1024x1024 gl", 64, 16, "gl", False),
)


def _percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95 and max of ``values`` in milliseconds to 3 decimals (0.0 each when empty)."""
    return {"p50": round(percentile(values, 50), 3),
            "p95": round(percentile(values, 95), 3),
            "max": round(float(max(values, default=0.0)), 3)}


def _measure(ctx: moderngl.Context, fbo: moderngl.Framebuffer, query: moderngl.Query,
             cfg: Config, name: str, seconds: float) -> dict[str, Any]:
    """Tick and draw one case for ``seconds``, paced at 60 Hz."""
    from game.app.serve import LiveRun
    from game.viewer.view import Picture

    # The context is entered around the drawing only: the gl backend enters it for each of its
    # own calls, and glcontext's ``with`` does not nest.
    live = LiveRun(cfg, web=False, mirror=True, ctx=ctx, tick_budget=cfg.loop.view_tick_budget)
    with ctx:
        picture = Picture(ctx, live)
    picture.energy = picture.detect = True
    picture.fit(SCREEN, top=HUD_TOP)
    hud = [name, "bench", "bench", "bench"]
    render: list[float] = []
    gpu: list[float] = []
    ticking: list[float] = []
    try:
        for _ in range(5):  # shader compilation and first uploads
            live.loop.frame()
            with ctx:
                fbo.use()
                picture.draw(SCREEN, hud)
                ctx.finish()
        first_tick = live.sim.tick
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            if live.frame():
                ticking.append((time.perf_counter() - t0) * 1e3)
            t1 = time.perf_counter()
            with ctx:
                fbo.use()
                with query:
                    picture.draw(SCREEN, hud)
                ctx.finish()
            render.append((time.perf_counter() - t1) * 1e3)
            gpu.append(query.elapsed / 1e6)
            spare = 1 / 60 - (time.perf_counter() - t0)
            if spare > 0:
                time.sleep(spare)
        elapsed = time.perf_counter() - start
        ticks = live.sim.tick - first_tick
        return {
            "case": name, "lattice": list(live.sim.shape), "backend": live.sim.backend.name,
            "texture_shared": picture.shares_texture, "detect": cfg.detect.enabled,
            "frames": len(render), "fps": round(len(render) / elapsed, 1),
            "render_ms": _percentiles(render), "gl_query_ms": _percentiles(gpu),
            "tick_frame_ms": _percentiles(ticking),
            "tick_rate_set": cfg.tick_rate, "ticks_per_s": round(ticks / elapsed, 1),
            "within_frame": _percentiles(render)["p95"] <= FRAME_BUDGET_MS,
        }
    finally:
        with ctx:
            picture.release()
        live.close()


def scenario_view(args: argparse.Namespace, config: Config,
                  progress: Callable[[str], None]) -> dict[str, Any]:
    """Render each case for a few seconds with the run ticking beside it."""
    from game.glcontext import create_headless_context, renderer_info

    seconds = float(args.soak) if args.soak else (4.0 if args.quick else 15.0)
    ctx = create_headless_context()
    cases: list[dict[str, Any]] = []
    try:
        with ctx:
            info = renderer_info(ctx)
            fbo = ctx.framebuffer(color_attachments=[ctx.renderbuffer(SCREEN)])
            query = ctx.query(time=True)
        for name, side, tile, backend, detect in CASES:
            cfg = override(config, "mesh.rows", side)
            cfg = override(cfg, "mesh.cols", side)
            cfg = override(cfg, "mesh.tile", tile)
            cfg = override(cfg, "lattice.backend", backend)
            cfg = override(cfg, "detect.enabled", detect)
            cfg = override(cfg, "loop.degrade", False)  # the figures as set, not as paced
            progress(f"view: {name}")
            cases.append(_measure(ctx, fbo, query, cfg, name, seconds))
    finally:
        ctx.release()
    return {"renderer": info["GL_RENDERER"], "screen": list(SCREEN), "seconds": seconds,
            "overlays": "energy, detect, shards, gliders, HUD", "cases": cases,
            "frame_budget_ms": round(FRAME_BUDGET_MS, 2)}


def print_view(report: dict[str, Any]) -> None:
    """One row per lattice size."""
    w, h = report["screen"]
    print(f"view: render into {w}x{h} on {report['renderer']}, {report['seconds']:g} s per case, "
          f"paced at 60 Hz, overlays on ({report['overlays']})")
    print(f"{'case':<14}{'frames/s':>9}{'render p50':>11}{'p95':>8}{'max':>8}{'GL p50':>8}"
          f"{'tick ms/frame p95':>19}{'ticks/s':>9}{'set':>6}  texture")
    for c in report["cases"]:
        r, g, t = c["render_ms"], c["gl_query_ms"], c["tick_frame_ms"]
        print(f"{c['case']:<14}{c['fps']:>9.1f}{r['p50']:>11.2f}{r['p95']:>8.2f}{r['max']:>8.2f}"
              f"{g['p50']:>8.2f}{t['p95']:>19.2f}{c['ticks_per_s']:>9.1f}"
              f"{c['tick_rate_set']:>6g}  {'shared' if c['texture_shared'] else 'copied'}")
    for c in report["cases"]:
        verdict = "PASS" if c["within_frame"] else "FAIL"
        print(f"render p95 within a 60 Hz frame ({report['frame_budget_ms']} ms) at {c['case']}: "
              f"{c['render_ms']['p95']:.2f} ms {verdict}")
