#!/usr/bin/env python3
"""Check bench reports against the performance thresholds and, optionally, an earlier report.

Usage: ``python scripts/check_performance_regression.py BENCH.json [BENCH2.json ...]
[--thresholds tests/performance_thresholds.yaml] [--baseline BASELINE.json ...] [--max-slip 1.25]
[--fail-missing]``.

Every report is one ``cybermesh bench --json`` file; a ``--scenario all`` report counts as the
reports of the scenarios it ran (named ``FILE#scenario``; a scenario that failed there has no
figures, so its thresholds are missing). For each threshold whose ``scenario`` is the
report's, the figure at the threshold's ``path`` is judged against its limit (PASS or FAIL). With
a baseline report of the same scenario, the figure's ratio current / baseline is shown too: a
``max`` figure (lower is better) slips when the ratio is above ``--max-slip``, a ``min`` figure
when it is below ``1 / --max-slip``. Thresholds marked ``slip: false`` (signed changes, counts
that should stay 0) and figures whose baseline is not positive get no ratio.

Prints one table and a summary line. Exits 1 when a figure failed its limit, slipped, or is not a
number (with ``--fail-missing``: also when one is missing from its report), 0 otherwise, and 2
with one line on stderr for bad input: a missing or unreadable file, a report that is not JSON or
not a bench report, an unknown scenario, a malformed thresholds file.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from game.bench import SCENARIOS  # noqa: E402

PROG = "check_performance_regression"
DEFAULT_THRESHOLDS = ROOT / "tests" / "performance_thresholds.yaml"
DIRECTIONS = ("max", "min")

_REQUIRED = ("scenario", "path", "direction", "limit", "unit")
_OPTIONAL = ("slip", "id", "note")

#: A path step: a mapping key, a list index, or a row selector ((field, value), ...).
Step = str | int | tuple[tuple[str, str], ...]

_SEGMENT = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SELECTOR = re.compile(r"\[([^\[\]]*)\]")


class InputError(Exception):
    """Bad input: the one-line message goes to stderr and the exit status is 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line and exit 2."""
        self.exit(2, f"{PROG}: error: {message}\n")


@dataclass(frozen=True, slots=True)
class Threshold:
    """One goal: the figure at ``path`` of a ``scenario`` report, at most or at least ``limit``."""

    name: str
    scenario: str
    path: str
    steps: tuple[Step, ...]
    direction: str
    limit: float
    unit: str
    slip: bool = True
    ident: str = ""

    def passes(self, value: float) -> bool:
        """Whether ``value`` meets the limit."""
        return value <= self.limit if self.direction == "max" else value >= self.limit


@dataclass(frozen=True, slots=True)
class Figure:
    """What a report holds at a threshold's path: a number, or why there is none."""

    value: float | None
    problem: str = ""  # "missing: ..." or "invalid: ..." when value is None

    @property
    def missing(self) -> bool:
        """The report has nothing at the path (as opposed to something that is not a number)."""
        return self.value is None and self.problem.startswith("missing")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a threshold judged on one report."""

    threshold: Threshold
    report: str
    figure: Figure
    status: str  # PASS, FAIL, SLIP, missing, invalid
    baseline: Figure | None = None
    ratio: float | None = None
    slipped: bool = False


def parse_path(path: str) -> tuple[Step, ...]:
    """The steps of a dotted path such as ``result.sizes[backend=numpy,size=80].ms_per_gen``.

    Dots inside brackets belong to the selector (``[loss=0.05]``). ``[3]`` is a list index;
    ``[k=v,k2=v2]`` picks the one row of a list whose fields match.
    """
    segments: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(path):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise InputError(f"bad path {path!r}: ']' without '['")
        elif ch == "." and depth == 0:
            segments.append(path[start:i])
            start = i + 1
    if depth:
        raise InputError(f"bad path {path!r}: '[' without ']'")
    segments.append(path[start:])
    steps: list[Step] = []
    for segment in segments:
        match = _SEGMENT.fullmatch(segment)
        if match is None or not match.group(1).strip():
            raise InputError(f"bad path {path!r}: empty or malformed part {segment!r}")
        steps.append(match.group(1))
        for selector in _SELECTOR.findall(match.group(2)):
            steps.append(_selector(path, selector))
    return tuple(steps)


def _selector(path: str, text: str) -> Step:
    """``3`` as an index, ``k=v,k2=v2`` as a row selector."""
    if re.fullmatch(r"-?\d+", text.strip()):
        return int(text)
    pairs: list[tuple[str, str]] = []
    for part in text.split(","):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise InputError(f"bad path {path!r}: selector [{text}] needs key=value pairs")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def _same(value: Any, text: str) -> bool:
    """Whether a report value matches a selector's text (JSON text, or equal as numbers)."""
    if isinstance(value, str):
        return value == text
    if json.dumps(value) == text:
        return True
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(text) == float(value)
        except ValueError:
            return False
    return False


def lookup(report: Any, steps: Sequence[Step]) -> Figure:
    """The number at ``steps`` in ``report``; a missing key or row is ``missing``, never raised."""
    node = report
    where = "the report"
    for step in steps:
        if isinstance(step, str):
            if not isinstance(node, dict) or step not in node:
                return Figure(None, f"missing: no '{step}' in {where}")
            node = node[step]
            where = step
        elif isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return Figure(None, f"missing: no row [{step}] in {where}")
            node = node[step]
            where = f"{where}[{step}]"
        else:
            label = ",".join(f"{k}={v}" for k, v in step)
            if not isinstance(node, list):
                return Figure(None, f"missing: {where} is not a list of rows")
            rows = [r for r in node if isinstance(r, dict)
                    and all(k in r and _same(r[k], v) for k, v in step)]
            if not rows:
                return Figure(None, f"missing: no row {label} in {where}")
            if len(rows) > 1:
                return Figure(None, f"invalid: {len(rows)} rows match {label} in {where}")
            node = rows[0]
            where = f"{where}[{label}]"
    if isinstance(node, bool) or not isinstance(node, int | float) or not math.isfinite(node):
        return Figure(None, f"invalid: not a number: {json.dumps(node)[:40]}")
    return Figure(float(node))


def _yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error on one line."""
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        return f"{err.problem} at line {err.problem_mark.line + 1}"
    return " ".join(str(err).split())


def _read_text(path: str | Path) -> str:
    """The UTF-8 text of ``path``; an unreadable file is one line of :class:`InputError`."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None


def load_thresholds(path: str | Path) -> list[Threshold]:
    """Every threshold in a thresholds file (phase, groups, then entries holding a ``scenario``)."""
    text = _read_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML ({_yaml_problem(err)})") from None
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path}: expected a mapping of phases to thresholds")
    out: list[Threshold] = []
    _collect(data, "", out, str(path))
    return out


def _collect(node: Any, name: str, out: list[Threshold], source: str) -> None:
    """Walk groups down to entries (mappings with a ``scenario`` key)."""
    if not isinstance(node, dict) or not node:
        raise InputError(f"{source}: {name or 'the file'}: expected a non-empty mapping")
    if "scenario" in node:
        out.append(_entry(node, name, source))
        return
    for key, child in node.items():
        _collect(child, f"{name}.{key}" if name else str(key), out, source)


def _entry(node: dict[str, Any], name: str, source: str) -> Threshold:
    """One threshold entry, every field checked."""
    where = f"{source}: {name}"
    unknown = sorted(str(k) for k in node if k not in _REQUIRED + _OPTIONAL)
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} (known: "
                         f"{', '.join(_REQUIRED + _OPTIONAL)})")
    absent = [k for k in _REQUIRED if k not in node]
    if absent:
        raise InputError(f"{where}: missing key {absent[0]!r}")
    scenario, path, direction, limit = (node[k] for k in ("scenario", "path", "direction", "limit"))
    if scenario not in SCENARIOS:
        raise InputError(f"{where}: unknown scenario {scenario!r} (known: "
                         f"{', '.join(sorted(SCENARIOS))})")
    if not isinstance(path, str):
        raise InputError(f"{where}: 'path' must be a string")
    if direction not in DIRECTIONS:
        raise InputError(f"{where}: 'direction' must be max or min, not {direction!r}")
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not math.isfinite(limit):
        raise InputError(f"{where}: 'limit' must be a number, not {limit!r}")
    slip = node.get("slip", True)
    if not isinstance(slip, bool):
        raise InputError(f"{where}: 'slip' must be true or false, not {slip!r}")
    try:
        steps = parse_path(path)
    except InputError as err:
        raise InputError(f"{where}: {err}") from None
    return Threshold(name=name, scenario=scenario, path=path, steps=steps, direction=direction,
                     limit=float(limit), unit=str(node["unit"]), slip=slip,
                     ident=str(node.get("id", "")))


def load_report(path: str) -> dict[str, Any]:
    """A bench report: a JSON object with a known ``scenario`` and a ``result`` object."""
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
    if (not isinstance(data, dict) or not isinstance(data.get("scenario"), str)
            or not isinstance(data.get("result"), dict)):
        raise InputError(f"{path}: not a bench report (expected a JSON object with a "
                         "'scenario' string and a 'result' object)")
    if data["scenario"] not in SCENARIOS:
        raise InputError(f"{path}: unknown scenario {data['scenario']!r} (known: "
                         f"{', '.join(sorted(SCENARIOS))})")
    return data


def parts(path: str, report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``report`` as ``(name, report)`` pairs: itself, or each scenario of an ``all`` report."""
    if report["scenario"] != "all":
        return [(path, report)]
    scenarios = report["result"].get("scenarios")
    if not isinstance(scenarios, dict):
        raise InputError(f"{path}: an 'all' report without its 'scenarios'")
    return [(f"{path}#{name}", {**report, "scenario": name, "result": entry["result"]})
            for name, entry in scenarios.items()
            if name in SCENARIOS and isinstance(entry, dict)
            and isinstance(entry.get("result"), dict)]


def judge(threshold: Threshold, report: dict[str, Any], name: str,
          baseline: dict[str, Any] | None, max_slip: float) -> Row:
    """One threshold on one report, with its ratio to the baseline when there is one."""
    figure = lookup(report, threshold.steps)
    base = lookup(baseline, threshold.steps) if baseline is not None else None
    if figure.value is None:
        status = "missing" if figure.missing else "invalid"
        return Row(threshold, name, figure, status, base)
    ratio: float | None = None
    slipped = False
    # A ratio to a zero or negative baseline says nothing; the limit still judges the figure.
    if (threshold.slip and base is not None and base.value is not None and base.value > 0
            and figure.value >= 0):
        ratio = figure.value / base.value
        slipped = ratio > max_slip if threshold.direction == "max" else ratio < 1 / max_slip
    status = "FAIL" if not threshold.passes(figure.value) else "SLIP" if slipped else "PASS"
    return Row(threshold, name, figure, status, base, ratio, slipped)


def _num(value: float | None) -> str:
    """A figure for the table: integers whole, the rest to 4 significant digits."""
    if value is None:
        return "-"
    if value.is_integer() and abs(value) < 1e7:
        return str(int(value))
    return f"{value:.4g}"


def render(rows: Sequence[Row], max_slip: float, compared: bool, several: bool) -> list[str]:
    """The table's lines: one per row, columns aligned.

    The baseline and ratio columns appear only when a baseline was given (``compared``), the
    report column only when there are ``several`` reports.
    """
    header = ("status", "id", "threshold", "report", "value", "limit", "unit", "baseline",
              "ratio", "note")
    cells: list[tuple[str, ...]] = [header]
    for r in rows:
        t = r.threshold
        limit = f"{'<=' if t.direction == 'max' else '>='} {_num(t.limit)}"
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        if r.slipped:
            bound = max_slip if t.direction == "max" else 1 / max_slip
            ratio += f" ({'>' if t.direction == 'max' else '<'} {bound:.2f})"
        note = r.figure.problem
        if r.baseline is not None and r.baseline.value is None and not note:
            note = f"baseline {r.baseline.problem}"
        base = "-" if r.baseline is None else _num(r.baseline.value)
        cells.append((r.status, t.ident, t.name, r.report, _num(r.figure.value), limit, t.unit,
                      base, ratio, note))
    keep = [i for i, h in enumerate(header)
            if (compared or h not in ("baseline", "ratio")) and (several or h != "report")]
    widths = {i: max(len(c[i]) for c in cells) for i in keep}
    return ["  ".join(row[i].ljust(widths[i]) for i in keep).rstrip() for row in cells]


def main(argv: list[str] | None = None) -> int:
    """Judge every report; the exit status says whether anything failed or slipped."""
    ap = _Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("reports", nargs="+", metavar="BENCH.json",
                    help="reports written by `cybermesh bench --json`")
    ap.add_argument("--thresholds", default=str(DEFAULT_THRESHOLDS), metavar="FILE",
                    help="the goals (default tests/performance_thresholds.yaml)")
    ap.add_argument("--baseline", action="append", default=[], metavar="BASELINE.json",
                    help="an earlier report to compare with (one per scenario; repeatable)")
    ap.add_argument("--max-slip", type=float, default=1.25, metavar="R",
                    help="largest ratio current / baseline a figure may move the wrong way "
                         "(default 1.25)")
    ap.add_argument("--fail-missing", action="store_true",
                    help="a figure missing from its report fails (for full, non --quick runs)")
    args = ap.parse_args(argv)
    if not (math.isfinite(args.max_slip) and args.max_slip >= 1.0):
        ap.error(f"--max-slip must be a number >= 1, not {args.max_slip}")

    try:
        thresholds = load_thresholds(args.thresholds)
        reports = [part for path in args.reports for part in parts(path, load_report(path))]
        baselines: dict[str, tuple[str, dict[str, Any]]] = {}
        for path, data in (part for file in args.baseline
                           for part in parts(file, load_report(file))):
            earlier = baselines.get(data["scenario"])
            if earlier is not None:
                raise InputError(f"two baselines of scenario {data['scenario']!r}: "
                                 f"{earlier[0]} and {path}")
            baselines[data["scenario"]] = (path, data)
    except InputError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2

    rows: list[Row] = []
    notes: list[str] = []
    for path, report in reports:
        scenario = report["scenario"]
        chosen = [t for t in thresholds if t.scenario == scenario]
        if not chosen:
            notes.append(f"{path}: no thresholds for scenario {scenario!r}")
        base = baselines.get(scenario)
        name = Path(path).name
        rows += [judge(t, report, name, base[1] if base else None, args.max_slip)
                 for t in chosen]
    judged = {r["scenario"] for _, r in reports}
    notes += [f"baseline {path}: no report of scenario {s!r} to compare with"
              for s, (path, _) in baselines.items() if s not in judged]

    if rows:
        print("\n".join(render(rows, args.max_slip, bool(baselines), len(reports) > 1)))
    for note in notes:
        print(note)
    count = {s: sum(r.status == s for r in rows)
             for s in ("PASS", "FAIL", "SLIP", "missing", "invalid")}
    print(f"{len(rows)} figures: {count['PASS']} passed, {count['FAIL']} failed, "
          f"{count['SLIP']} slipped, {count['missing']} missing, {count['invalid']} invalid"
          + (f" (baselines: {', '.join(p for p, _ in baselines.values())}, max slip "
             f"{args.max_slip:g}x)" if baselines else ""))
    bad = [r for r in rows if r.status in ("FAIL", "SLIP", "invalid")
           or (args.fail_missing and r.status == "missing") or r.slipped]
    if bad:
        print(f"{PROG}: not ok: " + ", ".join(f"{r.threshold.name} ({r.status})" for r in bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
