#!/usr/bin/env python3
"""Check bench reports against the performance thresholds and against baselines.

Usage: ``python scripts/check_performance_regression.py BENCH.json [BENCH2.json ...]
[--thresholds tests/performance_thresholds.yaml] [--fail-missing] [--run NAME]
[--baseline BASELINE.json ...] [--baseline-dir DIR [--require-baseline]] [--max-slip 1.25]
[--write-baseline DIR]``.

Every report is one ``cybermesh bench --json`` file; a ``--scenario all`` report counts as the
reports of the scenarios it ran (named ``FILE#scenario``). A scenario that failed inside it is a
FAIL row naming its error.

A threshold belongs to one scenario; its ``when`` conditions say which reports of that scenario
claim its figure (a ``--quick`` run claims no 4096² figure, a tick run no soak figure). On a
report that claims it, the figure at the threshold's ``path`` is judged against its limit: PASS
or FAIL, or ``missing`` (fails with ``--fail-missing``) or ``invalid`` (always fails). Thresholds
that no report given claims are listed as not judged here, each with the run that judges it
(``run`` in the thresholds file). With ``--run NAME`` (``make perf`` passes its own name) a
threshold whose ``run`` is NAME and which no report claims is a failure: the run no longer
carries a figure it says it judges.

Two slip checks compare a figure with the same figure of an earlier report (ratio current /
baseline; a ``max`` figure slips above ``--max-slip``, a ``min`` figure below its inverse):

* ``--baseline FILE`` (one per scenario): an earlier report of the same machine; every figure
  not marked ``slip: false`` is compared;
* ``--baseline-dir DIR``: the committed baseline of the report's machine class
  (``DIR/<machine.cpu_class>/*.json``); only same-run ratio figures (``ratio: true``) are
  compared, since they hold across machines of one class while absolute times do not. A class
  without a baseline is one line saying the slip check was not done (a failure with
  ``--require-baseline``). ``--write-baseline DIR`` writes the reports given as that
  baseline when none of their figures failed its limit, is missing or invalid.

Prints one table, the thresholds not judged here and a summary line. Exits 1 when a figure
failed its limit, slipped or is not a number, a scenario failed, a figure is missing (with
``--fail-missing``), a threshold of ``--run`` was not judged, or a required baseline is absent;
0 otherwise; 2 with one line on stderr for bad input (a missing or unreadable file, a report that
is not JSON or not a bench report, an unknown scenario, a malformed thresholds file).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from game.bench.registry import SCENARIOS  # noqa: E402
from game.errors import one_line  # noqa: E402

PROG = "check_performance_regression"
DEFAULT_THRESHOLDS = ROOT / "tests" / "performance_thresholds.yaml"
DIRECTIONS = ("max", "min")
#: How a ``when`` condition compares the report's value: equal (a plain value), or these.
OPERATORS = ("in", "min", "max", "contains")

_REQUIRED = ("scenario", "path", "direction", "limit", "unit")
_OPTIONAL = ("slip", "ratio", "id", "note", "when", "run")

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
class Condition:
    """One ``when`` entry: the value at ``path`` equals ``value`` (``op`` eq) or passes ``op``."""

    path: str
    steps: tuple[Step, ...]
    op: str  # eq, in, min, max, contains
    value: Any

    def holds(self, node: Any) -> bool:
        """Whether the report's value ``node`` meets the condition."""
        if self.op == "eq":
            return _equal(node, self.value)
        if self.op == "in":
            return any(_equal(node, v) for v in self.value)
        if self.op == "contains":
            return isinstance(node, list) and any(_equal(v, self.value) for v in node)
        if isinstance(node, bool) or not isinstance(node, int | float):
            return False
        return bool(node >= self.value if self.op == "min" else node <= self.value)

    def text(self) -> str:
        """The condition in words, e.g. ``quick = false`` or ``result.seconds >= 600``."""
        value = json.dumps(self.value)
        return {"eq": f"{self.path} = {value}", "in": f"{self.path} in {value}",
                "min": f"{self.path} >= {value}", "max": f"{self.path} <= {value}",
                "contains": f"{self.path} holds {value}"}[self.op]


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
    ratio: bool = False
    ident: str = ""
    when: tuple[Condition, ...] = ()
    run: str = ""

    def passes(self, value: float) -> bool:
        """Whether ``value`` meets the limit."""
        return value <= self.limit if self.direction == "max" else value >= self.limit

    def judged_by(self) -> str:
        """The run whose report judges this threshold."""
        return self.run or f"cybermesh bench --scenario {self.scenario}"


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
    """One line of the table: a threshold judged on one report, or a failed scenario."""

    threshold: Threshold | None
    report: str
    figure: Figure
    status: str  # PASS, FAIL, SLIP, missing, invalid
    baseline: Figure | None = None
    ratio: float | None = None
    slipped: bool = False
    label: str = ""  # the name of a row without a threshold
    note: str = ""

    @property
    def name(self) -> str:
        """The threshold's dotted name, or the row's label."""
        return self.threshold.name if self.threshold is not None else self.label


@dataclass(slots=True)
class Part:
    """One scenario's report: a file, or one scenario of an ``all`` file."""

    name: str
    report: dict[str, Any] | None  # None: the scenario failed and left no result
    error: str = ""  # the error of a scenario that failed inside an ``all`` run
    source: str = ""  # the file it came from


@dataclass(slots=True)
class Baselines:
    """The baseline report of each scenario, and where the comparison was not done."""

    explicit: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    by_class: dict[tuple[str, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)  # class -> folder, or "" when none


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


def _equal(a: Any, b: Any) -> bool:
    """JSON values equal, numbers by value (1 == 1.0) but never booleans as numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def walk(report: Any, steps: Sequence[Step]) -> tuple[Any, str]:
    """The value at ``steps`` in ``report`` and "", or None and why there is none.

    The reason is ``missing: ...`` for a key or row that is not there, ``invalid: ...`` for a
    selector that matches several rows; nothing is raised.
    """
    node = report
    where = "the report"
    for step in steps:
        if isinstance(step, str):
            if not isinstance(node, dict) or step not in node:
                return None, f"missing: no '{step}' in {where}"
            node = node[step]
            where = step
        elif isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return None, f"missing: no row [{step}] in {where}"
            node = node[step]
            where = f"{where}[{step}]"
        else:
            label = ",".join(f"{k}={v}" for k, v in step)
            if not isinstance(node, list):
                return None, f"missing: {where} is not a list of rows"
            rows = [r for r in node if isinstance(r, dict)
                    and all(k in r and _same(r[k], v) for k, v in step)]
            if not rows:
                return None, f"missing: no row {label} in {where}"
            if len(rows) > 1:
                return None, f"invalid: {len(rows)} rows match {label} in {where}"
            node = rows[0]
            where = f"{where}[{label}]"
    return node, ""


def lookup(report: Any, steps: Sequence[Step]) -> Figure:
    """The number at ``steps`` in ``report``; a missing key or row is ``missing``, never raised."""
    node, problem = walk(report, steps)
    if problem:
        return Figure(None, problem)
    if isinstance(node, bool) or not isinstance(node, int | float) or not math.isfinite(node):
        return Figure(None, f"invalid: not a number: {json.dumps(node)[:40]}")
    return Figure(float(node))


def claims(threshold: Threshold, report: dict[str, Any]) -> tuple[bool | None, str]:
    """Whether ``report`` claims the threshold's figure, and the condition that decided it.

    True when every ``when`` condition holds; False, with the first that does not; None, with
    a ``missing: ...`` reason, when the report does not say (a condition's path is absent):
    such a report cannot show that it need not carry the figure.
    """
    for cond in threshold.when:
        node, problem = walk(report, cond.steps)
        if problem:
            return None, (f"missing: the report does not say {cond.path} ({problem[9:]}), so "
                          f"it cannot show it need not carry this (judged when {cond.text()})")
        if not cond.holds(node):
            return False, f"{cond.path} is {json.dumps(node)[:40]}; judged when {cond.text()}"
    return True, ""


def _yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error on one line."""
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        return f"{err.problem} at line {err.problem_mark.line + 1}"
    return one_line(err)


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


def _flag(node: dict[str, Any], key: str, default: bool, where: str) -> bool:
    """A true/false field of an entry."""
    value = node.get(key, default)
    if not isinstance(value, bool):
        raise InputError(f"{where}: '{key}' must be true or false, not {value!r}")
    return value


def _conditions(node: Any, where: str) -> tuple[Condition, ...]:
    """An entry's ``when``: a mapping of report paths to a value or ``{op: value}``."""
    if node is None:
        return ()
    if not isinstance(node, dict) or not node:
        raise InputError(f"{where}: 'when' must be a mapping of report paths to values")
    out: list[Condition] = []
    for path, want in node.items():
        if not isinstance(path, str):
            raise InputError(f"{where}: 'when' keys must be report paths, not {path!r}")
        try:
            steps = parse_path(path)
        except InputError as err:
            raise InputError(f"{where}: when: {err}") from None
        op, value = "eq", want
        if isinstance(want, dict):
            if len(want) != 1 or next(iter(want)) not in OPERATORS:
                raise InputError(f"{where}: when {path}: expected a value or one of "
                                 f"{{{', '.join(o + ': ...' for o in OPERATORS)}}}")
            op, value = next(iter(want.items()))
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if op in ("min", "max") and not number:
                raise InputError(f"{where}: when {path}: '{op}' needs a number, not {value!r}")
            if op == "in" and not isinstance(value, list):
                raise InputError(f"{where}: when {path}: 'in' needs a list, not {value!r}")
        out.append(Condition(path, steps, str(op), value))
    return tuple(out)


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
    run = node.get("run", "")
    if not isinstance(run, str):
        raise InputError(f"{where}: 'run' must be text (the command that judges it)")
    try:
        steps = parse_path(path)
    except InputError as err:
        raise InputError(f"{where}: {err}") from None
    return Threshold(name=name, scenario=scenario, path=path, steps=steps, direction=direction,
                     limit=float(limit), unit=str(node["unit"]),
                     slip=_flag(node, "slip", True, where),
                     ratio=_flag(node, "ratio", False, where), ident=str(node.get("id", "")),
                     when=_conditions(node.get("when"), where), run=run)


def load_report(path: str | Path) -> dict[str, Any]:
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


def parts(path: str, report: dict[str, Any]) -> list[Part]:
    """``report`` as one part per scenario: itself, or each scenario of an ``all`` report.

    A scenario that failed inside an ``all`` run is a part with its error (and its result, when
    it left one); a malformed entry is bad input.
    """
    name = Path(path).name
    if report["scenario"] != "all":
        return [Part(name, report, source=path)]
    scenarios = report["result"].get("scenarios")
    if not isinstance(scenarios, dict):
        raise InputError(f"{path}: an 'all' report without its 'scenarios'")
    out: list[Part] = []
    for scenario, entry in scenarios.items():
        if scenario not in SCENARIOS or scenario == "all":
            raise InputError(f"{path}: unknown scenario {scenario!r} in the 'all' report")
        if not isinstance(entry, dict) or not isinstance(entry.get("result"), dict | None):
            raise InputError(f"{path}: scenario {scenario!r} of the 'all' report is not an "
                             "object with a 'result'")
        result = entry.get("result")
        part = None if result is None else {**report, "scenario": scenario, "result": result}
        error = "" if entry.get("status") == "ok" else str(entry.get("error") or "no result")
        if part is None and not error:
            error = "status ok but no result"
        out.append(Part(f"{name}#{scenario}", part, error, source=path))
    return out


def _ratio_of(threshold: Threshold, figure: Figure, base: Figure | None,
              max_slip: float) -> tuple[float | None, bool]:
    """The ratio current / baseline, and whether it moved past ``max_slip`` the wrong way."""
    # A ratio to a zero or negative baseline says nothing; the limit still judges the figure.
    if (base is None or base.value is None or base.value <= 0 or figure.value is None
            or figure.value < 0):
        return None, False
    ratio = figure.value / base.value
    slipped = ratio > max_slip if threshold.direction == "max" else ratio < 1 / max_slip
    return ratio, slipped


def judge(threshold: Threshold, report: dict[str, Any], name: str,
          baseline: dict[str, Any] | None, max_slip: float) -> Row:
    """One threshold on one report, with its ratio to ``baseline`` when one is given.

    ``baseline`` is compared only for thresholds not marked ``slip: false`` (the caller passes
    None where the figure is not to be compared).
    """
    figure = lookup(report, threshold.steps)
    base = lookup(baseline, threshold.steps) if baseline is not None and threshold.slip else None
    if figure.value is None:
        status = "missing" if figure.missing else "invalid"
        return Row(threshold, name, figure, status, base)
    ratio, slipped = _ratio_of(threshold, figure, base, max_slip)
    status = "FAIL" if not threshold.passes(figure.value) else "SLIP" if slipped else "PASS"
    return Row(threshold, name, figure, status, base, ratio, slipped)


def _num(value: float | None) -> str:
    """A figure for the table: integers whole, the rest to 4 significant digits."""
    if value is None:
        return "-"
    if value.is_integer() and abs(value) < 1e7:
        return str(int(value))
    return f"{value:.4g}"


def _table(cells: list[tuple[str, ...]], keep: Sequence[int]) -> list[str]:
    """Rows of cells as aligned lines (only the columns ``keep``)."""
    widths = {i: max(len(c[i]) for c in cells) for i in keep}
    return ["  ".join(row[i].ljust(widths[i]) for i in keep).rstrip() for row in cells]


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
        if t is None:
            cells.append((r.status, "", r.label, r.report, "-", "-", "", "-", "-", r.note))
            continue
        limit = f"{'<=' if t.direction == 'max' else '>='} {_num(t.limit)}"
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        if r.slipped:
            bound = max_slip if t.direction == "max" else 1 / max_slip
            ratio += f" ({'>' if t.direction == 'max' else '<'} {bound:.2f})"
        note = r.note or r.figure.problem
        if r.baseline is not None and r.baseline.value is None and not note:
            note = f"baseline {r.baseline.problem}"
        base = "-" if r.baseline is None else _num(r.baseline.value)
        cells.append((r.status, t.ident, t.name, r.report, _num(r.figure.value), limit, t.unit,
                      base, ratio, note))
    keep = [i for i, h in enumerate(header)
            if (compared or h not in ("baseline", "ratio")) and (several or h != "report")]
    return _table(cells, keep)


def _class_of(report: dict[str, Any]) -> str:
    """The machine class a report names (``machine.cpu_class``), or ""."""
    machine = report.get("machine")
    value = machine.get("cpu_class") if isinstance(machine, dict) else None
    return value if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", value) else ""


def load_class_baselines(folder: Path, classes: set[str], into: Baselines) -> None:
    """The committed baselines of ``classes``: every report in ``folder/<class>/``."""
    for cls in sorted(classes):
        where = folder / cls
        files = sorted(where.glob("*.json")) if where.is_dir() else []
        into.classes[cls] = str(where) if files else ""
        for file in files:
            for part in parts(str(file), load_report(file)):
                if part.report is None:
                    continue
                key = (cls, part.report["scenario"])
                if key in into.by_class:
                    raise InputError(f"two baselines of scenario {key[1]!r} for machine class "
                                     f"{cls}: {into.by_class[key][0]} and {file}")
                into.by_class[key] = (str(file), part.report)


def write_baseline(folder: Path, reports: Sequence[Part]) -> list[str]:
    """Write each report as ``folder/<its machine class>/<scenario>.json``.

    Every scenario is kept, not only those with ratio figures: the folder is then a whole real
    run of this class, which the tests use as one.
    """
    lines: list[str] = []
    for part in reports:
        if part.report is None:
            continue
        scenario = part.report["scenario"]
        cls = _class_of(part.report)
        if not cls:
            raise InputError(f"{part.name}: cannot write a baseline: the report does not say "
                             "its machine class (machine.cpu_class; rerun the bench)")
        target = folder / cls / f"{scenario}.json"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(part.report, indent=2) + "\n", encoding="utf-8")
        except OSError as err:
            raise InputError(f"cannot write {target}: {err.strerror or err}") from None
        lines.append(f"baseline written: {target} (from {part.name})")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Judge every report; the exit status says whether anything failed or slipped."""
    ap = _Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("reports", nargs="+", metavar="BENCH.json",
                    help="reports written by `cybermesh bench --json`")
    ap.add_argument("--thresholds", default=str(DEFAULT_THRESHOLDS), metavar="FILE",
                    help="the goals (default tests/performance_thresholds.yaml)")
    ap.add_argument("--baseline", action="append", default=[], metavar="BASELINE.json",
                    help="an earlier report of this machine to compare every figure with (one "
                         "per scenario; repeatable)")
    ap.add_argument("--baseline-dir", metavar="DIR",
                    help="committed baselines per machine class (DIR/<class>/*.json): the "
                         "same-run ratio figures are compared with the report's class")
    ap.add_argument("--require-baseline", action="store_true",
                    help="with --baseline-dir: a report whose class has no baseline fails")
    ap.add_argument("--write-baseline", metavar="DIR",
                    help="write the reports as their machine class's baseline under DIR")
    ap.add_argument("--max-slip", type=float, default=1.25, metavar="R",
                    help="largest ratio current / baseline a figure may move the wrong way "
                         "(default 1.25)")
    ap.add_argument("--fail-missing", action="store_true",
                    help="a figure missing from a report that claims it fails")
    ap.add_argument("--run", metavar="NAME",
                    help="thresholds whose `run` is NAME must each be judged by a report")
    args = ap.parse_args(argv)
    if not (math.isfinite(args.max_slip) and args.max_slip >= 1.0):
        ap.error(f"--max-slip must be a number >= 1, not {args.max_slip}")
    if args.require_baseline and not args.baseline_dir:
        ap.error("--require-baseline needs --baseline-dir")

    notes: list[str] = []
    base = Baselines()
    try:
        thresholds = load_thresholds(args.thresholds)
        reports = [part for path in args.reports for part in parts(path, load_report(path))]
        for file in args.baseline:
            for part in parts(file, load_report(file)):
                if part.report is None:
                    continue
                earlier = base.explicit.get(part.report["scenario"])
                if earlier is not None:
                    raise InputError(f"two baselines of scenario {part.report['scenario']!r}: "
                                     f"{earlier[0]} and {file}")
                base.explicit[part.report["scenario"]] = (file, part.report)
        if args.baseline_dir:
            folder = Path(args.baseline_dir)
            if not folder.is_dir():
                raise InputError(f"--baseline-dir {folder}: not a folder")
            classes = {_class_of(p.report) for p in reports if p.report is not None}
            load_class_baselines(folder, classes - {""}, base)
        if args.write_baseline:
            for part in reports:  # before anything is judged: bad input writes nothing
                if part.report is not None and not _class_of(part.report):
                    raise InputError(f"{part.name}: cannot write a baseline: the report does "
                                     "not say its machine class (machine.cpu_class; rerun the "
                                     "bench)")
    except InputError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2

    rows, unjudged, problems = _judge_all(thresholds, reports, base, args, notes)
    if args.write_baseline:
        # A baseline is a good run: a figure over its limit, missing or not a number, or a
        # failed scenario, writes none. A slip does not block it: a new baseline replaces the
        # old one on purpose.
        broken = [r for r in rows if r.status in ("FAIL", "missing", "invalid")]
        if broken:
            notes.append(f"baseline not written to {args.write_baseline}: {len(broken)} "
                         "figure(s) failed, missing or invalid (fix them or rerun on an idle "
                         "machine)")
        else:
            try:
                notes += write_baseline(Path(args.write_baseline), reports)
            except InputError as err:
                print(f"{PROG}: error: {err}", file=sys.stderr)
                return 2
    judged = {p.report["scenario"] for p in reports if p.report is not None}
    notes += [f"baseline {path}: no report of scenario {s!r} to compare with"
              for s, (path, _) in base.explicit.items() if s not in judged]

    compared = any(r.baseline is not None for r in rows)
    if rows:
        print("\n".join(render(rows, args.max_slip, compared, len(reports) > 1)))
    if unjudged:
        print(f"\nnot judged here ({len(unjudged)}: no report given claims them; each with the "
              "run that judges it):")
        cells: list[tuple[str, ...]] = [("id", "threshold", "why not here", "judged by")]
        cells += [(t.ident, t.name, why, t.judged_by()) for t, why in unjudged]
        print("\n".join("  " + line for line in _table(cells, range(4))))
    for note in notes:
        print(note)
    count = {s: sum(r.status == s for r in rows)
             for s in ("PASS", "FAIL", "SLIP", "missing", "invalid")}
    slips = sum(r.ratio is not None for r in rows)
    print(f"{len(rows)} figures: {count['PASS']} passed, {count['FAIL']} failed, "
          f"{count['SLIP']} slipped, {count['missing']} missing, {count['invalid']} invalid; "
          f"{len(unjudged)} thresholds not judged here; {slips} compared with a baseline"
          + (f" (max slip {args.max_slip:g}x)" if slips else ""))
    bad = [f"{r.name} ({r.status})" for r in rows
           if r.status in ("FAIL", "SLIP", "invalid")
           or (args.fail_missing and r.status == "missing") or r.slipped]
    bad += problems
    if bad:
        print(f"{PROG}: not ok: " + ", ".join(bad))
    return 1 if bad else 0


def _judge_all(thresholds: Sequence[Threshold], reports: Sequence[Part], base: Baselines,
               args: argparse.Namespace, notes: list[str]
               ) -> tuple[list[Row], list[tuple[Threshold, str]], list[str]]:
    """Every threshold on every report that claims it; those no report claims, and why."""
    rows: list[Row] = []
    problems: list[str] = []
    why_not: dict[str, str] = {}
    claimed: set[str] = set()
    not_done: set[str] = set()
    for part in reports:
        if part.error:
            rows.append(Row(None, part.name, Figure(None), "FAIL", label=f"scenario "
                            f"{part.name.rpartition('#')[2]}",
                            note=f"the scenario failed in the all run: {part.error}"))
        if part.report is None:
            continue
        scenario = part.report["scenario"]
        chosen = [t for t in thresholds if t.scenario == scenario]
        if not chosen:
            notes.append(f"{part.name}: no thresholds for scenario {scenario!r}")
        baseline, ratio_only = _baseline_for(part, base, args, notes, not_done, chosen)
        for t in chosen:
            ok, why = claims(t, part.report)
            if ok is False:
                why_not.setdefault(t.name, f"{part.name}: {why}")
                continue
            claimed.add(t.name)
            if ok is None:
                rows.append(Row(t, part.name, Figure(None, why), "missing"))
                continue
            compare = baseline if (t.slip and (t.ratio or not ratio_only)) else None
            rows.append(judge(t, part.report, part.name, compare, args.max_slip))
    problems += sorted(not_done)
    unjudged: list[tuple[Threshold, str]] = []
    for t in thresholds:
        if t.name in claimed:
            continue
        why = why_not.get(t.name, f"no {t.scenario} report")
        unjudged.append((t, why))
        if args.run and t.run == args.run:
            rows.append(Row(t, "-", Figure(None), "FAIL",
                            note=f"its run is {args.run!r} but no report given claims it "
                                 f"({why})"))
    return rows, unjudged, problems


def _baseline_for(part: Part, base: Baselines, args: argparse.Namespace, notes: list[str],
                  not_done: set[str], chosen: Sequence[Threshold]
                  ) -> tuple[dict[str, Any] | None, bool]:
    """The baseline ``part`` is compared with, and whether only its ratio figures are.

    An explicit ``--baseline`` of the scenario comes first; then the committed baseline of the
    report's machine class. Where a class baseline was asked for and is absent, one note says
    the slip check was not done (and, with ``--require-baseline``, it becomes a problem).
    """
    assert part.report is not None
    scenario = part.report["scenario"]
    if scenario in base.explicit:
        return base.explicit[scenario][1], False
    if not args.baseline_dir or not any(t.ratio and t.slip for t in chosen):
        return None, True
    cls = _class_of(part.report)
    hint = "write one with `make perf-baseline` on such a machine and commit it"
    if not cls:
        message = (f"slip check not done for {part.name}: the report does not say its machine "
                   f"class (machine.cpu_class)")
    elif not base.classes.get(cls):
        message = (f"slip check not done: no baseline for machine class {cls} under "
                   f"{args.baseline_dir} ({hint})")
    elif (cls, scenario) not in base.by_class:
        message = (f"slip check not done for {part.name}: no {scenario} report in "
                   f"{base.classes[cls]} ({hint})")
    else:
        return base.by_class[(cls, scenario)][1], True
    if message not in notes:
        notes.append(message)
    if args.require_baseline:
        not_done.add("slip check not done (--require-baseline)")
    return None, True


if __name__ == "__main__":
    sys.exit(main())
