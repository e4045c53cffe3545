"""What a sweep's table says: a summary per parameter point and a plot per metric.

Written into the sweep's folder at the end of ``cybermesh sweep`` and rebuilt from the table by
``cybermesh sweep --report DIR``:

* ``summary.csv``: one row per parameter point (in the spec's order): the point's values, its
  runs, ok and failed, then for every metric its mean and the 95 % confidence interval of the
  mean over the point's ok runs: Student's t-interval, mean ± t(0.975, n−1)·s/√n (scipy);
  empty with fewer than two values;
* ``plot-METRIC.png`` for each plotted metric (the scenario's headline, or the spec's
  ``metrics``): the mean with its interval against each swept parameter, one panel per
  parameter and one line per combination of the others (pooled over them beyond 8 lines;
  a categorical parameter's points side by side, not joined);
  with no grid, the metric's distribution over the seeds.

Drawn on matplotlib's Agg canvas in the style of :mod:`game.bench.plots` (12 in at 100 dpi).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from game.errors import BadInput
from game.files import write_bytes
from game.sweep.table import CSV_NAME, PARQUET_NAME, Report, Row, latest, read_csv, read_meta

SUMMARY_NAME = "summary.csv"
#: Lines in one panel before the other parameters are pooled instead.
MAX_LINES = 8


def read_table(folder: Path) -> tuple[Report, list[Row]]:
    """A sweep folder's metadata and rows: runs.parquet, else runs.csv (a sweep killed early)."""
    meta = read_meta(folder)
    parquet = folder / PARQUET_NAME
    if parquet.exists():
        import pyarrow.parquet as pq

        rows: list[Row] = pq.read_table(parquet).to_pylist()
    elif (folder / CSV_NAME).exists():
        rows = read_csv(folder / CSV_NAME, meta["columns"])
    else:
        raise BadInput(f"{folder}: no sweep table here ({PARQUET_NAME} or {CSV_NAME})")
    return meta, latest(rows)


def interval(values: Sequence[float]) -> tuple[float | None, float | None, float | None]:
    """Mean and its 95 % t-interval: (mean, low, high); None where there are too few values."""
    if not values:
        return None, None, None
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None, None
    from scipy import stats

    half = float(stats.t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / math.sqrt(
        len(values))
    return mean, mean - half, mean + half


def _usable(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def summarise(meta: Report, rows: list[Row]) -> list[Row]:
    """One row per parameter point, in the order the spec makes them."""
    params, metrics = meta["params"], meta["metrics"]
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row[p] for p in params), []).append(row)
    out = []
    for key, runs in groups.items():
        ok = [r for r in runs if r["status"] == "ok"]
        entry: Row = {**dict(zip(params, key, strict=True)), "runs": len(runs), "ok": len(ok),
                      "failed": len(runs) - len(ok)}
        for m in metrics:
            values = [float(r[m]) for r in ok if _usable(r[m])]
            entry[f"{m}_mean"], entry[f"{m}_low"], entry[f"{m}_high"] = interval(values)
        out.append(entry)
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def write_summary(path: Path, summary: list[Row]) -> Path:
    """``summary.csv``: the rows of :func:`summarise`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    names = list(summary[0]) if summary else ["runs", "ok", "failed"]
    writer.writerow(names)
    for entry in summary:
        writer.writerow([_text(entry.get(n)) for n in names])
    write_bytes(path, buf.getvalue().encode(), "the sweep's summary")
    return path


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _panel(ax: Any, meta: Report, rows: list[Row], param: str, metric: str) -> None:
    """The metric's mean and 95 % interval against ``param``, a line per other combination."""
    others = [p for p in meta["params"] if p != param]
    combos = list(dict.fromkeys(tuple(r[p] for p in others) for r in rows))
    pooled = len(combos) > MAX_LINES
    if pooled:
        others, combos = [], [()]
    xs = list(dict.fromkeys(r[param] for r in rows))
    numeric = _numeric(xs)
    if numeric:
        xs.sort()
    positions = {x: (float(x) if numeric else float(i)) for i, x in enumerate(xs)}
    width = 0.0 if numeric else 0.3 / max(len(combos), 1)
    for j, combo in enumerate(combos):
        sel = [r for r in rows if tuple(r[p] for p in others) == combo and r["status"] == "ok"]
        points = []
        for x in xs:
            mean, low, high = interval([float(r[metric]) for r in sel
                                        if r[param] == x and _usable(r[metric])])
            if mean is not None:
                shift = (j - (len(combos) - 1) / 2) * width  # side by side on a category
                points.append((positions[x] + shift, mean, mean if low is None else low,
                               mean if high is None else high))
        if not points:
            continue
        px, py, lo, hi = zip(*points, strict=True)
        label = ", ".join(f"{p}={v}" for p, v in zip(others, combo, strict=True)) or None
        ax.errorbar(px, py, yerr=[[y - a for y, a in zip(py, lo, strict=True)],
                                  [b - y for y, b in zip(py, hi, strict=True)]],
                    marker="o", ms=4, capsize=3, lw=1.2, label=label,
                    ls="-" if numeric else "none")  # categories have no order to join
    if numeric and min(xs) > 0 and max(xs) / min(xs) >= 50:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks([positions[x] for x in xs], [str(x) for x in xs])
        ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_xlabel(param + (f" (pooled over {', '.join(p for p in meta['params'] if p != param)})"
                           if pooled else ""))
    ax.set_ylabel(f"{metric} (mean, 95 % t-interval)")
    ax.grid(alpha=0.3)
    if len(combos) > 1:
        ax.legend(fontsize=8)


def plot_metric(meta: Report, rows: list[Row], metric: str, path: Path) -> Path:
    """``plot-METRIC.png``: the metric against each swept parameter (module docstring)."""
    from matplotlib.figure import Figure

    from game.bench.plots import DPI, WIDTH_IN, _save

    params = meta["params"]
    panels = max(len(params), 1)
    fig = Figure(figsize=(WIDTH_IN, 4.2 * panels), dpi=DPI, layout="constrained")
    seeds = len({r["seed"] for r in rows})
    ok = sum(r["status"] == "ok" for r in rows)
    fig.suptitle(f"{metric}: scenario {meta['scenario']}, {seeds} seed{'s' * (seeds != 1)} per "
                 f"point, {ok}/{len(rows)} runs ok ({meta['spec']})", fontsize=11)
    if not params:
        ax = fig.add_subplot()
        values = [float(r[metric]) for r in rows if r["status"] == "ok" and _usable(r[metric])]
        bins: Any = min(40, max(5, len(values) // 5))
        if values and all(v.is_integer() for v in values) and max(values) - min(values) <= 80:
            bins = [v - 0.5 for v in range(int(min(values)), int(max(values)) + 2)]  # counts
        ax.hist(values, bins=bins, color="#4c72b0")
        mean, low, high = interval(values)
        if mean is not None:
            ax.axvline(mean, color="black", lw=1.2, label=f"mean {mean:.4g}")
        if low is not None and high is not None:
            ax.axvspan(low, high, color="grey", alpha=0.3, label="95 % t-interval of the mean")
        ax.set_xlabel(metric)
        ax.set_ylabel("runs")
        ax.legend(fontsize=8)
        return _save(fig, path)
    for i, param in enumerate(params):
        _panel(fig.add_subplot(panels, 1, i + 1), meta, rows, param, metric)
    return _save(fig, path)


def write_report(folder: Path) -> Report:
    """Summary and plots of the sweep in ``folder``, from its table; what was written."""
    meta, rows = read_table(folder)
    summary = summarise(meta, rows)
    written = [write_summary(folder / SUMMARY_NAME, summary)]
    for metric in meta["plot"]:
        written.append(plot_metric(meta, rows, metric, folder / f"plot-{metric}.png"))
    return {"meta": meta, "summary": summary, "written": written, "rows": len(rows)}


def print_report(report: Report) -> None:
    """The plotted metrics per point, then the files written."""
    meta, summary = report["meta"], report["summary"]
    params, plot = meta["params"], meta["plot"]
    print(f"sweep {meta['scenario']} ({meta['spec']}): {report['rows']} of {meta['runs']} runs "
          "in the table; mean [95 % t-interval] per point")
    head = [*params, "ok", *plot]
    table = [[_short(e.get(p)) for p in params] + [f"{e['ok']}/{e['runs']}"]
             + [_mean_interval(e, m) for m in plot] for e in summary]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for r in table:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    print("wrote " + ", ".join(str(p) for p in report["written"]))


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _mean_interval(entry: Row, metric: str) -> str:
    mean, low, high = (entry[f"{metric}_{k}"] for k in ("mean", "low", "high"))
    if mean is None:
        return "-"
    if low is None:
        return f"{mean:.4g}"
    return f"{mean:.4g} [{low:.4g}, {high:.4g}]"
