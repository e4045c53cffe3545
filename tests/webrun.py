"""A live run with its web mirror in a background thread, for the web and dashboard tests."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from game.app.build import initial_cells
from game.app.serve import LiveRun
from game.backends.reference import reference_step
from game.config import Config, override
from game.rules import parse_rule

TOKEN = "test-token"


def web_config(**sets: object) -> Config:
    """The default config on the numpy backend with ``sets`` (``a__b=v`` sets ``a.b``)."""
    # Pacing off: tests that set the tick rate must see exactly theirs (tests/test_pacing.py).
    config = override(override(Config(), "lattice.backend", "numpy"), "loop.degrade", False)
    for key, value in sets.items():
        config = override(config, key.replace("__", "."), value)
    return config


@contextmanager
def serving(config: Config, events: str | None = None) -> Iterator[LiveRun]:
    """Start ``config``'s run and mirror (port 0, token :data:`TOKEN`); stop both after."""
    run = LiveRun(config, events, web=True, token=TOKEN)
    stop = threading.Event()
    thread = threading.Thread(target=run.run, args=(stop,), daemon=True)
    try:
        run.load_model()
        run.start_web("127.0.0.1", 0)
        thread.start()
        yield run
    finally:
        stop.set()
        thread.join(timeout=10)
        run.close()


def get_json(url: str) -> Any:
    """GET ``url`` and decode its JSON."""
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or condition}")


def reference_lattice(config: Config, ticks: int) -> np.ndarray:
    """The lattice of ``config``'s run after ``ticks`` generations, by the reference stepper."""
    shape = (config.mesh.rows * config.mesh.tile, config.mesh.cols * config.mesh.tile)
    cells = initial_cells(config, np.random.default_rng(config.seed), shape)
    rule = parse_rule(config.lattice.rule)
    for _ in range(ticks):
        cells = reference_step(cells, rule)
    return cells
