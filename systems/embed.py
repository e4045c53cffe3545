"""Embed system: every text that needs a vector this tick goes into one batched encode.

Texts are new shards' memories and, the first time anything is encoded, every bot's memories
(its profile is their normalised mean). The model loads on that first encode, not before, so
runs without shards never load torch. Repeated texts come from the embedder's LRU cache.
"""

from __future__ import annotations

import esper
import numpy as np

from components.shard import Shard
from game.schedule import System
from game.shardnet import ShardNet
from game.world import Sim


class EmbedSystem(System):
    """Fills in the vectors of this tick's new shards (and the bots' profiles, once)."""

    phase = "embed"

    def __init__(self, sim: Sim, net: ShardNet) -> None:
        self.sim = sim
        self.net = net

    def process(self) -> None:
        """One batched encode of every text without a vector."""
        net = self.net
        shards = [esper.component_for_entity(e, Shard) for e in net.new]
        pending = [s for s in shards if s.vector is None]
        bots = [b for b in net.bots.values() if b.profile is None] if pending else []
        texts = [s.text for s in pending] + [m for b in bots for m in b.memories]
        if not texts:
            return
        vectors = net.embedder.embed(texts)
        for shard, vector in zip(pending, vectors, strict=False):
            shard.vector = vector
        at = len(pending)
        for bot in bots:
            n = len(bot.memories)
            mean = vectors[at : at + n].mean(axis=0)
            bot.profile = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
            at += n
