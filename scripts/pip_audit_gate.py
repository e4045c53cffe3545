"""The security gate's verdict on a pip-audit run: one of three states, and an exit status.

Usage: ``python scripts/pip_audit_gate.py REPORT.json EXIT_STATUS STDERR_FILE`` (what
``make audit`` passes: pip-audit's JSON report, its exit status, its standard error).

The last line printed always starts ``pip-audit: `` and names the state:

- ``AUDITED CLEAN`` (exit 0): pip-audit exited 0 and its report lists at least one dependency,
  every one audited (a version and an empty list of vulnerabilities). The only skip allowed is
  an editable install (the project itself, which ``--skip-editable`` leaves out), named in the line.
- ``FINDING`` (exit 1): a known vulnerability in the report, a partial report included; one line
  per vulnerable package names it, its version and the advisory ids before the summary.
- ``NOT AUDITED`` (exit 3): anything else, with the reason: the vulnerability database
  unreachable, a timeout, a partial audit (N of M), an empty dependency list, a crash, or a report
  the gate does not recognise. It is never a pass; exit 3 lets the caller decide whether it fails
  (``make audit`` reports it without failing unless ``AUDIT_STRICT=1``).

Bad arguments (or a named file that does not exist) get one line on stderr and exit 2.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLEAN, FINDING, NOT_AUDITED = 0, 1, 3
# pip-audit's skip reason for an editable install: the project under audit, not a dependency.
EDITABLE = "distribution marked as editable"
# pip-audit's PyPI service on a 404 from the per-version JSON API: no advisory data was reached.
NOT_ON_PYPI = "Dependency not found on PyPI and could not be audited"
# coreutils `timeout` exits 124 when it stops the command, 137 when it had to kill it.
TIMEOUT_STATUSES = (124, 137)
TIMEOUT_WORDS = ("Timeout", "timed out")
UNREACHABLE_WORDS = ("ConnectionError", "Connection refused", "NameResolutionError",
                     "Failed to resolve", "Max retries exceeded", "Network is unreachable",
                     "Temporary failure in name resolution", "ProxyError", "SSLError",
                     "network may be blocking")
# The reasons a run is NOT AUDITED, as its summary line names them.
UNREACHABLE, TIMEOUT, PARTIAL = "vulnerability database unreachable", "timeout", "partial audit"
EMPTY, CRASH, UNRECOGNISED = "empty dependency list", "crash", "report not recognised"
WIDTH = 200  # characters of pip-audit's own text quoted in a line
NAMES = 5  # packages named in a line before "+N more"


@dataclass(frozen=True)
class Dependency:
    """One entry of pip-audit's ``dependencies``: audited (``vulns`` set) or skipped."""

    name: str
    version: str | None
    vulns: list[dict[str, Any]] | None
    skip_reason: str | None


@dataclass(frozen=True)
class Verdict:
    """The gate's state (its exit status) and the lines it prints, the summary last."""

    state: int
    lines: tuple[str, ...]


class UnrecognisedReportError(ValueError):
    """A report that is not pip-audit's JSON format as the gate knows it."""


def _text(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise UnrecognisedReportError(f"an entry without a {key!r} string: {str(entry)[:80]}")
    return value


def parse_report(text: str) -> list[Dependency]:
    """pip-audit's ``-f json`` report as dependencies, or :class:`UnrecognisedReportError`."""
    if not text.strip():
        raise UnrecognisedReportError("empty report")
    try:
        data = json.loads(text)
    except ValueError as err:
        raise UnrecognisedReportError(f"not JSON ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        raise UnrecognisedReportError("no 'dependencies' list")
    deps = []
    for entry in data["dependencies"]:
        if not isinstance(entry, dict):
            raise UnrecognisedReportError(f"a dependency that is not an object: {str(entry)[:80]}")
        name = _text(entry, "name")
        if "skip_reason" in entry:
            deps.append(Dependency(name, None, None, _text(entry, "skip_reason")))
            continue
        vulns = entry.get("vulns")
        if not isinstance(vulns, list) or not all(
                isinstance(v, dict) and isinstance(v.get("id"), str) for v in vulns):
            raise UnrecognisedReportError(f"{name}: no 'vulns' list of advisories with an 'id'")
        deps.append(Dependency(name, _text(entry, "version"), vulns, None))
    return deps


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES])
    return shown + (f" +{len(names) - NAMES} more" if len(names) > NAMES else "")


def _advisory(vuln: dict[str, Any]) -> str:
    aliases = [a for a in vuln.get("aliases") or [] if isinstance(a, str)]
    fixes = [f for f in vuln.get("fix_versions") or [] if isinstance(f, str)]
    named = vuln["id"] + (f" ({', '.join(aliases)})" if aliases else "")
    return f"{named} fixed in {', '.join(fixes)}" if fixes else f"{named} no fix yet"


def _last_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1][:WIDTH] if lines else "no output on stderr"


def _failure(rc: int, stderr: str) -> tuple[str, str]:
    """Why a run with no usable verdict audited nothing: (reason, detail) from status and stderr."""
    detail = f"exit {rc}; {_last_line(stderr)}"
    # Exception and log lines only: a traceback's quoted source lines are indented.
    said = "\n".join(line for line in stderr.splitlines() if line and not line[0].isspace())
    if rc in TIMEOUT_STATUSES or any(word in said for word in TIMEOUT_WORDS):
        return TIMEOUT, detail
    if any(word in said for word in UNREACHABLE_WORDS):
        return UNREACHABLE, detail
    return CRASH, detail


def _not_audited(reason: str, detail: str) -> Verdict:
    return Verdict(NOT_AUDITED, (f"pip-audit: NOT AUDITED ({reason}): {detail}",))


def judge(report: str, rc: int, stderr: str) -> Verdict:
    """The verdict on one pip-audit run: its JSON report text, exit status and stderr text."""
    try:
        deps = parse_report(report)
    except UnrecognisedReportError as err:
        return _not_audited(UNRECOGNISED, str(err)) if rc == 0 else _not_audited(
            *_failure(rc, stderr))
    editable = [d.name for d in deps if d.skip_reason == EDITABLE]
    deps = [d for d in deps if d.skip_reason != EDITABLE]
    audited = [d for d in deps if d.vulns is not None]
    coverage = f"{len(audited)} of {len(deps)} dependencies audited"
    vulnerable = [d for d in audited if d.vulns]
    if vulnerable:
        lines = [f"pip-audit: {d.name} {d.version}: "
                 + "; ".join(_advisory(v) for v in d.vulns or []) for d in vulnerable]
        count = sum(len(d.vulns or []) for d in vulnerable)
        partial = "" if len(audited) == len(deps) else " (a partial audit)"
        lines.append(f"pip-audit: FINDING: {count} known vulnerabilit{'y' if count == 1 else 'ies'}"
                     f" in {_names([f'{d.name} {d.version}' for d in vulnerable])}; "
                     f"{coverage}{partial}")
        return Verdict(FINDING, tuple(lines))
    if rc != 0:
        return _not_audited(*_failure(rc, stderr))
    if not deps:
        return _not_audited(EMPTY, "pip-audit listed no dependency to audit")
    skipped: dict[str, list[str]] = {}
    for d in deps:
        if d.skip_reason is not None:
            skipped.setdefault(d.skip_reason.split(": ")[0][:WIDTH], []).append(d.name)
    if skipped:
        why = "; ".join(f"{len(names)} skipped ({_names(names)}): {reason}"
                        for reason, names in skipped.items())
        reason = UNREACHABLE if not audited and set(skipped) == {NOT_ON_PYPI} else PARTIAL
        return _not_audited(reason, f"{coverage}; {why}")
    note = f" (editable, not audited: {_names(editable)})" if editable else ""
    return Verdict(CLEAN, (
        f"pip-audit: AUDITED CLEAN: {coverage}, no known vulnerabilities{note}",))


def main(argv: list[str] | None = None) -> int:
    """Entry point: REPORT.json EXIT_STATUS STDERR_FILE; prints the verdict, returns its state."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or not args[1].lstrip("-").isdigit():
        print("pip_audit_gate: error: usage: pip_audit_gate.py REPORT.json EXIT_STATUS "
              "STDERR_FILE", file=sys.stderr)
        return 2
    texts = []
    for name in (args[0], args[2]):
        try:
            texts.append(Path(name).read_text(errors="replace"))
        except OSError as err:
            print(f"pip_audit_gate: error: cannot read {name}: {err.strerror}",
                  file=sys.stderr)
            return 2
    verdict = judge(texts[0], int(args[1]), texts[1])
    print("\n".join(verdict.lines))
    return verdict.state


if __name__ == "__main__":
    raise SystemExit(main())
