"""A virtual X display (Xvfb) whose screen is readable as a file, and xdotool input, for the
viewer tests and ``scripts/screenshots.py``."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from game.bench.web import stop_process
from game.viewer.images import Image, read_xwd


@dataclass
class Display:
    """A running Xvfb: its ``name`` (``:N``) and the file that mirrors its screen."""

    name: str
    screen_file: Path

    @property
    def env(self) -> dict[str, str]:
        """The environment of a process that should open its windows here."""
        return {**os.environ, "DISPLAY": self.name}

    def screenshot(self) -> Image:
        """The whole screen now, RGB."""
        return read_xwd(self.screen_file.read_bytes())

    def xdotool(self, *args: str) -> str:
        """Run xdotool against this display; returns its output."""
        out = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True,
                             timeout=20, check=True)
        return out.stdout.strip()

    def window(self, title: str, timeout: float = 30.0) -> tuple[str, int, int]:
        """The id and top-left corner of the window named ``title`` once it is mapped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{title}$"],
                                   env=self.env, capture_output=True, text=True, timeout=20)
            if found.returncode == 0 and found.stdout.strip():
                wid = found.stdout.split()[0]
                geometry = dict(line.split("=", 1) for line in self.xdotool(
                    "getwindowgeometry", "--shell", wid).splitlines())
                return wid, int(geometry["X"]), int(geometry["Y"])
            time.sleep(0.2)
        raise AssertionError(f"no window {title!r} appeared on {self.name}")

    def key(self, wid: str, *keys: str) -> None:
        """Focus window ``wid`` and press ``keys`` (X keysym names: space, n, Right, plus...)."""
        self.xdotool("windowfocus", "--sync", wid)
        for k in keys:
            self.xdotool("key", "--clearmodifiers", k)


def xvfb_available() -> bool:
    """Whether Xvfb and xdotool are installed (scripts/install_system_deps.sh installs them)."""
    return bool(shutil.which("Xvfb") and shutil.which("xdotool"))


@contextmanager
def virtual_display(width: int = 1024, height: int = 768) -> Iterator[Display]:
    """Start an Xvfb on a free display number; stop it afterwards."""
    fbdir = Path(tempfile.mkdtemp(prefix="cybermesh-xvfb-"))
    number = next(n for n in range(90, 400) if not Path(f"/tmp/.X{n}-lock").exists())
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24",
                             "-fbdir", str(fbdir), "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        socket = Path(f"/tmp/.X11-unix/X{number}")
        deadline = time.monotonic() + 15
        while not (socket.exists() and (fbdir / "Xvfb_screen0").exists()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"Xvfb :{number} did not start")
            time.sleep(0.05)
        yield Display(f":{number}", fbdir / "Xvfb_screen0")
    finally:
        stop_process(proc)
        shutil.rmtree(fbdir, ignore_errors=True)


def crop(image: Image, x: int, y: int, width: int, height: int) -> Image:
    """A copy of the ``width`` × ``height`` box of ``image`` at (x, y)."""
    return np.array(image[y:y + height, x:x + width])
