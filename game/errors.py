"""Errors that reach the user as one line on stderr and exit code 2.

Anything raised as :class:`BadInput` is the user's input being wrong (a file, a flag, a config key);
the CLI prints ``cybermesh: error: <message>`` and exits 2, never a traceback.
"""

from __future__ import annotations


def one_line(text: object, limit: int | None = None) -> str:
    """``text`` (a message or an exception) as one line, for ``cybermesh: error: <line>``.

    Runs of whitespace, line breaks included, become one space; an exception without a message
    gives its type's name; beyond ``limit`` characters the line is cut and ends in ``...``.
    """
    line = " ".join(str(text).split())
    if not line and isinstance(text, BaseException):
        line = type(text).__name__
    if limit is not None and len(line) > limit:
        line = line[:limit - 3] + "..."
    return line


class BadInput(Exception):  # noqa: N818 - reads as what it is: the input is bad
    """The user's input is wrong; the message names the problem in one line."""


class RleError(BadInput):
    """A pattern file is malformed, truncated or names something unsupported."""


class RuleError(BadInput):
    """A Life-like rule string cannot be parsed."""


class ConfigError(BadInput):
    """A configuration file or override has a wrong key, type or value."""


class BackendUnavailable(BadInput):
    """The requested lattice backend cannot run on this machine (e.g. no OpenGL)."""
