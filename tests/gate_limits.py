"""The limits of ``tests/performance_thresholds.yaml`` for the tests that check a gate in CI.

A test that checks a gate of TEST-MATRIX.md reads its limits here, from the file the bench
reports are judged against (``scripts/check_performance_regression.py`` parses it), so the test
and the bench cannot drift apart, and no limit comes from the product code it checks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = ROOT / "tests" / "performance_thresholds.yaml"
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

import check_performance_regression as checker  # noqa: E402


def thresholds(ident: str, prefix: str = "") -> list[checker.Threshold]:
    """Every threshold of TEST-MATRIX row ``ident`` whose figure's path starts with ``prefix``."""
    found = [t for t in checker.load_thresholds(THRESHOLDS)
             if t.ident == ident and t.path.startswith(prefix)]
    assert found, f"{THRESHOLDS.name} has no {ident} threshold under {prefix or 'any path'}"
    return found


def limit(ident: str, path: str) -> float:
    """The limit of row ``ident``'s one threshold on the figure at ``path``."""
    found = [t for t in thresholds(ident) if t.path == path]
    assert len(found) == 1, f"{THRESHOLDS.name}: {len(found)} {ident} thresholds on {path}"
    return found[0].limit


def failures(ident: str, prefix: str, report: Any) -> list[str]:
    """Row ``ident``'s thresholds under ``prefix`` that ``report`` misses, one line each.

    ``report`` is laid out as a bench report of the thresholds' scenario; a missing figure is
    a failure, like the checker's ``--fail-missing``.
    """
    out = []
    for t in thresholds(ident, prefix):
        figure = checker.lookup(report, t.steps)
        if figure.value is None:
            out.append(f"{t.name}: {figure.problem}")
        elif not t.passes(figure.value):
            sign = "<=" if t.direction == "max" else ">="
            out.append(f"{t.name}: {t.path} = {figure.value:g}, not {sign} {t.limit:g} {t.unit}")
    return out


def soak_growth(report: dict[str, Any]) -> tuple[float, float, int]:
    """RSS growth after a soak's warm-up (its first third), in percent of the RSS there.

    Read from the report's samples ``[seconds, MB]``: the end point's growth (the gate's figure,
    as the bench reports it), the rise of a least-squares line over the same samples (one
    late sample cannot decide it alone), and how many samples there are after the warm-up.
    """
    import numpy as np

    samples = np.array(report["rss_samples"], dtype=float).reshape(-1, 2)
    late = samples[samples[:, 0] >= report["seconds"] / 3]
    if len(late) < 2:
        return 0.0, 0.0, len(late)
    t, rss = late[:, 0], late[:, 1]
    slope = float(np.polyfit(t, rss, 1)[0])
    base = float(rss[0])
    return (100 * (float(rss[-1]) - base) / base, 100 * slope * float(t[-1] - t[0]) / base,
            len(late))
