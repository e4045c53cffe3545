"""Reading and writing user files with one-line errors (the CLI's exit code 2 contract)."""

from __future__ import annotations

import tempfile
from os import PathLike
from pathlib import Path
from typing import BinaryIO

from game.errors import BadInput


def read_bytes(path: str | PathLike[str], what: str, error: type[BadInput] = BadInput) -> bytes:
    """Read ``path``; a missing, directory or unreadable path raises ``error`` in one line.

    ``what`` names the expected file in the message, e.g. ``"an RLE file"``.
    """
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not {what}") from None
    except PermissionError:
        raise error(f"{path}: permission denied") from None
    except OSError as err:
        raise error(f"{path}: cannot read: {err.strerror or err}") from None


def open_for_writing(
    path: str | PathLike[str], what: str, error: type[BadInput] = BadInput
) -> BinaryIO:
    """Open ``path`` to write ``what`` (the caller closes it); one-line ``error`` if it cannot."""
    try:
        return Path(path).open("wb")  # noqa: SIM115 - the caller owns the file
    except OSError as err:
        raise error(f"{path}: cannot write {what}: {err.strerror or err}") from None


def write_bytes(
    path: str | PathLike[str], data: bytes, what: str, error: type[BadInput] = BadInput
) -> None:
    """Write ``data`` to ``path``; an unwritable path raises ``error`` in one line."""
    try:
        Path(path).write_bytes(data)
    except IsADirectoryError:
        raise error(f"{path}: is a directory; cannot write {what} there") from None
    except FileNotFoundError:
        raise error(f"{path}: cannot write {what}: the directory does not exist") from None
    except PermissionError:
        raise error(f"{path}: cannot write {what}: permission denied") from None
    except OSError as err:
        raise error(f"{path}: cannot write {what}: {err.strerror or err}") from None


def writable_dir(folder: str, problem: str) -> Path:
    """Create ``folder`` if needed and check that a file can be written in it.

    Where it cannot, :class:`BadInput` says ``problem`` and the system's reason, in one line.
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".cybermesh-", suffix=".probe"):
            pass
    except OSError as err:
        raise BadInput(f"{problem}: {err.strerror or err}") from None
    return path
