"""Tier 2's shared state: the bots of the mesh, the shards spawned this tick, the embedder.

Held once by the simulation (a resource, like the substrate); the input, embed and route systems
read and write it. Bots and shards themselves are esper entities.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import esper
import numpy as np
import numpy.typing as npt

from components.bot import Bot
from components.shard import Shard
from game.cells import Cell
from game.config import Config
from game.engine.commands import SpawnShard
from game.engine.events import Delivered, Dropped, EventBus, Expired, Spawn
from game.errors import BadInput
from game.topology import cells, check_inside
from game.trails import Wires

if TYPE_CHECKING:
    from game.embedding import Embedder
    from game.routers import Router


@dataclass
class ShardNet:
    """The bots by mesh coordinate, the queue of new shards, the corpus and the embedder.

    ``held_out`` are corpus texts no bot holds as a memory: the texts the run's own traffic
    sends (so semantic routing is always tested on sentences no profile was built from).
    ``boarding`` are shards the route system handed to glider transport this tick.
    ``topics`` names each bot's corpus topic and ``held_out_by_topic`` its unsent texts (for
    skewed traffic). ``wires`` and ``energy`` are where shards leave their trails (see
    :mod:`game.trails`); a hop's trail waits in a batch until :meth:`flush_trails`.

    Bots go down only when the net is built (``route.down``), so the live cells are fixed.
    """

    rows: int
    cols: int
    bots: dict[Cell, Bot]
    held_out: list[str]
    embedder: Embedder
    new: list[int] = field(default_factory=list)
    boarding: list[int] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    router: Router | None = None
    topics: dict[Cell, str] = field(default_factory=dict)
    held_out_by_topic: dict[str, tuple[str, ...]] = field(default_factory=dict)
    wires: Wires | None = None
    energy: npt.NDArray[np.float32] | None = None
    shard_deposit: float = 0.0
    trail_deposit: float = 0.0
    trail_falloff: float = 1.0
    confidence: float = 0.35
    pulse_requests: list[Cell | None] = field(default_factory=list)
    wave_starts: list[tuple[Cell, str]] = field(default_factory=list)
    arrivals: list[Shard] = field(default_factory=list)
    wave_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _live: tuple[Cell, ...] | None = field(default=None, init=False, repr=False)
    # Trails waiting for :meth:`flush_trails`, in the order they were made: links and gains.
    _links: list[int] = field(default_factory=list, init=False, repr=False)
    _gains: list[float] = field(default_factory=list, init=False, repr=False)

    def live(self) -> list[Cell]:
        """The mesh cells whose bots are up, row-major."""
        if self._live is None:  # traffic asks every tick: look at every bot once
            self._live = tuple(c for c, b in self.bots.items() if not b.down)
        return list(self._live)

    def profiles(self) -> dict[Cell, np.ndarray]:
        """Every live bot's profile (all of them must have been embedded)."""
        out: dict[Cell, np.ndarray] = {}
        for c, b in self.bots.items():
            if not b.down:
                if b.profile is None:
                    raise RuntimeError(f"bot {c} has no profile yet")
                out[c] = b.profile
        return out

    def end(self, events: EventBus, eid: int, event: Delivered | Expired | Dropped) -> None:
        """Emit the shard's one terminal event and delete its entity."""
        events.emit(event)
        esper.delete_entity(eid, immediate=True)

    def hop(self, a: Cell, b: Cell) -> None:
        """A shard crossed the link a–b: its trail on the link's wire, at the next flush.

        A tick makes a hop per shard in flight; one scatter for all of them costs what a few
        separate ones would.
        """
        if self.wires is not None and self.energy is not None and self.shard_deposit:
            self._links.append(self.wires.link(a, b))
            self._gains.append(self.shard_deposit)

    def flush_trails(self) -> None:
        """Add the trails of the hops and deliveries since the last flush to the field.

        Call it before anything reads or otherwise writes the field (the route and glider
        systems flush at the end of their phase). ``np.add.at`` adds in the order the trails
        were made, once per cell and trail (a busy link's wire gets several), so the field is
        bit for bit what adding each trail as it was made would have given.
        """
        if self._links and self.wires is not None and self.energy is not None:
            np.add.at(self.energy.ravel(), self.wires.cells(self._links),
                      self.wires.gains(self._gains))
        self._links.clear()
        self._gains.clear()

    def spawn(self, events: EventBus, shard: Shard) -> None:
        """Create ``shard``'s entity at its source, queue it for routing, log its ``spawn``."""
        self.new.append(esper.create_entity(shard))
        events.emit(Spawn(tick=shard.spawn_tick, shard=shard.id, src=shard.src,
                          target=shard.target, payload=shard.payload, text=shard.text))

    def deliver(self, events: EventBus, tick: int, eid: int, shard: Shard) -> None:
        """End the shard as delivered where it is now, reinforcing its path's trail.

        Only a good delivery reinforces: a targeted shard at its target, or a semantic shard
        at a bot whose own profile matches it at least ``confidence`` (what that bot can tell
        by itself). Reinforcing every delivery would let misdelivered shards build trails that
        draw more shards to the wrong bots.

        An adapter shard of a wave the bot has already seen is dropped (``duplicate``); the
        first one is delivered and queued in ``arrivals`` for the pulse system.
        """
        if shard.payload == "adapter" and shard.wave is not None:
            waves = self.bots[shard.at].waves
            if shard.wave in waves:
                self.end(events, eid, Dropped(tick=tick, shard=shard.id, at=shard.at,
                                              reason="duplicate"))
                return
            waves.add(shard.wave)
            self.arrivals.append(shard)
        if self.wires is not None and self.energy is not None and self._good(shard):
            # It joins the hops' trails, in order, at the next flush.
            links, gains = self.wires.trail(shard.path, self.trail_deposit, self.trail_falloff)
            self._links += links
            self._gains += gains
        latency = tick - shard.spawn_tick + 1
        self.end(events, eid, Delivered(tick=tick, shard=shard.id, at=shard.at,
                                        hops=shard.hops, latency=latency))

    def _good(self, shard: Shard) -> bool:
        if shard.target is not None:
            return True
        profile = self.bots[shard.at].profile
        if shard.vector is None or profile is None:
            return False
        return float(profile @ shard.vector) >= self.confidence

    def check_spawn(self, command: SpawnShard) -> None:
        """Raise :class:`BadInput` (one line) when ``command`` names a bot outside the mesh."""
        for what, cell in (("src", command.src), ("target", command.target)):
            if cell is not None:
                check_inside(f"shard {what}", cell, self.rows, self.cols)
        if not command.text.strip():
            raise BadInput("a shard needs a non-empty text")
        if command.payload not in ("memory", "adapter"):
            raise BadInput(f"shard payload {command.payload!r}: expected memory or adapter")


def build_net(
    config: Config, rng: np.random.Generator, energy: npt.NDArray[np.float32] | None = None
) -> ShardNet:
    """Create one bot entity per mesh cell, give each its memories, and the shared state.

    ``energy`` is the substrate's field, where shards leave trails (none without it).
    Each bot takes a topic of the corpus (a seeded shuffle) and that topic's first
    ``traffic.memories_per_bot`` texts as memories; the rest of those topics' texts are held out.
    """
    from game.corpus import assign_topics, load_corpus
    from game.embedding import make_embedder

    rows, cols = config.mesh.rows, config.mesh.cols
    route = config.route
    for cell in route.down:
        check_inside("route.down: bot", cell, rows, cols)
    corpus = load_corpus()
    k = config.traffic.memories_per_bot
    short = [t for t, texts in corpus.items() if len(texts) <= k]
    if short:
        raise BadInput(
            f"traffic.memories_per_bot {k}: topic {short[0]!r} has only "
            f"{len(corpus[short[0]])} texts (some must be left to send as shards)"
        )
    topics = assign_topics(corpus, rows * cols, rng)
    down = set(route.down)
    bots: dict[Cell, Bot] = {}
    for cell, topic in zip(cells(rows, cols), topics, strict=True):
        bot = Bot(cell[0], cell[1], route.inbox, route.capacity, memories=corpus[topic][:k])
        if cell in down:
            bot.state = "down"
        esper.create_entity(bot)
        bots[cell] = bot
    held_out = [text for topic in dict.fromkeys(topics) for text in corpus[topic][k:]]
    net = ShardNet(rows, cols, bots, held_out, make_embedder(config.embed))
    net.topics = dict(zip(cells(rows, cols), topics, strict=True))
    net.held_out_by_topic = {topic: corpus[topic][k:] for topic in dict.fromkeys(topics)}
    if energy is not None:
        net.wires = Wires(rows, cols, config.mesh.tile)
        net.energy = energy
        net.shard_deposit = config.energy.shard_deposit
        net.trail_deposit = config.energy.trail_deposit
        net.trail_falloff = config.energy.trail_falloff
        net.confidence = config.route.confidence
    return net
