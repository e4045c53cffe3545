#!/usr/bin/env python3
"""Capture the state of a failed gate: the development policy's Failure Handling Protocol.

Usage: ``python scripts/capture_failure.py [--out failures] [--run-tests] [--gate NAME]
[--summary TEXT]``.

Creates ``OUT/YYYYmmdd-HHMMSS/`` holding a copy of the application logs (logs/), test results
as JUnit XML (a fresh ``pytest --junit-xml`` with ``--run-tests``, else test-results/*.xml),
process-snapshot.txt, disk-usage.txt, memory-usage.txt, git-context.txt, git-status.txt and an
ISSUE.md filled in from .github/ISSUE_TEMPLATE/failure.md. Prints the folder and the protocol's
remaining manual steps. A step that cannot be captured (no git, say) says why in its file and
the rest goes on. Exits 0 once the folder is written, 2 on bad arguments or an unwritable
``--out`` (one line, no traceback).
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from game.applog import log_dir  # noqa: E402

PROG = "capture_failure"
TEMPLATE = ROOT / ".github" / "ISSUE_TEMPLATE" / "failure.md"
TEST_RESULTS = ROOT / "test-results"
GIT_TIMEOUT = 30
MIB = 1 << 20
GIB = 1 << 30
_GATE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

REMAINING_STEPS = """\
Failure Handling Protocol: step 1 (capture) done; the rest is by hand:
  2. TROUBLESHOOTING.md: add or update an entry (Context, Symptom, Error Snippet, Probable Cause,
     Quick Fix, Permanent Fix, Prevention, Tags)
  3. REPLICATION-NOTES.md: add the pitfall to Known Pitfalls
  4. {issue}: fill in the reproduction steps and error details
  5. FAILURE DETECTED - HALTING FOR HUMAN INPUT: review the logs and living docs before going on"""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line and exit 2."""
        self.exit(2, f"{PROG}: error: {message}\n")


def _git(*args: str) -> tuple[bool, str]:
    """``git ARGS`` in the checkout: (succeeded, its output or the reason it failed)."""
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"git {' '.join(args)}: {err}"
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return False, f"git {' '.join(args)}: {reason[0]}"
    return True, done.stdout


def process_snapshot() -> str:
    """Every Python process: pid, parent, resident memory, start time and command line."""
    lines = [f"{'PID':>7} {'PPID':>7} {'RSS MiB':>8}  {'STARTED':19}  COMMAND"]
    attrs = ["pid", "ppid", "name", "cmdline", "memory_info", "create_time"]
    for proc in psutil.process_iter(attrs):
        info = proc.info
        cmdline = info["cmdline"] or []
        name = info["name"] or ""
        if "python" not in name.lower() and not (cmdline and "python" in cmdline[0].lower()):
            continue
        rss = info["memory_info"].rss / MIB if info["memory_info"] else 0.0
        started = (datetime.fromtimestamp(info["create_time"]).isoformat(timespec="seconds")
                   if info["create_time"] else "?")
        command = " ".join(cmdline) or name
        lines.append(f"{info['pid']:>7} {info['ppid'] or 0:>7} {rss:>8.1f}  {started:19}  "
                     f"{command}")
    return "\n".join(lines) + "\n"


def disk_usage(paths: Sequence[Path]) -> str:
    """Total, used and free space of the file systems holding ``paths``."""
    lines = [f"{'PATH':30} {'TOTAL GiB':>10} {'USED GiB':>10} {'FREE GiB':>10} {'USE%':>5}"]
    for path in paths:
        try:
            du = shutil.disk_usage(path)
        except OSError as err:
            lines.append(f"{str(path):30} cannot read: {err.strerror or err}")
            continue
        lines.append(f"{str(path):30} {du.total / GIB:>10.1f} {du.used / GIB:>10.1f} "
                     f"{du.free / GIB:>10.1f} {100 * du.used / du.total:>4.0f}%")
    return "\n".join(lines) + "\n"


def memory_usage() -> str:
    """Virtual memory and swap, in MiB (what ``free -m`` shows)."""
    vm, swap = psutil.virtual_memory(), psutil.swap_memory()
    return (
        f"{'':6} {'TOTAL':>9} {'USED':>9} {'FREE':>9} {'AVAILABLE':>9} {'USE%':>5}\n"
        f"{'Mem:':6} {vm.total / MIB:>9.0f} {vm.used / MIB:>9.0f} {vm.free / MIB:>9.0f} "
        f"{vm.available / MIB:>9.0f} {vm.percent:>4.0f}%\n"
        f"{'Swap:':6} {swap.total / MIB:>9.0f} {swap.used / MIB:>9.0f} {swap.free / MIB:>9.0f} "
        f"{'':>9} {swap.percent:>4.0f}%\n"
    )


def fill_issue(template: str, when: datetime, gate: str | None, summary: str | None) -> str:
    """The issue template with the date, gate, summary and environment filled in.

    Everything else keeps the template's placeholders, for a human to complete.
    """
    ok, sha = _git("rev-parse", "HEAD")
    ok_branch, branch = _git("rev-parse", "--abbrev-ref", "HEAD")
    fills = [
        ('date: "YYYY-MM-DD HH:MM:SS"', f'date: "{when:%Y-%m-%d %H:%M:%S}"'),
        ("**Commit**: [git sha]", f"**Commit**: {sha.strip() if ok else 'unknown'}"),
        ("**Branch**: [branch name]", f"**Branch**: {branch.strip() if ok_branch else 'unknown'}"),
        ("**Python**: [version]", f"**Python**: {platform.python_version()} ({sys.executable})"),
        ("**Platform**: [OS details]", f"**Platform**: {platform.platform()}"),
    ]
    if gate:
        fills.append(("**Gate Failed**: [unit|lint|type|docs|perf|security]",
                      f"**Gate Failed**: {gate}"))
        fills.append(("[Gate/Phase]", f"[{gate}]"))
    if summary:
        fills.append(("Brief Description", summary.replace('"', "'")))
    for placeholder, value in fills:
        template = template.replace(placeholder, value, 1)
    return template


def _copy_test_results(folder: Path, run_tests: bool) -> str:
    """Test results as JUnit XML into ``folder``; returns what was done, for the summary."""
    if run_tests:
        junit = folder / "test-results.xml"
        with open(folder / "pytest-output.txt", "w", encoding="utf-8") as out:
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", f"--junit-xml={junit}"],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False)
            out.write(f"\npytest exit status: {done.returncode}\n")
        return f"pytest ran (exit {done.returncode}): test-results.xml, pytest-output.txt"
    found = sorted(TEST_RESULTS.glob("*.xml")) if TEST_RESULTS.is_dir() else []
    if not found:
        return "no test results (test-results/*.xml is empty; --run-tests runs pytest)"
    (folder / "test-results").mkdir()
    for xml in found:
        shutil.copy2(xml, folder / "test-results" / xml.name)
    return f"{len(found)} JUnit file(s) copied from test-results/"


def capture(out: Path, run_tests: bool, gate: str | None, summary: str | None,
            now: datetime | None = None) -> Path:
    """Write one failure folder under ``out`` and return it (raises OSError if it cannot)."""
    when = now or datetime.now()
    out.mkdir(parents=True, exist_ok=True)
    folder = out / f"{when:%Y%m%d-%H%M%S}"
    n = 1
    while True:  # two captures in one second get -2, -3, ...: never overwrite one
        try:
            folder.mkdir()
            break
        except FileExistsError:
            n += 1
            folder = out / f"{when:%Y%m%d-%H%M%S}-{n}"

    logs = log_dir()
    if logs.is_dir():
        shutil.copytree(logs, folder / "logs")
    _copy_test_results(folder, run_tests)
    (folder / "process-snapshot.txt").write_text(process_snapshot(), encoding="utf-8")
    paths = [ROOT, Path("/tmp")] if Path("/tmp").is_dir() else [ROOT]  # noqa: S108 - only read
    (folder / "disk-usage.txt").write_text(disk_usage(paths), encoding="utf-8")
    (folder / "memory-usage.txt").write_text(memory_usage(), encoding="utf-8")
    for name, args in (("git-context.txt", ("log", "--oneline", "-10")),
                       ("git-status.txt", ("status", "--porcelain"))):
        _, text = _git(*args)
        (folder / name).write_text(text if text.endswith("\n") or not text else text + "\n",
                                   encoding="utf-8")
    try:
        template = TEMPLATE.read_text(encoding="utf-8")
    except OSError as err:
        template = f"# [FAILURE] [Gate/Phase] Brief Description\n\n(no template: {err})\n"
    (folder / "ISSUE.md").write_text(fill_issue(template, when, gate, summary), encoding="utf-8")
    return folder


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, capture one failure folder, print it and the steps left."""
    ap = _Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=ROOT / "failures", metavar="DIR",
                    help="where the failure folders go (default: failures/ of the checkout)")
    ap.add_argument("--run-tests", action="store_true",
                    help="run the test suite for fresh JUnit XML (default: copy test-results/)")
    ap.add_argument("--gate", metavar="NAME", help="the gate that failed (unit, lint, ...)")
    ap.add_argument("--summary", metavar="TEXT", help="one line on what failed")
    args = ap.parse_args(argv)
    if args.gate is not None and not _GATE.fullmatch(args.gate):
        ap.error(f"--gate: expected a gate name such as unit or security, got {args.gate!r}")
    summary = " ".join(args.summary.split()) if args.summary else None
    try:
        folder = capture(args.out, args.run_tests, args.gate, summary)
    except OSError as err:
        print(f"{PROG}: error: cannot write under {args.out}: {err.strerror or err}",
              file=sys.stderr)
        return 2
    print(f"failure captured in {folder}")
    print(REMAINING_STEPS.format(issue=folder / "ISSUE.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
