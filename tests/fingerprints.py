"""Stored fingerprints of fixed workloads: SHA-256 of the event log, final lattice and energy.

A fingerprint is what a run computes, condensed: the SHA-256 of its event log's bytes, of its
final lattice and of its final energy field (each array hashed with its dtype and shape). The
committed ``tests/fingerprints.json`` holds them for the workloads of :data:`WORKLOADS`; the
determinism tests recompute and compare them, so a speed-up that changes one byte of what a run
computes fails, where comparing the code with itself would not.

Changing the file is a deliberate, reviewed commit that says why the runs changed::

    .venv/bin/python -m tests.fingerprints           # compare this checkout with the file
    .venv/bin/python -m tests.fingerprints --write   # rewrite the file from this checkout

Everything a workload computes is seeded and tick-based. What could still make a fingerprint
machine-dependent is float arithmetic: the pulse network's scores (torch convolutions, whose
algorithm and rounding may differ by CPU, thread count or torch version) choose the cells a
pulse sets alive. The workloads pin their devices to the CPU (a CUDA or MPS machine would run
the network elsewhere) and record the versions they were made with, so a mismatch can be told
apart from a change of torch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from game.app.build import build_sim
from game.bench.full import WAVE_EVERY, Waves
from game.bench.full import full_config as bench_full_config
from game.config import Config, override
from game.engine.world import Sim

#: The committed fingerprints.
FINGERPRINTS = Path(__file__).resolve().parent / "fingerprints.json"
#: The command that rewrites :data:`FINGERPRINTS` (named in every mismatch message).
REGENERATE = ".venv/bin/python -m tests.fingerprints --write"
#: What a fingerprint holds for each workload.
PARTS = ("events", "lattice", "energy")


def pinned(config: Config, backend: str) -> Config:
    """``config`` on ``backend``, with the pulse network and the encoder on the CPU."""
    for key, value in (("lattice.backend", backend), ("pulse.device", "cpu"),
                       ("embed.device", "cpu")):
        config = override(config, key, value)
    return config


def bench_workload(mesh: tuple[int, int], backend: str = "numpy") -> Config:
    """The full bench's default workload (``cybermesh bench --scenario full``) at ``mesh``.

    ``game.bench.full.full_config`` on the built-in defaults: seed 0, a soup, detection beside
    the loop, 2 shards spawned a tick with mixed transport, every bot pulsing ``rule_persist``
    every 10 ticks; :func:`run_bench_workload` adds the bench's wave every 100 ticks.
    """
    return pinned(bench_full_config(Config(), argparse.Namespace(mesh=mesh)), backend)


def every_tier_config(backend: str) -> Config:
    """The determinism test's workload: the full bench's, with seed 3 and populations logged.

    :func:`run_every_tier` adds a wave at tick 40 and a user's shard, so every tier has run
    within its 120 ticks (the bench's own wave comes at tick 100 and is kept).
    """
    config = bench_workload((5, 5), backend)
    for key, value in (("seed", 3), ("log.population_every", 10)):
        config = override(config, key, value)
    return config


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run computed: its event log's bytes and its final lattice and energy."""

    events: bytes
    lattice: npt.NDArray[np.uint8]
    energy: npt.NDArray[np.float32]


def _drive(config: Config, path: Path, ticks: int, extra: Callable[[Sim], None]) -> Outcome:
    """Build ``config`` with every system, run ``ticks`` ticks with the bench's waves.

    ``extra`` runs before each tick (after the wave driver), for commands a workload adds.
    """
    sim = build_sim(config, events_path=path, mirror=True, shards=True)
    try:
        waves = Waves(sim, WAVE_EVERY)
        for _ in range(ticks):
            waves.before_tick()
            extra(sim)
            sim.step()
        lattice, energy = sim.substrate.alive.copy(), sim.substrate.energy.copy()
    finally:
        sim.close()
    return Outcome(path.read_bytes(), lattice, energy)


def run_bench_workload(mesh: tuple[int, int], ticks: int, path: Path,
                       backend: str = "numpy") -> Outcome:
    """:func:`bench_workload` at ``mesh`` for ``ticks`` ticks, its event log at ``path``."""
    return _drive(bench_workload(mesh, backend), path, ticks, lambda sim: None)


#: Ticks of the every-tier workload, and the tick before which it starts its wave and user's shard.
EVERY_TIER_TICKS, EVERY_TIER_COMMANDS_AT = 120, 40


def run_every_tier(path: Path, backend: str = "numpy") -> Outcome:
    """:func:`every_tier_config` for 120 ticks, a wave and a user's shard after tick 40."""
    def commands(sim: Sim) -> None:
        if sim.tick == EVERY_TIER_COMMANDS_AT:
            sim.start_wave((2, 2), "rule_spark")
            sim.inject("a memory about tides and the moon", (0, 0), (4, 3))

    return _drive(every_tier_config(backend), path, EVERY_TIER_TICKS, commands)


@dataclass(frozen=True, slots=True)
class Workload:
    """A fixed run whose fingerprint is stored: what it is, and how to run it into a folder.

    ``run`` takes a path for its output (the event log, or the ``ca`` workload's RLE) and returns
    the SHA-256 of each part it computed.
    """

    about: str
    run: Callable[[Path], dict[str, str]]


#: The issue 20 workloads (one package per layer): their digests were committed before the move,
#: so the restructure is proven to change nothing a run computes.
ROUTING_TICKS, MOVE_FULL_TICKS = 200, 300


def routing_config() -> Config:
    """A 16x16 routing run: the full bench's workload with the semantic router and 5 % loss."""
    config = bench_workload((16, 16))
    for key, value in (("route.router", "semantic"), ("route.loss", 0.05), ("seed", 7)):
        config = override(config, key, value)
    return config


#: The ``cybermesh ca`` workload: a seeded soup on a 256x256 torus, 1,000 generations.
CA_SOUP_SIZE, CA_SOUP_GENS, CA_SOUP_SEED = 256, 1000, 20


def run_ca_soup(path: Path) -> dict[str, str]:
    """``cybermesh ca SOUP.rle --gens 1000 --out PATH`` as a user runs it: the output's digests."""
    from game.rle import read_rle, to_torus, write_rle
    from tests.helpers import cli

    rng = np.random.default_rng(CA_SOUP_SEED)
    soup = (rng.random((CA_SOUP_SIZE, CA_SOUP_SIZE)) < 0.35).astype(np.uint8)
    source = path.with_suffix(".in.rle")
    write_rle(source, soup, torus=(CA_SOUP_SIZE, CA_SOUP_SIZE))
    result = cli("ca", str(source), "--gens", str(CA_SOUP_GENS), "--backend", "numpy",
                 "--out", str(path), timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"cybermesh ca failed ({result.returncode}): {result.stderr.strip()}")
    return {"rle": sha256(path.read_bytes()), "lattice": digest_array(to_torus(read_rle(path)))}


#: The fingerprinted workloads, by name (the names are the keys of the committed file).
WORKLOADS: dict[str, Workload] = {
    "bench-full-5x5-150": Workload(
        "the full bench's default workload, 5x5 mesh of 16x16 tiles, 150 ticks (a wave at 100)",
        lambda path: fingerprint(run_bench_workload((5, 5), 150, path))),
    "bench-full-16x16-80": Workload(
        "the full bench's default workload, 16x16 mesh of 16x16 tiles, 80 ticks",
        lambda path: fingerprint(run_bench_workload((16, 16), 80, path))),
    "every-tier-5x5-120": Workload(
        "tests/test_determinism.py's workload (seed 3, a wave and a user's shard at tick 40)",
        lambda path: fingerprint(run_every_tier(path))),
    "move-full-5x5-300": Workload(
        "issue 20: the default 5x5 full run, pulses, waves at 100 and 200, mixed transport, "
        "300 ticks", lambda path: fingerprint(run_bench_workload((5, 5), MOVE_FULL_TICKS, path))),
    "move-routing-16x16-200": Workload(
        "issue 20: 16x16 mesh, the semantic router, 5 % link loss, seed 7, 200 ticks",
        lambda path: fingerprint(_drive(routing_config(), path, ROUTING_TICKS,
                                        lambda sim: None))),
    "move-ca-soup-256": Workload(
        "issue 20: `cybermesh ca` on a seeded 256x256 soup, 1,000 generations (output RLE)",
        run_ca_soup),
}


def sha256(data: bytes) -> str:
    """``sha256:`` and the hex digest (the prefix also keeps secret scanners from flagging it)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_array(array: npt.NDArray[Any]) -> str:
    """:func:`sha256` of ``array``'s dtype (little-endian), shape and C-order bytes."""
    a = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes())


def fingerprint(outcome: Outcome) -> dict[str, str]:
    """The SHA-256 of each part of ``outcome`` (:data:`PARTS`)."""
    return {"events": sha256(outcome.events), "lattice": digest_array(outcome.lattice),
            "energy": digest_array(outcome.energy)}


def versions() -> dict[str, str]:
    """The versions that could change float results: recorded beside the fingerprints."""
    import torch

    return {"python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "machine": platform.machine()}


def load(path: Path = FINGERPRINTS) -> dict[str, Any]:
    """The committed fingerprint file."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def mismatch(name: str, stored: dict[str, Any], got: dict[str, str],
             recorded: dict[str, str]) -> str | None:
    """A message naming what differs from the stored fingerprint of ``name``, else None."""
    parts = sorted((set(stored) - {"about"}) | set(got))
    wrong = [part for part in parts if stored.get(part) != got.get(part)]
    if not wrong:
        return None
    now = versions()
    changed = {k: f"{recorded.get(k)} -> {v}" for k, v in now.items() if recorded.get(k) != v}
    return (f"fingerprint of {name} ({', '.join(wrong)}) differs from tests/{FINGERPRINTS.name}"
            f"{f' (versions changed: {changed})' if changed else ''}: the run computes something "
            "else now. Changing the stored fingerprints is a deliberate, reviewed commit: if the "
            f"change is intended, regenerate them with `{REGENERATE}` and say why in the commit; "
            "otherwise it is a bug")


def compute(names: Sequence[str]) -> dict[str, dict[str, str]]:
    """Run the named workloads (in a temporary folder) and fingerprint them."""
    out: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="cybermesh-fingerprint-") as tmp:
        for name in names:
            out[name] = WORKLOADS[name].run(Path(tmp) / f"{name}.out")
    return out


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line and exit 2."""
        self.exit(2, f"fingerprints: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Print this checkout's fingerprints, compare them with the file, or ``--write`` it."""
    parser = _Parser(prog="python -m tests.fingerprints", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true",
                        help=f"rewrite {FINGERPRINTS.name} from this checkout")
    parser.add_argument("names", nargs="*", metavar="WORKLOAD",
                        help=f"workloads to run (default all: {', '.join(WORKLOADS)})")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {unknown[0]!r} (one of {', '.join(WORKLOADS)})")
    if args.write and args.names:
        parser.error("--write runs every workload; name none")
    got = compute(args.names or list(WORKLOADS))
    if args.write:
        data = {
            "about": ("SHA-256 of the event log, final lattice and energy of each workload of "
                      "tests/fingerprints.py. Changing this file is a deliberate, reviewed "
                      f"commit; regenerate with: {REGENERATE}"),
            "versions": versions(),
            "workloads": {n: {"about": WORKLOADS[n].about, **got[n]} for n in WORKLOADS},
        }
        FINGERPRINTS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {FINGERPRINTS}")
        return 0
    stored = load() if FINGERPRINTS.exists() else {"versions": {}, "workloads": {}}
    bad = 0
    for name, parts in got.items():
        message = mismatch(name, stored["workloads"].get(name, {}), parts, stored["versions"])
        print(f"{name}: {json.dumps(parts)}" + (f"\n  {message}" if message else " (matches)"))
        bad += message is not None
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
