"""Embed system: every text that needs a vector this tick goes into one batched encode.

Texts are new shards' memories and, the first time anything is encoded, every bot's memories
(its profile is their normalised mean) together with the corpus texts held out for traffic, so
that the run's own traffic is always served from the embedder's LRU cache. The model loads on
that first encode, not before, so runs without shards never load torch.

A text the cache does not hold (a user's shard) is encoded beside the loop when ``embed.lag``
is above 0: the shard waits at its source, and its vector joins exactly ``lag`` ticks later
(the tick waits for a late encode rather than go on without it), so a run stays deterministic
however fast the encoder was. With lag 0 it is encoded in its own tick.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import esper
import numpy as np

from components.bot import Bot
from components.shard import Shard
from game.embedding import Vectors
from game.engine.beside import beside_the_loop
from game.engine.schedule import System
from game.engine.world import Sim
from game.shardnet import ShardNet


@dataclass(slots=True)
class _Waiting:
    """Shards whose texts are being encoded beside the loop, and the tick they join."""

    due: int
    entities: list[int]
    texts: list[str]
    vectors: Future[Vectors]


class EmbedSystem(System):
    """Fills in the vectors of this tick's new shards (and the bots' profiles, once)."""

    phase = "embed"

    def __init__(self, sim: Sim, net: ShardNet) -> None:
        self.sim = sim
        self.net = net
        self.lag = sim.config.embed.lag
        self._waiting: deque[_Waiting] = deque()
        self._pool: ThreadPoolExecutor | None = None

    def process(self) -> None:
        """Join the encodes due now, then one lookup (and at most one encode) for the rest."""
        net, tick = self.net, self.sim.tick + 1
        joined = self._join(tick)
        pending = [e for e in net.new if esper.component_for_entity(e, Shard).vector is None]
        bots = [b for b in net.bots.values() if b.profile is None] if pending else []
        texts = [esper.component_for_entity(e, Shard).text for e in pending]
        texts += [m for b in bots for m in b.memories]
        if bots:
            texts += net.held_out
        if texts:
            found, missing = net.embedder.lookup(texts)
            if missing and self.lag and not bots:
                self._defer(tick, pending, found, missing)
            else:
                found.update(net.embedder.store(missing, net.embedder.encode_missing(missing)))
                self._fill(pending, found)
                _profiles(bots, found)
        net.new[:0] = joined  # the earliest spawns first, as the route system admits them

    def _defer(self, tick: int, pending: list[int], found: dict[str, Vectors],
               missing: list[str]) -> None:
        """Hold back the shards whose texts missed; encode those texts in the worker thread."""
        late = set(missing)
        waiting = [e for e in pending if esper.component_for_entity(e, Shard).text in late]
        held = set(waiting)
        self._fill([e for e in pending if e not in held], found)
        self.net.new[:] = [e for e in self.net.new if e not in held]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="embed",
                                            initializer=beside_the_loop)
        future = self._pool.submit(self.net.embedder.encode_missing, missing)
        self._waiting.append(_Waiting(tick + self.lag, waiting, missing, future))

    def _join(self, tick: int) -> list[int]:
        """The held shards whose vectors are due now, vectors filled in, in spawn order."""
        joined: list[int] = []
        while self._waiting and self._waiting[0].due <= tick:
            batch = self._waiting.popleft()
            self._fill(batch.entities, self.net.embedder.store(batch.texts,
                                                               batch.vectors.result()))
            joined += batch.entities
        return joined

    @staticmethod
    def _fill(entities: list[int], found: dict[str, Vectors]) -> None:
        for eid in entities:
            shard = esper.component_for_entity(eid, Shard)
            shard.vector = found[shard.text]

    def close(self) -> None:
        """Stop the encoder thread (an encode in progress finishes first)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _profiles(bots: list[Bot], found: dict[str, Vectors]) -> None:
    """Each bot's profile: the normalised mean of its memories' vectors."""
    for bot in bots:
        mean = np.stack([found[m] for m in bot.memories]).mean(axis=0)
        bot.profile = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
