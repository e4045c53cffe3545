"""Uniform traffic: shards from random live bots to random other live bots.

Texts are the corpus's held-out sentences, so no shard carries a bot's own memory. Draws come
from the traffic stream of the run's seed, so the same seed spawns the same shards.
"""

from __future__ import annotations

import numpy as np

from game.engine.commands import SpawnShard
from game.shardnet import ShardNet


def uniform_spawns(
    net: ShardNet, count: int, semantic: bool, rng: np.random.Generator
) -> list[SpawnShard]:
    """``count`` shards of uniform traffic.

    Source uniform over live bots; target uniform over the *other* live bots (or None, for
    the semantic router, which finds the target itself).
    """
    live = net.live()
    out: list[SpawnShard] = []
    if not live:
        return out
    for _ in range(count):
        i = int(rng.integers(len(live)))
        src = live[i]
        target = None
        if not semantic and len(live) > 1:
            # the j-th of the other live bots, without listing them (the mesh may be large)
            j = int(rng.integers(len(live) - 1))
            target = live[j + (j >= i)]
        elif not semantic:
            target = src
        text = net.held_out[int(rng.integers(len(net.held_out)))]
        out.append(SpawnShard(text, src, target))
    return out


class Traffic:
    """Spawns ``rate`` shards per tick on average.

    A fractional rate carries over between ticks (0.5 spawns one shard every other tick), so
    offered load is exact, not Poisson.
    """

    def __init__(
        self, net: ShardNet, rate: float, semantic: bool, rng: np.random.Generator
    ) -> None:
        self.net = net
        self.rate = rate
        self.semantic = semantic
        self.rng = rng
        self._owed = 0.0

    def tick(self) -> list[SpawnShard]:
        """The shards to spawn in the current tick."""
        self._owed += self.rate
        count = int(self._owed)
        self._owed -= count
        return uniform_spawns(self.net, count, self.semantic, self.rng) if count else []
