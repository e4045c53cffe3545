"""scripts/capture_failure.py: the Failure Handling Protocol's capture step as one command.

In-process, with --out in tmp_path and never --run-tests (that would run this suite again).
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import capture_failure  # noqa: E402

from game.applog import DIR_ENV  # noqa: E402
from tests.helpers import assert_one_line_error, run_main  # noqa: E402

FILES = {"process-snapshot.txt", "disk-usage.txt", "memory-usage.txt", "git-context.txt",
         "git-status.txt", "ISSUE.md"}


def run(argv: list[str]) -> int:
    return run_main(capture_failure.main, argv)


def only_folder(out: Path) -> Path:
    (folder,) = out.iterdir()
    assert re.fullmatch(r"\d{8}-\d{6}", folder.name), folder.name
    return folder


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Logs and test results of this test only, not the checkout's."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "cybermesh.log").write_text("2025-01-01T00:00:00.000+00:00 INFO cybermesh.serve x\n")
    monkeypatch.setenv(DIR_ENV, str(logs))
    results = tmp_path / "test-results"
    results.mkdir()
    (results / "junit.xml").write_text('<testsuites tests="1" failures="1"/>\n')
    (results / "dashboard.png").write_bytes(b"not xml")
    monkeypatch.setattr(capture_failure, "TEST_RESULTS", results)
    return tmp_path


@pytest.mark.unit
def test_captures_every_file_of_the_protocol(isolated: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = isolated / "failures"
    assert run(["--out", str(out), "--gate", "security", "--summary", "pip-audit  found\nx"]) == 0
    folder = only_folder(out)
    assert FILES <= {p.name for p in folder.iterdir()}
    assert "cybermesh.serve x" in (folder / "logs" / "cybermesh.log").read_text()
    assert [p.name for p in (folder / "test-results").iterdir()] == ["junit.xml"]
    assert "PID" in (folder / "process-snapshot.txt").read_text()
    assert str(ROOT) in (folder / "disk-usage.txt").read_text()
    memory = (folder / "memory-usage.txt").read_text()
    assert "Mem:" in memory and "Swap:" in memory
    head = subprocess.run(["git", "log", "--oneline", "-1"], cwd=ROOT, capture_output=True,
                          text=True, check=False).stdout
    if head:  # a checkout with history: its newest commit heads the context
        assert (folder / "git-context.txt").read_text().startswith(head)
    printed = capsys.readouterr().out
    assert str(folder) in printed
    for step in ("TROUBLESHOOTING.md", "REPLICATION-NOTES.md", "HALTING FOR HUMAN INPUT"):
        assert step in printed


@pytest.mark.unit
def test_issue_is_filled_in_and_keeps_the_other_placeholders(isolated: Path) -> None:
    out = isolated / "failures"
    assert run(["--out", str(out), "--gate", "unit", "--summary", "glider test timed out"]) == 0
    issue = (only_folder(out) / "ISSUE.md").read_text()
    assert 'title: "[FAILURE] [unit] glider test timed out"' in issue
    assert re.search(r'date: "\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"', issue)
    assert "**Gate Failed**: unit" in issue
    assert re.search(r"\*\*Commit\*\*: ([0-9a-f]{40}|unknown)\n", issue)
    assert "**Branch**: [branch name]" not in issue
    assert f"**Python**: {sys.version.split()[0]}" in issue
    assert "**Platform**: [OS details]" not in issue
    for placeholder in ("[Step 1]", "[Full error message/stack trace]", "**Task**: [Brief task",
                        "**Modified Files**: [list of changed files]", "severity: \"P0|P1|P2|P3\""):
        assert placeholder in issue


@pytest.mark.unit
def test_without_gate_or_summary_the_template_stays(isolated: Path) -> None:
    out = isolated / "failures"
    assert run(["--out", str(out)]) == 0
    issue = (only_folder(out) / "ISSUE.md").read_text()
    assert "[FAILURE] [Gate/Phase] Brief Description" in issue
    assert "**Gate Failed**: [unit|lint|type|docs|perf|security]" in issue


@pytest.mark.unit
def test_two_captures_in_one_second_do_not_overwrite(isolated: Path) -> None:
    out = isolated / "failures"
    now = datetime(2025, 1, 31, 23, 59, 59)
    first = capture_failure.capture(out, False, None, None, now=now)
    second = capture_failure.capture(out, False, None, None, now=now)
    assert (first.name, second.name) == ("20250131-235959", "20250131-235959-2")


@pytest.mark.unit
def test_no_logs_and_no_results_are_not_errors(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv(DIR_ENV, str(tmp_path / "absent"))
    monkeypatch.setattr(capture_failure, "TEST_RESULTS", tmp_path / "absent-results")
    assert run(["--out", str(tmp_path / "f")]) == 0
    folder = only_folder(tmp_path / "f")
    assert not (folder / "logs").exists() and not (folder / "test-results").exists()


@pytest.mark.unit
@pytest.mark.parametrize(("argv", "message"), [
    (["--gate", "no such gate"], "--gate: expected a gate name"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_bad_arguments_fail_in_one_line(argv: list[str], message: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["--out", str(tmp_path), *argv])
    assert_one_line_error(code, capsys.readouterr().err, message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.unit
def test_an_out_that_is_a_file_fails_in_one_line(isolated: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    blocker = isolated / "failures"
    blocker.write_text("a file")
    code = run(["--out", str(blocker)])
    assert_one_line_error(code, capsys.readouterr().err, "cannot write under")


@pytest.mark.integration
def test_runs_as_a_plain_script(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", DIR_ENV: str(tmp_path / "no-logs")}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "capture_failure.py"),
                           "--out", str(tmp_path / "f"), "--gate", "lint"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "failure captured in" in done.stdout
    assert (only_folder(tmp_path / "f") / "ISSUE.md").is_file()
