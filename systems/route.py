"""Route system: admits new shards, forwards queued ones one hop, ends every shard once.

Per tick, in this order:

1. **Admission.** Each shard spawned this tick enters its source bot's inbox, unless the
   source is down (``src_down``), the router delivers it on the spot, or the inbox is at its
   admission limit (``inbox_full``): admission control keeps room for shards in transit.
2. **Forwarding.** Bots in row-major order each forward up to ``capacity`` shards from their
   inbox, oldest first. A hop whose receiver's inbox is full is not sent (backpressure: the
   sender keeps the shard and tries the next one). A sent hop is lost with probability
   ``loss``; without an acknowledgement the sender keeps the shard and retries next tick, and
   drops it after ``max_retries`` retries (``link_lost``). A shard that arrives is delivered
   if the router says so, expires if it has used its ttl, or joins the receiver's inbox at the
   end of the tick (so a shard moves at most one hop per tick).
   With ``route.transport`` ``glider`` or ``mixed``, a shard with a diagonal leg ahead is
   handed to the glider system instead (``wants_glider``), using one forwarding slot.
3. **States.** Each live bot becomes ``overloaded`` (inbox at its admission limit), ``busy``
   (holding shards) or ``idle``.

A shard that sits ``stall_ticks`` ticks without moving is dropped (``stalled``): the last
guard against a deadlock of full inboxes. Every shard ends in exactly one terminal event.
"""

from __future__ import annotations

import math
from collections import deque

import esper
import numpy as np

from components.bot import Bot
from components.shard import Shard
from game.events import Dropped, Expired, Hop, Retry
from game.routers import DELIVER, Hints, Router, SemanticRouter, ShortestRouter
from game.schedule import System
from game.shardnet import ShardNet
from game.topology import Cell, ring_offset
from game.world import Sim


class RouteSystem(System):
    """Moves shards between bots over the mesh links (see the module docstring)."""

    phase = "route"

    def __init__(self, sim: Sim, net: ShardNet, rng: np.random.Generator) -> None:
        self.sim = sim
        self.net = net
        self.rng = rng
        cfg = sim.config.route
        self.cfg = cfg
        self.admit_limit = max(1, math.floor(cfg.admit * cfg.inbox))
        self.order = sorted(net.bots)
        self._direct: ShortestRouter | None = None

    def router(self) -> Router:
        """The configured router, built on first use (the semantic one needs profiles)."""
        net = self.net
        if net.router is None:
            cfg = self.cfg
            down = [c for c, b in net.bots.items() if b.down]
            if cfg.router == "semantic":
                hints = None
                if cfg.hints and net.wires is not None and net.energy is not None:
                    hints = Hints(net.wires, net.energy, down)
                net.router = SemanticRouter(net.rows, net.cols, down, cfg.horizon,
                                            net.profiles(), cfg.confidence, hints)
            else:
                net.router = ShortestRouter(net.rows, net.cols, down)
        return net.router

    def router_for(self, shard: Shard) -> Router:
        """The configured router; a shard with a named target goes by the shortest router.

        A target needs no semantic search, and an adapter shard's vector is not an embedding.
        """
        router = self.router()
        if shard.target is None or isinstance(router, ShortestRouter):
            return router
        if self._direct is None:
            down = [c for c, b in self.net.bots.items() if b.down]
            self._direct = ShortestRouter(self.net.rows, self.net.cols, down)
        return self._direct

    def process(self) -> None:
        """Admit, forward, update states."""
        tick = self.sim.tick + 1
        arrivals: dict[Cell, list[int]] = {c: [] for c in self.order}
        router = self.net.router
        if isinstance(router, SemanticRouter) and router.hints is not None:
            router.hints.refresh()
        self._admit(tick)
        for cell in self.order:
            bot = self.net.bots[cell]
            if not bot.down and bot.inbox:
                self._forward(tick, bot, arrivals)
        for cell in self.order:
            bot = self.net.bots[cell]
            bot.inbox.extend(arrivals[cell])
            if bot.down:
                continue
            if len(bot.inbox) >= self.admit_limit:
                bot.state = "overloaded"
            elif bot.state != "pulsing":
                bot.state = "busy" if bot.inbox else "idle"

    def _admit(self, tick: int) -> None:
        for eid in self.net.new:
            shard = esper.component_for_entity(eid, Shard)
            bot = self.net.bots[shard.src]
            if bot.down:
                self._end(eid, Dropped(tick=tick, shard=shard.id, at=shard.at, reason="src_down"))
                continue
            decision = self.router_for(shard).decide(shard, shard.at, shard.path)
            if decision == DELIVER:
                self._deliver(tick, eid, shard)
            elif isinstance(decision, str):
                self._end(eid, Dropped(tick=tick, shard=shard.id, at=shard.at, reason=decision))
            elif len(bot.inbox) >= self.admit_limit:
                self._end(eid, Dropped(tick=tick, shard=shard.id, at=shard.at,
                                       reason="inbox_full"))
            else:
                bot.inbox.append(eid)
        self.net.new.clear()

    def _forward(self, tick: int, bot: Bot, arrivals: dict[Cell, list[int]]) -> None:
        cfg, net = self.cfg, self.net
        events = self.sim.events
        slots = bot.capacity
        keep: deque[int] = deque()
        while bot.inbox:
            eid = bot.inbox.popleft()
            shard = esper.component_for_entity(eid, Shard)
            if slots == 0:
                self._wait(tick, eid, shard, keep)
                continue
            router = self.router_for(shard)
            decision = router.decide(shard, bot.cell, shard.path)
            if decision == DELIVER:
                self._deliver(tick, eid, shard)
                continue
            if isinstance(decision, str):
                self._end(eid, Dropped(tick=tick, shard=shard.id, at=shard.at, reason=decision))
                continue
            if self.wants_glider(shard, bot.cell):
                slots -= 1
                shard.transport = "glider"
                net.boarding.append(eid)
                continue
            receiver = net.bots[decision]
            full = len(receiver.inbox) + len(arrivals[decision]) >= receiver.inbox_size
            if full and router.decide(shard, decision, [*shard.path, decision]) != DELIVER:
                self._wait(tick, eid, shard, keep)
                continue
            slots -= 1
            if cfg.loss and self.rng.random() < cfg.loss:
                shard.attempts += 1
                events.emit(Retry(tick=tick, shard=shard.id, from_=bot.cell, to=decision,
                                  attempt=shard.attempts))
                if shard.attempts > cfg.max_retries:
                    self._end(eid, Dropped(tick=tick, shard=shard.id, at=shard.at,
                                           reason="link_lost"))
                else:
                    keep.append(eid)
                continue
            events.emit(Hop(tick=tick, shard=shard.id, from_=bot.cell, to=decision))
            net.hop(bot.cell, decision)
            bot.forwarded += 1
            shard.at = decision
            shard.path.append(decision)
            shard.hops += 1
            shard.attempts = shard.waiting = 0
            if router.decide(shard, decision, shard.path) == DELIVER:
                self._deliver(tick, eid, shard)
            elif shard.hops >= shard.ttl:
                self._end(eid, Expired(tick=tick, shard=shard.id, at=shard.at, hops=shard.hops))
            else:
                arrivals[decision].append(eid)
        bot.inbox = keep

    def _wait(self, tick: int, eid: int, shard: Shard, keep: deque[int]) -> None:
        """The shard stays where it is this tick; too long, and it is dropped as stalled."""
        shard.waiting += 1
        if shard.waiting >= self.cfg.stall_ticks:
            self._end(eid, Dropped(tick=tick, shard=shard.id, at=shard.at, reason="stalled"))
        else:
            keep.append(eid)

    def _deliver(self, tick: int, eid: int, shard: Shard) -> None:
        self.net.deliver(self.sim.events, tick, eid, shard)

    def _end(self, eid: int, event: Expired | Dropped) -> None:
        self.net.end(self.sim.events, eid, event)

    def wants_glider(self, shard: Shard, at: Cell) -> bool:
        """Whether the shard should ride a glider from ``at`` (``route.transport``).

        A glider flies diagonally, so only a leg with both a row and a column to go can ride;
        ``mixed`` rides only legs of at least ``route.glider_min_leg`` hops. A shard boards at
        most twice (a glider that keeps dying is not worth a third).
        """
        cfg = self.cfg
        if cfg.transport == "link" or shard.target is None or shard.rides >= 2:
            return False
        net = self.net
        dr = ring_offset(at[0], shard.target[0], net.rows)
        dc = ring_offset(at[1], shard.target[1], net.cols)
        if not dr or not dc:
            return False
        return cfg.transport == "glider" or abs(dr) + abs(dc) >= cfg.glider_min_leg
