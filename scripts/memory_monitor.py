#!/usr/bin/env python3
"""Sample the resident memory of a process and its children into a JSON-lines file.

Usage: ``python scripts/memory_monitor.py [--interval 0.5] [--out FILE] --pid PID`` or
``python scripts/memory_monitor.py [--interval 0.5] [--out FILE] -- COMMAND [ARG ...]``.

Every ``--interval`` seconds it writes ``{"t": seconds since the start, "rss_mb": MiB}`` (the
RSS of the process plus all its descendants, in MiB as the bench reports it) to ``--out``
(default ``test-results/memory-samples.jsonl``, which ``scripts/check_memory_budget.py`` reads
by default), one line per sample, flushed as written. It stops when the process ends, or on
SIGTERM or SIGINT: then it flushes and exits 0 (a command it started gets SIGTERM first). With a
command it exits with the command's status, so a failing test run still fails the caller; with
``--pid`` it exits 0. Bad input (no such process, a command that cannot start, an unwritable
file, bad arguments) is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO, NoReturn

import psutil

PROG = "memory_monitor"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "test-results" / "memory-samples.jsonl"

#: Seconds a started command gets to exit after SIGTERM before it is killed.
TERM_GRACE_S = 10.0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line and exit 2."""
        self.exit(2, f"{PROG}: error: {message}\n")


def rss_mb(proc: psutil.Process) -> float:
    """Resident memory of ``proc`` and all its descendants, in MiB.

    A process that ends between being listed and being read counts as 0: children come and go
    while a test run is sampled.
    """
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        family = [proc]
    total = 0
    for member in family:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


def running(proc: psutil.Process) -> bool:
    """Whether ``proc`` is still alive (a zombie has ended: only its parent has not reaped it)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def sample(proc: psutil.Process, out: IO[str], interval: float, stop: threading.Event,
           alive: Callable[[], bool]) -> int:
    """Write samples of ``proc`` until ``alive()`` turns false or ``stop`` is set; the count."""
    start = time.monotonic()
    count = 0
    while alive() and not stop.is_set():
        t = time.monotonic() - start
        rss = rss_mb(proc)
        if not alive():  # read while it was exiting: a partial figure, not a sample
            break
        out.write(json.dumps({"t": round(t, 3), "rss_mb": round(rss, 3)}) + "\n")
        out.flush()
        count += 1
        stop.wait(interval)
    return count


def _split(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """The monitor's own arguments, and the command after ``--`` (None without ``--``)."""
    if "--" not in argv:
        return argv, None
    i = argv.index("--")
    return argv[:i], argv[i + 1:]


def _open_out(path: str) -> IO[str]:
    """The samples file, opened for writing (the default's folder is created)."""
    if path == str(DEFAULT_OUT):
        DEFAULT_OUT.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "w", encoding="utf-8")  # main closes it in its finally


def main(argv: list[str] | None = None) -> int:
    """Monitor ``--pid`` or the command after ``--``; see the module docstring."""
    own, command = _split(sys.argv[1:] if argv is None else list(argv))
    ap = _Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None,
                 usage=f"{PROG} [--interval S] [--out FILE] (--pid PID | -- COMMAND [ARG ...])")
    ap.add_argument("--pid", type=int, help="an already running process to watch")
    ap.add_argument("--interval", type=float, default=0.5, metavar="S",
                    help="seconds between samples (default 0.5)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), metavar="FILE",
                    help="JSON-lines samples file (default test-results/memory-samples.jsonl)")
    args = ap.parse_args(own)
    if not args.interval > 0:
        ap.error(f"--interval must be a number of seconds > 0, not {args.interval}")
    if (args.pid is None) == (command is None):
        ap.error("give either --pid PID or a command after --")
    if args.pid is not None and args.pid < 1:
        ap.error(f"--pid must be a process id >= 1, not {args.pid}")
    if command is not None and not command:
        ap.error("no command after --")

    watched: psutil.Process | None = None
    if args.pid is not None:
        try:
            watched = psutil.Process(args.pid)
            watched.memory_info()
        except psutil.NoSuchProcess:
            print(f"{PROG}: error: no process with pid {args.pid}", file=sys.stderr)
            return 2
        except psutil.AccessDenied:
            print(f"{PROG}: error: cannot read the memory of pid {args.pid}: access denied",
                  file=sys.stderr)
            return 2
    try:
        out = _open_out(args.out)
    except OSError as err:
        print(f"{PROG}: error: cannot write {args.out}: {err.strerror or err}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if watched is not None:
            target = watched
            sample(target, out, args.interval, stop, lambda: running(target))
            return 0
        assert command is not None
        try:
            child = subprocess.Popen(command)
        except OSError as err:
            print(f"{PROG}: error: cannot run {command[0]}: {err.strerror or err}",
                  file=sys.stderr)
            return 2
        sample(psutil.Process(child.pid), out, args.interval, stop,
               lambda: child.poll() is None)
        if stop.is_set():
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(TERM_GRACE_S)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            return 0
        code = child.wait()
        return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention
    finally:
        out.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
