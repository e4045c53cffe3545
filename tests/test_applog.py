"""Application logs: one file a day, 14 kept, nothing on the terminal, never failing a run."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from game.applog import (
    BACKUP_DAYS,
    DIR_ENV,
    LOG_FILE,
    LOGGER,
    log_dir,
    redact_argv,
    setup_logging,
)
from tests.helpers import run_unprivileged

pytestmark = pytest.mark.unit

LINE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2} INFO cybermesh\.serve hello 7$"
)


@pytest.fixture(autouse=True)
def _release_handlers() -> Iterator[None]:
    """Each test starts and ends without the cybermesh logger's file open."""
    yield
    base = logging.getLogger(LOGGER)
    for handler in _own_handlers():
        base.removeHandler(handler)
        handler.close()


def _own_handlers() -> list[logging.Handler]:
    """The handlers setup_logging attached (pytest attaches its capture handlers too)."""
    return [h for h in logging.getLogger(LOGGER).handlers
            if isinstance(h, (logging.handlers.TimedRotatingFileHandler, logging.NullHandler))]


def _file_handler() -> logging.handlers.TimedRotatingFileHandler:
    handlers = _own_handlers()
    assert len(handlers) == 1
    assert isinstance(handlers[0], logging.handlers.TimedRotatingFileHandler)
    return handlers[0]


def test_lines_have_iso_time_level_name_and_message(tmp_path: Path) -> None:
    log = setup_logging("serve", tmp_path / "logs")
    log.info("hello %d", 7)
    lines = (tmp_path / "logs" / LOG_FILE).read_text().splitlines()
    assert len(lines) == 1
    assert LINE.match(lines[0]), lines[0]


def test_nothing_reaches_the_terminal(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    log = setup_logging("bench", tmp_path)
    log.warning("to the file only")
    captured = capfd.readouterr()
    assert captured.out == captured.err == ""
    # Not propagated to the root logger, whose handlers (a library's) would print it.
    assert logging.getLogger(LOGGER).propagate is False
    assert "to the file only" in (tmp_path / LOG_FILE).read_text()


def test_safe_to_call_twice(tmp_path: Path) -> None:
    setup_logging("serve", tmp_path / "a")
    log = setup_logging("view", tmp_path / "b")
    log.info("once")
    _file_handler()
    assert (tmp_path / "a" / LOG_FILE).read_text() == ""
    assert (tmp_path / "b" / LOG_FILE).read_text().count("once") == 1


def test_rollover_renames_by_date_and_keeps_fourteen(tmp_path: Path) -> None:
    log = setup_logging("serve", tmp_path)
    for day in range(1, BACKUP_DAYS + 4):  # more old days than are kept
        (tmp_path / f"{LOG_FILE}.2020-01-{day:02d}").write_text("old\n")
    log.info("before midnight")
    handler = _file_handler()
    assert handler.when == "MIDNIGHT"
    handler.doRollover()
    log.info("after midnight")
    rotated = sorted(p.name for p in tmp_path.glob(f"{LOG_FILE}.*"))
    assert len(rotated) == BACKUP_DAYS
    assert all(re.fullmatch(re.escape(LOG_FILE) + r"\.\d{4}-\d{2}-\d{2}", n) for n in rotated)
    newest = rotated[-1]
    assert "before midnight" in (tmp_path / newest).read_text()
    today = (tmp_path / LOG_FILE).read_text()
    assert "after midnight" in today and "before midnight" not in today


def test_unwritable_directory_logs_nowhere(capfd: pytest.CaptureFixture[str]) -> None:
    def case(home: Path) -> tuple[bool, bool, list[str], str]:
        locked = home / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        writable = os.access(locked, os.W_OK)  # False, or the case tests nothing
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            log = setup_logging("serve", locked / "logs")
            log.info("lost")
            log.error("lost")
        kinds = [type(h).__name__ for h in _own_handlers()]
        return writable, (locked / "logs").exists(), kinds, stderr.getvalue()

    writable, created, kinds, err = run_unprivileged(case)
    assert not writable
    assert not created
    assert kinds == ["NullHandler"]
    assert err == "" and capfd.readouterr().err == ""


def test_directory_that_is_a_file_logs_nowhere(tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    # Works as root too: no permission bit makes a regular file a folder.
    blocker = tmp_path / "logs"
    blocker.write_text("not a folder")
    log = setup_logging("serve", blocker)
    log.error("lost")
    assert blocker.read_text() == "not a folder"
    assert capfd.readouterr().err == ""
    assert [type(h) for h in _own_handlers()] == [logging.NullHandler]


def test_default_folder_is_logs_or_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.delenv(DIR_ENV, raising=False)
    assert log_dir().name == "logs" and (log_dir().parent / "game" / "paths.py").is_file()
    monkeypatch.setenv(DIR_ENV, str(tmp_path))
    setup_logging("serve").info("here")
    assert "here" in (tmp_path / LOG_FILE).read_text()


def test_cli_logs_start_and_exit_of_a_run(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    from game.app.cli import main

    monkeypatch.setenv(DIR_ENV, str(tmp_path))
    # A bad --set fails before the run starts: fast, and its exit code is logged too.
    assert main(["serve", "--no-web", "--ticks", "1", "--seed", "5", "--set", "mesh.rows=x"]) == 2
    lines = (tmp_path / LOG_FILE).read_text().splitlines()
    assert len(lines) == 2
    assert "cybermesh.serve start argv=['serve'" in lines[0] and "seed=5" in lines[0]
    assert re.search(r"cybermesh\.serve exit code=2 duration=\d+\.\d{3}s$", lines[1])


def test_cli_does_not_log_quick_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from game.app.cli import main

    monkeypatch.setenv(DIR_ENV, str(tmp_path))
    pattern = tmp_path / "g.rle"
    pattern.write_text("x = 3, y = 3, rule = B3/S23:T16,16\nbo$2bo$3o!\n")
    assert main(["ca", str(pattern), "--gens", "1", "--quiet", "--out",
                 str(tmp_path / "o.rle")]) == 0
    assert not (tmp_path / LOG_FILE).exists()


@pytest.mark.parametrize(("argv", "logged"), [
    (["serve", "--token", "s3cret", "--ticks", "1"], ["serve", "--token", "***", "--ticks", "1"]),
    (["view", "--token=s3cret"], ["view", "--token=***"]),
    (["serve", "--tok", "s3cret"], ["serve", "--tok", "***"]),
    (["serve", "--to=s3cret"], ["serve", "--to=***"]),
    (["serve", "--token"], ["serve", "--token"]),
    (["bench", "--ticks", "3"], ["bench", "--ticks", "3"]),
])
def test_the_control_token_is_never_logged(argv: list[str], logged: list[str]) -> None:
    assert redact_argv(argv) == logged


def test_cli_log_hides_the_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from game.app.cli import main

    monkeypatch.setenv(DIR_ENV, str(tmp_path))
    assert main(["serve", "--token", "s3cret", "--set", "mesh.rows=x"]) == 2
    text = (tmp_path / LOG_FILE).read_text()
    assert "s3cret" not in text and "'--token', '***'" in text
