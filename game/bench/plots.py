"""PNG plots of ``cybermesh bench --scenario full`` reports, for people (``--plot DIR``).

Drawn with matplotlib's object API on the Agg canvas: no display, no pyplot state. Each figure is
1200 px wide (12 in at 100 dpi) with a title, axis labels with units and a legend:

* ``bench-full-systems.png``: each system's milliseconds per tick stacked over the timed ticks
  (rolling mean), the whole tick's rolling p95 and the 5 ms budget line;
* ``bench-full-percentiles.png``: each system's p50 and p95 (and the whole tick's) as bars;
* ``bench-full-scaling.png`` (``--scaling``): ms per tick against lattice cells (log-log) and
  against shards in flight, and each system's share of the tick at each row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before any other matplotlib import: never a display

import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from game.bench.scenario import Report  # noqa: E402
from game.engine.schedule import TICK_ORDER  # noqa: E402
from game.files import writable_dir, write_bytes  # noqa: E402

#: Pixels per inch of every PNG; figures are 12 in wide, so 1200 px.
DPI = 100
WIDTH_IN = 12.0
#: The p95 budget of one tick at 5x5 (issue 9), drawn on the stack plot.
BUDGET_MS = 5.0

SYSTEMS_PNG = "bench-full-systems.png"
PERCENTILES_PNG = "bench-full-percentiles.png"
SCALING_PNG = "bench-full-scaling.png"


def system_colour(phase: str) -> Any:
    """The same colour for a system in every plot (tab10, by its place in the tick order)."""
    cmap = matplotlib.colormaps["tab10"]
    index = TICK_ORDER.index(phase) if phase in TICK_ORDER else len(TICK_ORDER)
    return cmap(index % 10)


def rolling_mean(values: Sequence[float], window: int) -> np.ndarray:
    """The trailing mean of ``values`` over ``window`` points (shorter at the start)."""
    x = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(x) == 0:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    n = np.arange(1, len(x) + 1)
    lo = np.maximum(n - window, 0)
    out: np.ndarray = (c[n] - c[lo]) / (n - lo)
    return out


def rolling_quantile(values: Sequence[float], window: int, q: float) -> np.ndarray:
    """The trailing ``q`` quantile of ``values`` over ``window`` points."""
    x = np.asarray(values, dtype=np.float64)
    return np.array([np.quantile(x[max(0, i - window + 1): i + 1], q) for i in range(len(x))])


def _ms(value: float) -> str:
    """Milliseconds with the digits that matter at that size."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def _title(report: Report) -> str:
    s = report["settings"]
    work = (f"{s['shards_target']} shards in flight" if s["shards_target"] is not None
            else f"{s['traffic_rate']:g} shards/tick")
    pace = f", paced at {s['rate']:g} ticks/s" if s.get("rate") else ""
    return (f"{s['mesh'][0]}x{s['mesh'][1]} mesh, {s['lattice'][0]}x{s['lattice'][1]} lattice, "
            f"{work}, pulses every {s['pulse_every']}, a wave every {s['wave_every']}, detect "
            f"every {s['detect_every']}{pace}")


def _save(fig: Figure, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    write_bytes(path, buf.getvalue(), "a plot")
    return path


def systems_stack(report: Report, path: Path) -> Path:
    """(a) Each system's ms per tick, stacked, over the timed ticks (rolling mean)."""
    series = report["series"]
    phases = [p for p in report["systems"] if p in series]
    ticks = len(series["tick"])
    window = min(ticks, max(5, ticks // 60))
    x = np.arange(series["first_tick"], series["first_tick"] + ticks)
    fig = Figure(figsize=(WIDTH_IN, 6.0), layout="constrained")
    ax = fig.add_subplot()
    ys = [rolling_mean(series[p], window) for p in phases]
    ax.stackplot(x, *ys, labels=phases, colors=[system_colour(p) for p in phases], alpha=0.85)
    ax.plot(x, rolling_quantile(series["tick"], max(window, 20), 0.95), color="black", lw=1.2,
            label=f"whole tick, rolling p95 ({max(window, 20)} ticks)")
    ax.axhline(BUDGET_MS, color="crimson", ls="--", lw=1.2,
               label=f"{BUDGET_MS:g} ms budget (tick p95 goal at 5x5)")
    every = report["settings"]["wave_every"]
    waves = [t for t in x if every and t % every == 0]
    for i, t in enumerate(waves):
        ax.axvline(t, color="grey", ls=":", lw=0.8, label="a wave starts" if i == 0 else None)
    ax.set_xlim(x[0], x[-1] if ticks > 1 else x[0] + 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("tick")
    ax.set_ylabel(f"ms per tick (rolling mean of {window} ticks)")
    ax.set_title(f"Where a tick's time goes: {_title(report)}", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, title="system")
    return _save(fig, path)


def systems_percentiles(report: Report, path: Path) -> Path:
    """(b) Each system's p50 and p95 ms per tick (and the whole tick's), as bars."""
    systems = report["systems"]
    names = [*systems, "tick"]
    p50 = [systems[p]["p50"] for p in systems] + [report["tick_ms"]["p50"]]
    p95 = [systems[p]["p95"] for p in systems] + [report["tick_ms"]["p95"]]
    y = np.arange(len(names))
    fig = Figure(figsize=(WIDTH_IN, 0.45 * len(names) + 1.8), layout="constrained")
    ax = fig.add_subplot()
    h = 0.4
    ax.barh(y - h / 2, p50, h, label="p50", color="#4c72b0")
    ax.barh(y + h / 2, p95, h, label="p95", color="#dd8452")
    top = max([*p95, 1e-3])
    for yy, a, b in zip(y, p50, p95, strict=True):
        ax.text(a + top * 0.005, float(yy) - h / 2, _ms(a), va="center", fontsize=8)
        ax.text(b + top * 0.005, float(yy) + h / 2, _ms(b), va="center", fontsize=8)
    if report["settings"]["mesh"] == [5, 5]:
        ax.axvline(BUDGET_MS, color="crimson", ls="--", lw=1.2,
                   label=f"{BUDGET_MS:g} ms (tick p95 goal at 5x5)")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.15)
    ax.set_xlabel("ms per tick")
    ax.set_title(f"Per-system p50 / p95 over {report['ticks']} ticks: {_title(report)}",
                 fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return _save(fig, path)


def _one_two_five(value: float, _pos: int | None = None) -> str:
    """A log axis label at 1, 2 and 5 times a power of ten (others blank: no overlap)."""
    if value <= 0:
        return ""
    lead = value / 10 ** np.floor(np.log10(value))
    if not any(abs(lead - m) < 1e-6 for m in (1, 2, 5)):
        return ""
    return f"{value:,.0f}" if value >= 10 else f"{value:g}"


def _curve(ax: Axes, xs: Sequence[float], rows: Sequence[Report], labels: Sequence[str]) -> None:
    for key, style, name in (("tick_p50_ms", "o-", "p50"), ("tick_p95_ms", "s--", "p95"),
                             ("tick_mean_ms", "^:", "mean")):
        ax.plot(xs, [r[key] for r in rows], style, label=name)
    for x, r, label in zip(xs, rows, labels, strict=True):
        ax.annotate(label, (x, r["tick_p95_ms"]), textcoords="offset points", xytext=(4, 6),
                    fontsize=8)
    ax.margins(x=0.1, y=0.1)


def scaling_curves(report: Report, path: Path) -> Path:
    """(c) ms per tick against lattice cells (log-log) and against shards in flight."""
    rows = report["rows"]
    mesh = sorted((r for r in rows if r["sweep"] == "mesh"), key=lambda r: r["cells"])
    sh = sorted((r for r in rows if r["sweep"] == "shards"), key=lambda r: r["in_flight_mean"])
    fig = Figure(figsize=(WIDTH_IN, 9.0), layout="constrained")
    grid = fig.add_gridspec(2, 2)
    a = fig.add_subplot(grid[0, 0])
    b = fig.add_subplot(grid[0, 1])
    c = fig.add_subplot(grid[1, :])
    if mesh:
        _curve(a, [r["cells"] for r in mesh], mesh, [r["mesh"] for r in mesh])
        a.set_xscale("log")
        a.set_yscale("log")
        plain = FuncFormatter(_one_two_five)
        for axis in (a.xaxis, a.yaxis):
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(plain)
    slope = report.get("fit", {}).get("ms_vs_cells_loglog_slope")
    a.set_title("ms per tick vs lattice size" + (f" (slope {slope:.2f})" if slope else ""),
                fontsize=11)
    a.set_xlabel("lattice cells (log)")
    a.set_ylabel("ms per tick (log)")
    a.grid(alpha=0.3, which="both")
    a.legend(fontsize=9)
    if sh:
        _curve(b, [r["in_flight_mean"] for r in sh], sh, [str(r["shards"]) for r in sh])
    b.set_title(f"ms per tick vs shards in flight at {report['settings']['largest']}",
                fontsize=11)
    b.set_xlabel("memory shards in flight (mean over the timed ticks)")
    b.set_ylabel("ms per tick")
    b.set_ylim(bottom=0)
    b.grid(alpha=0.3)
    b.legend(fontsize=9)
    labels = [r["mesh"] if r["shards"] is None else f"{r['mesh']}\n{r['shards']} shards"
              for r in rows]
    phases = [p for p in TICK_ORDER if any(p in r["systems_mean_ms"] for r in rows)]
    x = np.arange(len(rows))
    totals = np.array([sum(r["systems_mean_ms"].values()) for r in rows])
    bottom = np.zeros(len(rows))
    for p in phases:
        v = np.array([r["systems_mean_ms"].get(p, 0.0) for r in rows])
        share = np.divide(100 * v, totals, out=np.zeros_like(v), where=totals > 0)
        c.bar(x, share, 0.6, bottom=bottom, label=p, color=system_colour(p))
        bottom += share
    for xx, total in zip(x, totals, strict=True):
        c.text(float(xx), 101, f"{total:.1f} ms", ha="center", va="bottom", fontsize=9)
    c.set_xticks(x, labels, fontsize=9)
    c.set_ylim(0, 110)
    c.set_ylabel("share of the tick's system time (%)")
    c.set_title("Where the time goes at each row (bar labels: mean ms per tick)", fontsize=11)
    c.grid(axis="y", alpha=0.3)
    c.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, title="system")
    fig.suptitle(f"Full scenario scaling: {report['ticks']} timed ticks per row after "
                 f"{report['warmup_ticks']} warm-up ticks", fontsize=12)
    return _save(fig, path)


def write_plots(report: Report, folder: Path) -> list[Path]:
    """Every plot the report has data for, written into ``folder``; their paths.

    An unwritable ``folder`` raises :class:`game.errors.BadInput` (one line).
    """
    writable_dir(str(folder), f"--plot {folder}: cannot write plots there")
    out: list[Path] = []
    if report.get("mode") == "scaling":
        out.append(scaling_curves(report, folder / SCALING_PNG))
        return out
    if "series" in report:
        out.append(systems_stack(report, folder / SYSTEMS_PNG))
    if report.get("systems"):
        out.append(systems_percentiles(report, folder / PERCENTILES_PNG))
    return out
