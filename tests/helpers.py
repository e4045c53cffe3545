"""Helpers shared by test modules: one definition each of what several modules need.

- OpenGL: :func:`gl_unavailable`, :func:`open_gl_context`, :func:`need_gl`.
- One-line errors: :func:`assert_one_line` (a message), :func:`assert_one_line_error` (a command's
  exit code and stderr), with adapters for the three ways tests run a command.
- Ports: :func:`free_port`, :func:`busy_port`.
- Event logs: :func:`read_events`.
- Permission tests: :func:`run_unprivileged`.
- python-lifelib: :func:`lifelib_tree`.
"""

from __future__ import annotations

import importlib
import os
import pickle  # noqa: S403 - only our own forked child's results travel through it
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

import game.glcontext as glcontext
from game.config import Config, override
from game.engine.events import Event, decode_event, encode_event
from game.errors import BackendUnavailable
from tests.conftest import need

if TYPE_CHECKING:
    import moderngl

T = TypeVar("T")

#: The environment of every ``cybermesh`` subprocess a test starts: never reach the network.
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def numpy_config(**sets: object) -> Config:
    """The default config on the numpy backend with ``sets`` (``a__b=v`` sets ``a.b``)."""
    config = override(Config(), "lattice.backend", "numpy")
    for key, value in sets.items():
        config = override(config, key.replace("__", "."), value)
    return config


class FakeClock:
    """A clock the test moves by hand (``clock.now += dt``)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --- OpenGL ------------------------------------------------------------------------------------
# The question is the one every GL path of the product asks: can game.glcontext create the
# headless 3.3 core context? (The gl backend, the viewer and the view bench all start there.)


def gl_unavailable() -> str | None:
    """None when a headless OpenGL 3.3 context can be created here, else the one-line reason."""
    try:
        ctx = glcontext.create_headless_context()
    except BackendUnavailable as exc:
        return str(exc)
    ctx.release()
    return None


def open_gl_context() -> moderngl.Context:
    """A headless OpenGL 3.3 context (the caller releases it).

    Without one the test skips on a user's machine and fails under ``CI=true`` (:func:`need`).
    """
    try:
        return glcontext.create_headless_context()
    except BackendUnavailable as exc:
        need(False, f"no OpenGL 3.3 context on this machine: {exc}")
        raise  # need() always raises here; this keeps the type checker informed


def need_gl() -> None:
    """Go on only where a headless OpenGL 3.3 context can be created (see :func:`need`)."""
    reason = gl_unavailable()
    need(reason is None, f"no OpenGL 3.3 context on this machine: {reason}")


# --- one-line errors ---------------------------------------------------------------------------
# Policy: bad input gets exactly one line on stderr naming the problem, and exit code 2.


def assert_one_line(message: str, *words: str) -> None:
    """``message`` (an error's text) is one non-empty line, no traceback, with every word in it."""
    assert message.strip(), repr(message)
    assert "\n" not in message and "\r" not in message, repr(message)
    assert "Traceback" not in message, repr(message)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    """A command failed on bad input: exit 2, stderr exactly one ``PROG[ SUB]: problem`` line.

    The line starts with the program's (and subcommand's) name and ends in a newline; nothing
    else is on stderr (no warning, no blank line, no traceback, no "internal error"); every word
    is in it.
    """
    assert code == 2, f"exit {code}, stderr {err!r}"
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    line = err[:-1]
    assert_one_line(line, *words)
    assert re.match(r"[\w.-]+( [\w.-]+)*: \S", line), f"no 'PROG: ' before the problem: {err!r}"
    assert "internal error" not in line, repr(err)


def run_main(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """``main(argv)`` in-process; argparse's usage errors exit through SystemExit."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(str(exit_.code))


def assert_fails_in_one_line(main: Callable[[list[str]], int], argv: list[str], message: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """``main(argv)`` in-process fails as :func:`assert_one_line_error` says, naming ``message``."""
    code = run_main(main, argv)
    assert_one_line_error(code, capsys.readouterr().err, message)


def assert_main_fails_in_one_line(argv: list[str], message: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``cybermesh ARGV`` in-process fails in one line naming ``message``."""
    from game.app.cli import main

    assert_fails_in_one_line(main, argv, message, capsys)


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``cybermesh ARGS`` as a user runs it: a whole process, offline."""
    return subprocess.run([sys.executable, "-m", "game.app.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=ENV)


def assert_cli_fails_in_one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """A finished process failed as :func:`assert_one_line_error` says, naming every word."""
    assert_one_line_error(result.returncode, result.stderr, *words)


# --- ports -------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port of 127.0.0.1 that the OS just handed out and nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@contextmanager
def busy_port() -> Iterator[int]:
    """A TCP port of 127.0.0.1 that a listening socket holds for the ``with`` block."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port: int = s.getsockname()[1]
        yield port


# --- event logs --------------------------------------------------------------------------------


def read_events(log: Path | bytes) -> list[Event]:
    """Every event of a JSONL event log (a path, or its bytes), decoded and schema-checked.

    Each line must also be exactly what the encoder writes for its event, so a field the schema
    does not know, or a line in another form, fails here instead of passing unseen.
    """
    data = log.read_bytes() if isinstance(log, Path) else log
    events = []
    for number, line in enumerate(data.splitlines(), 1):
        event = decode_event(line)
        assert encode_event(event) == line, f"line {number} is not canonical: {line!r}"
        events.append(event)
    return events


# --- permission tests --------------------------------------------------------------------------
# Root ignores permission bits, so "cannot read" or "cannot write" proves nothing when the tests
# run as root (as CI machines and containers do). The case runs in a forked child instead, which
# drops to ``nobody`` first: a fork keeps the imported modules and the interpreter, which
# ``nobody`` may not be allowed to reach on disk (a venv under /root).


def _unprivileged_ids() -> tuple[int, int] | None:
    """``nobody``'s uid and gid when running as root; None when already unprivileged."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def _read_all(fd: int, pid: int, timeout: float) -> bytes:
    """Everything the child writes to ``fd`` until it closes it; kill it after ``timeout`` s."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while True:
            ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"the unprivileged child hung for {timeout} s", pytrace=False)
            chunk = pipe.read(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def run_unprivileged(case: Callable[[Path], T], timeout: float = 60) -> T:
    """Run ``case(folder)`` in a forked child without root's privileges; return what it returns.

    ``folder`` is a fresh directory the child owns, outside pytest's private (0700) tmp folders,
    removed afterwards. An assertion or any other exception in the child fails the test with the
    child's traceback, and so does a child still running after ``timeout`` seconds. The result
    travels back pickled, so return plain values.
    """
    ids = _unprivileged_ids()
    folder = Path(tempfile.mkdtemp(prefix="cybermesh-unprivileged-"))
    if ids is not None:
        os.chown(folder, *ids)
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        status = 1
        try:
            try:
                if ids is not None:
                    os.setgroups([])
                    os.setgid(ids[1])
                    os.setuid(ids[0])
                payload = pickle.dumps(("ok", case(folder)))
            except BaseException:  # noqa: BLE001 - every failure goes back to the parent
                payload = pickle.dumps(("error", traceback.format_exc()))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        payload = _read_all(read_end, pid, timeout)
        _, wait_status = os.waitpid(pid, 0)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert os.waitstatus_to_exitcode(wait_status) == 0 and payload, "the unprivileged child died"
    kind, value = pickle.loads(payload)  # noqa: S301 - written by our own child above
    if kind == "error":
        pytest.fail(f"in the unprivileged child:\n{value}", pytrace=False)
    result: T = value
    return result


# --- python-lifelib ----------------------------------------------------------------------------


def lifelib_tree() -> Any:
    """A python-lifelib B3/S23 lifetree: the test-only apgcode reference (compiles on first use).

    Without lifelib the test skips on a user's machine and fails under ``CI=true`` (:func:`need`).
    """
    try:
        lifelib: Any = importlib.import_module("lifelib")
    except ImportError:
        lifelib = None
    need(lifelib is not None, "python-lifelib is not installed (the test-only apgcode reference)")
    return lifelib.load_rules("b3s23").lifetree()
