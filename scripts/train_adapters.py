#!/usr/bin/env python3
"""Train the pulse network's LoRA adapters and save them under ``assets/adapters/``.

Usage: ``python scripts/train_adapters.py [--tiles 800] [--steps 400] [--seed 20261125]
[--out assets/adapters]``. Seeded and CPU-only: the same arguments give the same adapters.

Each adapter learns to predict, for every dead cell of a tile, what setting that one cell alive
does to the tile ``HORIZON`` generations later, measured by rollouts: every what-if lattice of a
tile (one per dead cell, plus the tile untouched) is stepped as one torch batch.

- ``rule_persist``: settled cells after ``HORIZON`` generations, alive in each of the last
  ``SETTLED`` (minus the untouched tile's): pulses set the cells that leave the most lasting
  patterns (still lifes, steady oscillator cells), not the most churn.
- ``rule_spark``: births over the ``HORIZON`` generations (minus the untouched tile's): pulses set
  the cells that stir the most activity, a visibly restless tile.

Tiles are 16×16 tori of random soups (density 0.35) taken at a random age of 0–79 generations,
with the energy field the births of that history leave (half-life 20 ticks). Targets are each
cell's rank within its tile, centred (:func:`tile_ranks`); the loss is the mean squared error
over dead cells. The curves go to
``<out>/<name>/training.json``; docs/pulse.md shows them. Exits 2 on bad arguments (one line).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from game.adapters import PulseModel  # noqa: E402
from game.pulse import base_network, features, life_step, settled  # noqa: E402

HORIZON = 8  # longer rollouts are chaos a 7x7 view cannot predict (docs/pulse.md)
SETTLED = 3  # generations a cell must stay alive at the horizon to count as persisting
TILE = 16
DENSITY = 0.35
HALF_LIFE = 20.0
MAX_AGE = 80  # generations a training soup may have run: from fresh soup to settling
OBJECTIVES = {"rule_persist": 0, "rule_spark": 1}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"train_adapters: {message}\n")


def rollouts(alive: torch.Tensor, horizon: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per dead cell of one tile ``(1, 1, T, T)``: its effect on live cells and on births."""
    horizon = horizon or HORIZON
    tile = alive.shape[-1]
    dead = (alive[0, 0] < 0.5).nonzero()
    what_if = alive.repeat(len(dead) + 1, 1, 1, 1)  # row 0: the tile untouched
    what_if[torch.arange(1, len(dead) + 1), 0, dead[:, 0], dead[:, 1]] = 1.0
    births = torch.zeros(len(what_if))
    last: list[torch.Tensor] = []
    for step in range(horizon):
        after = life_step(what_if)
        births += ((after > 0.5) & (what_if < 0.5)).float().sum((1, 2, 3))
        what_if = after
        if step >= horizon - SETTLED:
            last.append(what_if)
    live = settled(last).float().sum((1, 2, 3))
    persist = torch.zeros(tile, tile)
    spark = torch.zeros(tile, tile)
    persist[dead[:, 0], dead[:, 1]] = live[1:] - live[0]
    spark[dead[:, 0], dead[:, 1]] = births[1:] - births[0]
    return persist, spark


def dataset(tiles: int, gen: torch.Generator, horizon: int = 0) -> dict[str, torch.Tensor]:
    """Random soups at random ages, their features and both objectives' targets."""
    decay = 0.5 ** (1.0 / HALF_LIFE)
    xs, es, targets = [], [], []
    for _ in tqdm(range(tiles), desc="rollouts", unit="tile"):
        alive = (torch.rand(1, 1, TILE, TILE, generator=gen) < DENSITY).float()
        energy = torch.zeros_like(alive)
        for _ in range(int(torch.randint(0, MAX_AGE, (1,), generator=gen))):
            after = life_step(alive)
            energy = energy * decay + ((after > 0.5) & (alive < 0.5)).float()
            alive = after
        xs.append(alive)
        es.append(energy)
        targets.append(torch.stack(rollouts(alive, horizon)))
    alive = torch.cat(xs)
    return {"features": features(alive, torch.cat(es)), "dead": alive[:, 0] < 0.5,
            "targets": torch.stack(targets)}


def probe_features() -> torch.Tensor:
    """A fixed 16×16 soup (seed 0) whose scores every saved adapter records.

    Reloading the adapter must give them again (``tests/test_pulse.py``).
    """
    gen = torch.Generator().manual_seed(0)
    alive = (torch.rand(1, 1, TILE, TILE, generator=gen) < DENSITY).float()
    return features(alive, torch.rand(1, 1, TILE, TILE, generator=gen))


def tile_ranks(effects: torch.Tensor, dead: torch.Tensor) -> torch.Tensor:
    """Each dead cell's effect as its rank within its tile, centred: from -0.5 to 0.5.

    A pulse takes the best cells of a tile, so only the order within a tile matters; ranks
    also tame the heavy tails of a chaotic rollout (one cell can swing a tile by ±50).
    Above-median cells score positive, so the pulse sets at most the better half.
    """
    out = torch.zeros_like(effects)
    for i in range(len(effects)):
        values = effects[i][dead[i]]
        if len(values) < 2:
            continue
        order = values.argsort(stable=True).argsort(stable=True).float()
        out[i][dead[i]] = order / (len(values) - 1) - 0.5
    return out


def train(name: str, data: dict[str, torch.Tensor], steps: int, seed: int, out: Path,
          horizon: int = HORIZON) -> list[dict[str, float]]:
    """Train adapter ``name`` on its objective and save it; returns the loss curve."""
    torch.manual_seed(seed)
    dead = data["dead"]
    target = tile_ranks(data["targets"][:, OBJECTIVES[name]], dead)
    n = len(target)
    held = torch.arange(n) % 10 == 0  # every tenth tile: validation, never trained on
    train_idx = (~held).nonzero()[:, 0]
    model = PulseModel(base_network(0))
    model.add(name)
    assert model.model is not None
    params = [p for p in model.model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=3e-3)
    curve: list[dict[str, float]] = []

    def loss_on(index: torch.Tensor) -> torch.Tensor:
        assert model.model is not None
        pred: torch.Tensor = model.model(data["features"][index])
        mask = dead[index]
        loss: torch.Tensor = ((pred - target[index]) ** 2)[mask].mean()
        return loss

    for step in tqdm(range(steps + 1), desc=name, unit="step"):
        if step % 20 == 0:
            with torch.no_grad():
                curve.append({"step": step, "train": float(loss_on(train_idx)),
                              "validation": float(loss_on(held.nonzero()[:, 0]))})
        if step == steps:
            break
        batch = train_idx[torch.randint(0, len(train_idx), (128,))]
        loss = loss_on(batch)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    model.model.eval()
    model.save(out, name)
    probe = model.scores(probe_features(), name)[0]
    (out / name / "training.json").write_text(json.dumps(
        {"objective": name, "horizon": horizon, "tiles": n, "steps": steps, "seed": seed,
         "rank": 4, "curve": curve, "probe": [round(float(v), 7) for v in probe.ravel()]},
        indent=1) + "\n")
    return curve


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the rollouts once, train and save every adapter."""
    parser = _Parser(prog="train_adapters", description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=800, help="training tiles (default 800)")
    parser.add_argument("--steps", type=int, default=400, help="Adam steps per adapter")
    parser.add_argument("--horizon", type=int, default=HORIZON,
                        help=f"generations a rollout runs (default {HORIZON})")
    parser.add_argument("--seed", type=int, default=20261125, help="the one seed")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "adapters")
    args = parser.parse_args(argv)
    if args.tiles < 10 or args.steps < 1:
        parser.error("--tiles must be at least 10 and --steps at least 1")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(args.seed)
    data = dataset(args.tiles, gen, args.horizon)
    for name in OBJECTIVES:
        curve = train(name, data, args.steps, args.seed, args.out, args.horizon)
        print(f"{name}: validation loss {curve[0]['validation']:.3f} -> "
              f"{curve[-1]['validation']:.3f}; saved to {args.out / name}")
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
