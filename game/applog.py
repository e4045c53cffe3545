"""Application logs: one file a day under logs/, for the run commands (serve, view, bench).

``logs/cybermesh.log`` is today's file; at midnight it is renamed ``cybermesh.log.YYYY-MM-DD``
and the 14 newest of those are kept. The log goes to the file only: the terminal keeps the
CLI's own stderr lines, unchanged. Only the standard library is used, so the CLI starts fast.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from game.paths import ROOT

LOG_DIR = ROOT / "logs"
LOG_FILE = "cybermesh.log"
BACKUP_DAYS = 14
LOGGER = "cybermesh"
# Set, it moves the logs elsewhere: tests and CI runs keep the checkout's logs/ for real runs.
DIR_ENV = "CYBERMESH_LOG_DIR"

_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class _IsoFormatter(logging.Formatter):
    """Times as ISO 8601 with milliseconds and the UTC offset: 2025-01-31T23:59:59.123+01:00."""

    def formatTime(  # noqa: N802 - overrides logging's camelCase name
        self, record: logging.LogRecord, datefmt: str | None = None
    ) -> str:
        """The record's creation time, local, in ISO 8601 (``datefmt`` is ignored)."""
        stamp = datetime.fromtimestamp(record.created).astimezone()
        return stamp.isoformat(timespec="milliseconds")


class _OwnHandler(logging.handlers.TimedRotatingFileHandler):
    """The daily file handler; its own class, so a second setup finds and replaces it."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        """Drop the line: a full disk or a deleted folder must not print a traceback."""


# Flags whose value is a credential: logged as *** (the control token of serve and view).
SECRET_FLAGS = ("--token",)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with the values of :data:`SECRET_FLAGS` replaced by ``***``, for the log."""
    def secret(flag: str) -> bool:
        # argparse takes any unambiguous prefix: --tok is --token.
        return len(flag) > 3 and any(name.startswith(flag) for name in SECRET_FLAGS)

    out: list[str] = []
    hide = False
    for arg in argv:
        flag, eq, _ = arg.partition("=")
        if hide:
            out.append("***")
        elif eq and secret(flag):
            out.append(f"{flag}=***")
        else:
            out.append(arg)
        hide = not hide and not eq and secret(arg)
    return out


def log_dir() -> Path:
    """Where the logs go when :func:`setup_logging` is not told: $CYBERMESH_LOG_DIR, or logs/."""
    env = os.environ.get(DIR_ENV)
    return Path(env) if env else LOG_DIR


def _release(base: logging.Logger) -> None:
    """Detach and close the handlers an earlier call attached (one open file per process)."""
    for handler in list(base.handlers):
        if isinstance(handler, (_OwnHandler, logging.NullHandler)):
            base.removeHandler(handler)
            handler.close()


def setup_logging(command: str, directory: Path | None = None) -> logging.Logger:
    """Log to ``directory``/cybermesh.log (default :func:`log_dir`); return ``cybermesh.COMMAND``.

    Safe to call twice: the second call replaces the first one's file handler. If the folder
    cannot be created or the file opened, the logger logs nowhere instead of failing the
    command: a run matters more than its log.
    """
    base = logging.getLogger(LOGGER)
    _release(base)
    base.setLevel(logging.INFO)
    # Not to the root logger: a library's handlers, or Python's last-resort stderr handler,
    # would otherwise print our lines on the terminal.
    base.propagate = False
    folder = directory if directory is not None else log_dir()
    handler: logging.Handler
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = _OwnHandler(
            folder / LOG_FILE, when="midnight", backupCount=BACKUP_DAYS, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(_IsoFormatter(_FORMAT))
    base.addHandler(handler)
    return base.getChild(command)
