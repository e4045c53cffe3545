#!/usr/bin/env python3
"""TEST-MATRIX gate: every row whose status says "passing" is backed by checks `make test` runs.

Reads the matrix's tables (any table with ``id``, ``checked by`` and ``status`` columns) and,
for each row whose status starts with "passing", lists the checks its "checked by" cell names:

- tests: ``tests/FILE.py::name`` (a class too: ``::Class::name``); ``::name`` or a bare
  ``test_name`` is in the file of the reference before it; ``tests/FILE.py`` alone is every test
  of the file; ``tests/`` the whole suite;
- scripts (``scripts/NAME.py``) and tool commands (``ruff check .``, ``mypy --strict ...``): run
  by a recipe that ``make test`` reaches in the Makefile;
- bench runs (``cybermesh bench --scenario X``, bench ``--scenario X``, bench ``X ...``);
- ``make TARGET``, and other rows by id (``F1``).

Then it confirms each check. A test must be collected by pytest (``pytest --collect-only -q``
in the repository, or ``--collected FILE`` holding that output), and with ``--junit FILE`` (the
JUnit XML of the ``make unit`` run) it must have run and passed, not skipped: a parametrised
test in every case, a file in every test (the suite: none failed). A script or command must be
in a recipe ``make test`` reaches. A row whose only checks are bench runs is backed only when
``make perf`` runs each scenario (the ``--scenario`` names of the Makefile's ``perf`` target, or
``--perf-scenarios``). A row with no check at all falls back to the ``make TARGET`` of its
command column. A row it names must be passing itself.

Prints one line per problem (``FILE:LINE: ID: problem``), ``--list`` each passing row's checks,
then a summary. Exits 1 when a passing row is not backed, 2 on bad input, else 0.
Usage: ``python scripts/check_test_matrix.py [--junit test-results/junit.xml] [MATRIX]``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
PROG = "check_test_matrix"

#: Tools whose commands a matrix row may name as its check (first word of a code span).
COMMANDS = frozenset({"ruff", "flake8", "mypy", "mkdocs", "pytest", "yamale", "pip-audit",
                      "detect-secrets", "detect-secrets-hook"})
#: The scenarios of ``cybermesh bench`` (game.app.cli.SCENARIO_NAMES: a test checks that they agree;
#: the gate runs without importing the package).
SCENARIOS = frozenset({"all", "ca", "detect", "embed", "energy", "full", "glider", "pulse",
                       "routing", "throughput", "view", "web"})

_SPAN = re.compile(r"`([^`]*)`")
_TEST_REF = re.compile(r"(tests/[\w/.-]+\.py)((?:::[\w.\-\[\],]+)*)")
_ROW_ID = re.compile(r"\b([A-Z]\d+[a-z]?)\b")


class BadInputError(Exception):
    """Input the gate cannot read: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line and exit 2."""
        self.exit(2, f"{PROG}: error: {message}\n")


# --- the matrix --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a matrix table: its id, line number and cells by lower-case header."""

    id: str
    line: int
    cells: dict[str, str]

    @property
    def status(self) -> str:
        """The status cell without markdown emphasis."""
        return self.cells.get("status", "").replace("*", "").strip()

    @property
    def passing(self) -> bool:
        """Whether the row claims "passing"."""
        return self.status.lower().startswith("passing")


def split_cells(line: str) -> list[str]:
    """The cells of a markdown table line; ``|`` inside code spans or escaped does not split."""
    cells: list[str] = []
    cur: list[str] = []
    in_code = False
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] == "|":
            cur.append("|")
            i += 2
            continue
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    cells.append("".join(cur).strip())
    return cells


def parse_matrix(text: str) -> list[Row]:
    """Every row of every table with ``id``, ``checked by`` and ``status`` columns."""
    rows: list[Row] = []
    lines = text.splitlines()
    i = 0
    tables = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.lstrip().startswith("|") and re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", nxt) \
                and "-" in nxt:
            header = [h.lower() for h in split_cells(line)]
            i += 2
            body: list[tuple[int, list[str]]] = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                body.append((i + 1, split_cells(lines[i])))
                i += 1
            if not {"id", "checked by", "status"} <= set(header):
                continue
            tables += 1
            for number, cells in body:
                if len(cells) != len(header):
                    raise BadInputError(f"line {number}: {len(cells)} cells, the table has "
                                        f"{len(header)} columns")
                named = dict(zip(header, cells, strict=True))
                rows.append(Row(named["id"], number, named))
            continue
        i += 1
    if not tables:
        raise BadInputError("no table with id, checked by and status columns")
    seen: set[str] = set()
    for row in rows:
        if row.id in seen:
            raise BadInputError(f"line {row.line}: row id {row.id} appears twice")
        seen.add(row.id)
    return rows


@dataclass(frozen=True, slots=True)
class Check:
    """One check a row names: ``kind`` (test, file, suite, script, command, bench, make, row)."""

    kind: str
    ref: str

    def __str__(self) -> str:
        return {"bench": f"bench {self.ref}", "make": f"make {self.ref}",
                "row": f"row {self.ref}", "command": f"`{self.ref}`"}.get(self.kind, self.ref)


@dataclass(slots=True)
class Parsed:
    """A row's checks and the problems found while reading them."""

    checks: list[Check] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, check: Check) -> None:
        """Add ``check`` once."""
        if check not in self.checks:
            self.checks.append(check)


def _bench_scenario(span: str, after_bench_word: bool) -> str | None:
    """The scenario a bench reference runs (``?NAME`` when NAME is no scenario), else None."""
    words = span.split()
    if not words:
        return None
    if words[:2] == ["cybermesh", "bench"] or words[:1] == ["bench"]:
        after_bench_word = True
        words = words[2:] if words[0] == "cybermesh" else words[1:]
    if not after_bench_word:
        return None
    for k, word in enumerate(words):
        if word.startswith("--scenario="):
            return word.split("=", 1)[1]
        if word == "--scenario" and k + 1 < len(words):
            return words[k + 1]
    if not words or words[0].startswith("-"):
        return "ca"  # cybermesh bench's default scenario
    return words[0] if words[0] in SCENARIOS else f"?{words[0]}"


def checks_of(row: Row, ids: Iterable[str]) -> Parsed:
    """The checks the row's "checked by" cell names, in order."""
    out = Parsed()
    known = set(ids) - {row.id}
    text = row.cells.get("checked by", "")
    current: str | None = None  # the test file ``::name`` refers to
    last_bench = False
    pos = 0
    for m in _SPAN.finditer(text):
        before = text[pos:m.start()]
        pos = m.end()
        for rid in _ROW_ID.findall(before):
            if rid in known:
                out.add(Check("row", rid))
        span = m.group(1).strip()
        bench_word = bool(re.search(r"\bbench\s*$", before))
        if last_bench and span.startswith("--") and "--scenario" not in span \
                and re.fullmatch(r"[\s,;]*", before):
            continue  # more flags of the bench run just named
        last_bench = False
        test = _TEST_REF.fullmatch(span.split()[0]) if span.split() else None
        if test:
            current = test.group(1)
            if test.group(2):
                out.add(Check("test", current + test.group(2)))
            else:
                out.add(Check("file", current))
            continue
        if re.fullmatch(r"(::[\w.\-\[\],]+)+", span) or re.fullmatch(r"test_\w+", span):
            if current is None:
                out.problems.append(f"`{span}` has no test file before it")
            else:
                out.add(Check("test", current + (span if span.startswith("::") else f"::{span}")))
            continue
        if span in ("tests", "tests/"):
            out.add(Check("suite", "tests/"))
            continue
        scenario = _bench_scenario(span, bench_word)
        if scenario is not None:
            out.add(Check("bench", scenario))
            last_bench = True
            continue
        words = span.split()
        if words and re.fullmatch(r"scripts/[\w.-]+\.py", words[0]):
            out.add(Check("script", words[0]))
        elif len(words) >= 2 and words[0] == "make":
            out.add(Check("make", words[1]))
        elif words and words[0] in COMMANDS:
            out.add(Check("command", " ".join(words)))
    for rid in _ROW_ID.findall(text[pos:]):
        if rid in known:
            out.add(Check("row", rid))
    return out


# --- the Makefile -------------------------------------------------------------------------------


@dataclass(slots=True)
class Makefile:
    """Targets, their prerequisites and recipes (variables expanded)."""

    prereqs: dict[str, list[str]] = field(default_factory=dict)
    recipes: dict[str, list[str]] = field(default_factory=dict)

    def reachable(self, target: str) -> list[str]:
        """``target`` and every target it depends on or runs with ``make``, in visiting order."""
        seen: list[str] = []
        todo = [target]
        while todo:
            t = todo.pop(0)
            if t in seen or t not in self.prereqs:
                continue
            seen.append(t)
            todo.extend(self.prereqs[t])
            for line in self.recipes[t]:
                todo.extend(re.findall(r"(?:\$\(MAKE\)|\bmake)\s+([\w.-]+)", line))
        return seen

    def text(self, target: str) -> str:
        """The recipes ``make target`` runs, one normalised command text."""
        lines = [line for t in self.reachable(target) for line in self.recipes[t]]
        return normalise(" \n ".join(lines))

    def scenarios(self, target: str = "perf") -> list[str]:
        """The ``--scenario`` names of the bench runs in ``target``'s recipes, in order."""
        names: list[str] = []
        for line in self.recipes.get(target, []):
            for name in re.findall(r"--scenario[ =](\$?[\w-]+)", line):
                # A shell loop's variable stands for the words of its ``for VAR in ...;``.
                loop = re.search(rf"\bfor {re.escape(name[1:])} in ([^;]*);", line) \
                    if name.startswith("$") else None
                for word in loop.group(1).split() if loop else [name]:
                    if not word.startswith("$") and word not in names:
                        names.append(word)
        return names


def normalise(command: str) -> str:
    """A command without virtualenv prefixes and with single spaces."""
    command = re.sub(r"(?:\S*/)?\.venv/bin/", "", command)
    return re.sub(r"\s+", " ", command).strip()


def parse_makefile(text: str) -> Makefile:
    """Variables (``=``, ``:=``, ``?=``), targets and their recipes of a simple Makefile."""
    variables: dict[str, str] = {}
    logical: list[str] = []
    for raw in text.splitlines():
        if logical and logical[-1].endswith("\\"):
            logical[-1] = logical[-1][:-1] + " " + raw.strip()
        else:
            logical.append(raw)

    def expand(s: str, depth: int = 0) -> str:
        if depth > 10:
            return s
        out = re.sub(r"\$\(([A-Za-z_][\w]*)\)",
                     lambda m: variables.get(m.group(1), m.group(0)), s)
        return out if out == s else expand(out, depth + 1)

    mk = Makefile()
    current: str | None = None
    for line in logical:
        if line.startswith("\t"):
            if current is not None:
                mk.recipes[current].append(expand(line.strip().replace("$$", "$")))
            continue
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped.strip():
            continue
        var = re.match(r"(?:export\s+)?([A-Za-z_]\w*)\s*(:=|\?=|\+=|=)\s*(.*)$", stripped)
        if var:
            name, op, value = var.group(1), var.group(2), var.group(3).strip()
            if op == "+=":
                variables[name] = f"{variables.get(name, '')} {value}".strip()
            elif op != "?=" or name not in variables:
                variables[name] = value
            current = None
            continue
        rule = re.match(r"([^:=]+):(?![=:])\s*(.*)$", stripped)
        if rule:
            current = None
            for name in expand(rule.group(1)).split():
                if name.startswith("."):
                    continue
                mk.prereqs.setdefault(name, [])
                mk.prereqs[name].extend(w for w in expand(rule.group(2)).split() if w != "|")
                mk.recipes.setdefault(name, [])
                current = name
    return mk


# --- what ran -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one collected or run test node ended: passed, skipped, failed, or collected."""

    node: str
    state: str


def read_junit(path: Path, root: Path) -> list[Outcome]:
    """Every test case of a pytest JUnit XML report, as node ids and their states."""
    try:
        tree = ET.parse(path)  # noqa: S314 - pytest's own report of this checkout's run
    except (OSError, ET.ParseError) as e:
        raise BadInputError(f"{path}: not a readable JUnit XML report ({e})") from None
    out: list[Outcome] = []
    for case in tree.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        parts = classname.split(".")
        node = None
        file_attr = case.get("file")
        for k in range(len(parts), 0, -1):
            path_k = "/".join(parts[:k]) + ".py"
            if (root / path_k).exists() or path_k == file_attr:
                node = "::".join([path_k, *parts[k:], name])
                break
        if node is None:
            node = "::".join([classname.replace(".", "/") + ".py", name])
        if case.find("failure") is not None or case.find("error") is not None:
            state = "failed"
        elif case.find("skipped") is not None:
            state = "skipped"
        else:
            state = "passed"
        out.append(Outcome(node, state))
    if not out:
        raise BadInputError(f"{path}: no test cases in the JUnit report")
    return out


def read_collected(text: str) -> list[Outcome]:
    """The node ids of ``pytest --collect-only -q`` output."""
    return [Outcome(line.strip(), "collected") for line in text.splitlines()
            if re.match(r"[\w./-]+\.py::", line.strip())]


def collect(root: Path) -> list[Outcome]:
    """Run ``pytest --collect-only -q`` in ``root`` and read its node ids."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
            cwd=root, capture_output=True, text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired:
        raise BadInputError("pytest --collect-only did not finish in 900 s") from None
    nodes = read_collected(proc.stdout)
    if proc.returncode not in (0, 5) or not nodes:
        last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise BadInputError(f"pytest --collect-only failed (exit {proc.returncode}): {last[0]}")
    return nodes


# --- judging ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the gate knows: test outcomes, the Makefile, and what ``make perf`` runs."""

    outcomes: list[Outcome]
    ran: bool  # True for a JUnit report (passed / skipped / failed), False for a collection
    makefile: Makefile
    perf_scenarios: list[str]
    root: Path

    def matching(self, ref: str) -> list[Outcome]:
        """Outcomes of the node ``ref``: itself, its parametrised cases, or a file's tests."""
        if ref.endswith(".py"):
            return [o for o in self.outcomes if o.node.startswith(ref + "::")]
        return [o for o in self.outcomes if o.node == ref or o.node.startswith(ref + "[")
                or o.node.startswith(ref + "::")]


def _judge_tests(check: Check, ev: Evidence) -> str | None:
    """The problem with a test, file or suite check, else None."""
    if check.kind == "suite":
        found = [o for o in ev.outcomes if o.node.startswith("tests/")]
        failed = [o for o in found if o.state == "failed"]
        if not found:
            return "tests/: no test collected"
        return f"tests/: {len(failed)} failed" if failed else None
    path = check.ref.split("::", 1)[0]
    if not (ev.root / path).is_file():
        return f"{check.ref}: no such file {path}"
    found = ev.matching(check.ref)
    if not found:
        if ev.ran:
            return f"{check.ref}: not in the JUnit report (did not run in make unit)"
        return f"{check.ref}: not collected by pytest --collect-only"
    bad = [o for o in found if o.state in ("failed", "skipped")]
    if not bad:
        return None
    names = ", ".join(o.node.split("::", 1)[1] for o in bad[:3])
    more = " ..." if len(bad) > 3 else ""
    states = " / ".join(sorted({o.state for o in bad}))
    return f"{check.ref}: {len(bad)} of {len(found)} {states}: {names}{more}"


def judge(rows: Sequence[Row], ev: Evidence) -> tuple[dict[str, Parsed], dict[str, list[str]]]:
    """Each passing row's checks, and its problems (none: the row is backed)."""
    ids = [r.id for r in rows]
    by_id = {r.id: r for r in rows}
    make_text = ev.makefile.text("test")
    test_targets = set(ev.makefile.reachable("test"))
    listed: dict[str, Parsed] = {}
    problems: dict[str, list[str]] = {}
    for row in rows:
        if not row.passing:
            continue
        parsed = checks_of(row, ids)
        if not any(c.kind != "bench" for c in parsed.checks):
            # No test, script or command: the command column's make target, if it names one.
            for target in re.findall(r"`make ([\w.-]+)", row.cells.get("command", "")):
                parsed.add(Check("make", target))
        listed[row.id] = parsed
        found = list(parsed.problems)
        bench_only = all(c.kind == "bench" for c in parsed.checks)
        if not parsed.checks and not parsed.problems:
            found.append("no check that make test runs (no test, script, command or bench named)")
        for check in parsed.checks:
            problem: str | None = None
            if check.kind in ("test", "file", "suite"):
                problem = _judge_tests(check, ev)
            elif check.kind == "script":
                if not (ev.root / check.ref).is_file():
                    problem = f"{check.ref}: no such file"
                elif check.ref not in make_text:
                    problem = f"{check.ref}: not run by make test"
            elif check.kind == "command":
                if normalise(check.ref) not in make_text:
                    problem = f"`{check.ref}`: not run by make test"
            elif check.kind == "make":
                if check.ref not in test_targets:
                    problem = f"make {check.ref}: not part of make test"
            elif check.kind == "row":
                if not by_id[check.ref].passing:
                    problem = f"names row {check.ref}, which is not passing"
            elif check.kind == "bench" and bench_only:
                runs = ", ".join(ev.perf_scenarios) or "none"
                if check.ref.startswith("?"):
                    problem = (f"bench {check.ref[1:]}: not a bench scenario, and the row has "
                               "no other check")
                elif check.ref not in ev.perf_scenarios:
                    problem = (f"bench only, and make perf does not run --scenario {check.ref} "
                               f"(it runs: {runs})")
            if problem:
                found.append(problem)
        problems[row.id] = found
    return listed, problems


def main(argv: Sequence[str] | None = None) -> int:
    """Check the matrix; print problems and a summary; exit 0, 1 or 2."""
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("matrix", nargs="?", default="TEST-MATRIX.md", help="the matrix file")
    parser.add_argument("--junit", help="the JUnit XML report of the make unit run")
    parser.add_argument("--collected", help="saved `pytest --collect-only -q` output (instead "
                        "of running it; ignored with --junit)")
    parser.add_argument("--makefile", default="Makefile", help="the Makefile (default Makefile)")
    parser.add_argument("--perf-scenarios", help="comma-separated scenarios make perf runs "
                        "(default: the --scenario names of the Makefile's perf target)")
    parser.add_argument("--root", default=str(ROOT), help="the repository root (default: this "
                        "script's checkout); relative paths are read from it")
    parser.add_argument("--list", action="store_true", help="print each passing row's checks")
    args = parser.parse_args(argv)
    root = Path(args.root)
    try:
        if not root.is_dir():
            raise BadInputError(f"--root {root}: not a directory")
        matrix_path = root / args.matrix
        try:
            rows = parse_matrix(matrix_path.read_text(encoding="utf-8"))
        except OSError as e:
            raise BadInputError(f"{args.matrix}: cannot read ({e.strerror})") from None
        except BadInputError as e:
            raise BadInputError(f"{args.matrix}: {e}") from None
        try:
            makefile = parse_makefile((root / args.makefile).read_text(encoding="utf-8"))
        except OSError as e:
            raise BadInputError(f"{args.makefile}: cannot read ({e.strerror})") from None
        if "test" not in makefile.prereqs:
            raise BadInputError(f"{args.makefile}: no test target")
        if args.perf_scenarios is not None:
            perf = [s.strip() for s in args.perf_scenarios.split(",") if s.strip()]
        else:
            perf = makefile.scenarios("perf")
        if args.junit:
            outcomes, ran, source = read_junit(root / args.junit, root), True, args.junit
        elif args.collected:
            try:
                text = (root / args.collected).read_text(encoding="utf-8")
            except OSError as e:
                raise BadInputError(f"{args.collected}: cannot read ({e.strerror})") from None
            outcomes, ran, source = read_collected(text), False, args.collected
            if not outcomes:
                raise BadInputError(f"{args.collected}: no test node ids in it")
        else:
            outcomes, ran, source = collect(root), False, "pytest --collect-only"
    except BadInputError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    ev = Evidence(outcomes, ran, makefile, perf, root)
    listed, problems = judge(rows, ev)
    if args.list:
        for rid, parsed in listed.items():
            print(f"{rid}: " + ("; ".join(str(c) for c in parsed.checks) or "(no checks)"))
    line_of = {r.id: r.line for r in rows}
    count = 0
    for rid, found in problems.items():
        for problem in found:
            print(f"{args.matrix}:{line_of[rid]}: {rid}: {problem}")
            count += 1
    bad = [rid for rid, found in problems.items() if found]
    print(f"test matrix: {len(problems)} passing rows, {len(problems) - len(bad)} backed, "
          f"{len(bad)} not ({count} problems{': ' + ', '.join(bad) if bad else ''}); tests "
          f"{'run and passed in' if ran else 'collected by'} {source}; make perf runs "
          f"{', '.join(perf) or 'no bench'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
