"""The suite's own rules: one kind marker per test, skips only through need(), and the shared
helpers of tests/helpers.py holding what they promise."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from game.engine.events import Population, Stop, encode_events
from game.paths import ROOT
from tests.conftest import need
from tests.helpers import (
    assert_one_line,
    assert_one_line_error,
    busy_port,
    free_port,
    read_events,
    run_unprivileged,
)

PROBE = '''
import pathlib

import pytest

RAN = pathlib.Path(__file__).with_name("ran")


@pytest.mark.unit
def test_marked():
    RAN.write_text("a test ran")


def test_unmarked():
    RAN.write_text("a test ran")


@pytest.mark.unit
@pytest.mark.integration
def test_two_kinds():
    RAN.write_text("a test ran")
'''


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest with this project's settings and conftest on the test files of ``folder``."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir",
         str(folder), "-p", "tests.conftest", "-q", *args, str(folder)],
        capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.integration
def test_a_test_without_exactly_one_kind_stops_the_run_naming_it(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    result = run_pytest(tmp_path)
    assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
    assert "2 test(s) need exactly one of the markers" in result.stderr, result.stderr
    assert "test_probe.py::test_unmarked: no kind" in result.stderr
    assert "test_probe.py::test_two_kinds: integration, unit" in result.stderr
    assert "test_marked" not in result.stderr
    assert not (tmp_path / "ran").exists()  # refused before any test ran


@pytest.mark.integration
def test_a_suite_with_one_kind_per_test_runs(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(
        "import pytest\n\npytestmark = pytest.mark.hardware\n\n\ndef test_a():\n    pass\n\n\n"
        "@pytest.mark.parametrize('n', [1, 2])\ndef test_b(n):\n    assert n\n")
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


@pytest.mark.unit
def test_need_skips_on_a_users_machine_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    need(True, "never shown")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="bgolly is missing"):
        need(False, "bgolly is missing")
    for value in ("true", "True", " TRUE "):
        monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.fail.Exception, match="CI=true but bgolly is missing"):
            need(False, "bgolly is missing")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        need(False, "bgolly is missing")


@pytest.mark.unit
def test_the_one_line_error_check_refuses_every_other_shape() -> None:
    good = "cybermesh: error: x.rle: line 2: bad run\n"
    assert_one_line_error(2, good, "x.rle", "line 2")
    assert_one_line("x.rle: line 2: bad run", "line 2")
    bad_cases = [
        (1, good, ()),  # not exit 2
        (0, "", ()),
        (2, "cybermesh: error: x.rle: line 2: bad run", ()),  # no newline: not a line
        (2, good + "more\n", ()),  # two lines
        (2, "\n" + good, ()),  # a blank line first
        (2, "warning: slow\n" + good, ()),  # anything else on stderr
        (2, "cybermesh: error: a\rb\n", ()),
        (2, "bad run in line 2 of x.rle\n", ()),  # no program names itself
        (2, "cybermesh: internal error: KeyError: 'x'\n", ()),
        (2, "cybermesh: error: Traceback (most recent call last)\n", ()),
        (2, good, ("line 3",)),  # the problem is not named
        (2, "   \n", ()),
    ]
    for code, err, words in bad_cases:
        with pytest.raises(AssertionError):
            assert_one_line_error(code, err, *words)
    for message in ("", " ", "two\nlines", "a\r", "Traceback: x"):
        with pytest.raises(AssertionError):
            assert_one_line(message)


@pytest.mark.unit
def test_the_unprivileged_case_cannot_read_what_its_owner_locked() -> None:
    def case(home: Path) -> tuple[int, bool, bool]:
        locked = home / "locked.txt"
        locked.write_text("secret")
        locked.chmod(0)
        return os.geteuid(), os.access(locked, os.R_OK), os.access(home, os.W_OK)

    uid, readable, home_writable = run_unprivileged(case)
    assert uid != 0 and not readable and home_writable


@pytest.mark.unit
def test_a_failure_in_the_unprivileged_case_fails_the_test_with_its_traceback() -> None:
    def case(home: Path) -> None:
        assert home.name == "elsewhere", "the child's own assertion"

    with pytest.raises(pytest.fail.Exception, match="the child's own assertion"):
        run_unprivileged(case)


@pytest.mark.unit
def test_read_events_checks_every_line_against_the_schema_and_the_encoder() -> None:
    log = encode_events([Population(tick=0, population=3), Stop(tick=1, population=2)])
    assert read_events(log) == [Population(tick=0, population=3), Stop(tick=1, population=2)]
    for bad in (b'{"kind":"stop","tick":1,"population":2,"extra":1}',  # a field nobody knows
                b'{"kind": "stop", "tick": 1, "population": 2}',  # not as the encoder writes it
                b'{"kind":"stop","tick":1}',  # a field missing
                b'{"kind":"nope","tick":1}'):
        with pytest.raises(Exception):  # noqa: B017 - msgspec's error or the canonical check
            read_events(log + bad + b"\n")


@pytest.mark.unit
def test_a_free_port_refuses_connections_and_a_busy_one_is_taken() -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", free_port()), timeout=5).close()
    with busy_port() as port:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", port))
