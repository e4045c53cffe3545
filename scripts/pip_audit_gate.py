"""The security gate's verdict on a pip-audit run: one line, and an exit status.

Usage: ``python scripts/pip_audit_gate.py REPORT.json EXIT_STATUS STDERR_FILE`` (what
``make audit`` passes). Fails only on a real finding. Where the vulnerability database cannot
be reached, pip-audit either crashes with a connection error or (behind a PyPI mirror without
the per-version JSON API) reports every package "not found on PyPI" and exits 0: both get one
line saying nothing was audited, and exit 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OFFLINE = ("Connection", "Resolution", "Max retries", "timed out", "Timeout", "unreachable")


def verdict(report: Path, rc: int, err_file: Path) -> int:
    """Print the verdict on one pip-audit run; returns the gate's exit status."""
    try:
        deps = json.loads(report.read_text())["dependencies"]
    except (OSError, ValueError, KeyError, TypeError):
        try:
            err = err_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            err = []
        last = err[-1] if err else "no output"
        if rc == 124 or any(word in last for word in OFFLINE):
            print("pip-audit: vulnerability database unreachable, nothing audited "
                  f"(not a failure): {last[:160]}")
            return 0
        print(f"pip-audit: failed (exit {rc}): {last[:200]}")
        return 1
    found = [(d["name"], d.get("version", "?"), v) for d in deps for v in d.get("vulns", [])]
    for name, version, v in found:
        fix = ", ".join(v.get("fix_versions", [])) or "none yet"
        print(f"pip-audit: {name} {version}: {v.get('id', '?')} (fixed in: {fix})")
    if found:
        return 1
    audited = sum(1 for d in deps if "skip_reason" not in d)
    if deps and not audited:
        print(f"pip-audit: vulnerability database unreachable, 0 of {len(deps)} packages "
              "audited (not a failure)")
    else:
        print(f"pip-audit: {audited} of {len(deps)} packages audited, no known vulnerabilities")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: REPORT.json EXIT_STATUS STDERR_FILE."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or not args[1].lstrip("-").isdigit():
        print("pip_audit_gate: usage: pip_audit_gate.py REPORT.json EXIT_STATUS STDERR_FILE",
              file=sys.stderr)
        return 2
    return verdict(Path(args[0]), int(args[1]), Path(args[2]))


if __name__ == "__main__":
    raise SystemExit(main())
