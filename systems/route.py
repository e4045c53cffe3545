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
   (holding shards) or ``idle``; a ``pulsing`` bot stays pulsing unless overloaded. A bot that
   neither held nor received a shard keeps the state it has, which is already that one.

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
from game.cells import Cell
from game.engine.events import Dropped, Expired, Hop, Retry
from game.engine.schedule import System
from game.engine.world import Sim
from game.routers import DELIVER, Hints, Router, SemanticRouter, ShortestRouter
from game.shardnet import ShardNet
from game.topology import ring_offset


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
        # Row-major, the order bots forward in; bots go down only when the net is built.
        self.live_bots = [net.bots[c] for c in sorted(net.bots) if not net.bots[c].down]
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
                    hints = Hints(net.wires, net.energy, down, before_read=net.flush_trails)
                net.router = SemanticRouter(net.rows, net.cols, down, cfg.horizon,
                                            net.profiles(), cfg.confidence, hints)
            else:
                net.router = ShortestRouter(net.rows, net.cols, down)
        return net.router

    def router_for(self, shard: Shard) -> Router:
        """The configured router; a shard with a named target goes by the shortest router.

        A target needs no semantic search, and an adapter shard's vector is not an embedding.
        """
        return self.targeted() if shard.target is not None else self.router()

    def targeted(self) -> Router:
        """The router of shards with a named target (see :meth:`router_for`)."""
        router = self.router()
        if isinstance(router, ShortestRouter):
            return router
        if self._direct is None:
            down = [c for c, b in self.net.bots.items() if b.down]
            self._direct = ShortestRouter(self.net.rows, self.net.cols, down)
        return self._direct

    def process(self) -> None:
        """Admit, forward, update states.

        Only the bots that hold shards, and those that receive some, are visited: on a big
        mesh most bots are empty and stay as they are.
        """
        tick = self.sim.tick + 1
        net = self.net
        router = net.router
        if isinstance(router, SemanticRouter) and router.hints is not None:
            router.hints.refresh()
        self._admit(tick)
        arrivals: dict[Cell, list[int]] = {}
        holding = [bot for bot in self.live_bots if bot.inbox]
        if holding:  # (the semantic router is built once the first shard has a vector)
            routers = (self.router(), self.targeted())
            for bot in holding:
                self._forward(tick, bot, routers, arrivals)
        net.flush_trails()
        for cell, eids in arrivals.items():
            bot = net.bots[cell]
            bot.inbox.extend(eids)
            if not bot.down:
                holding.append(bot)
        limit = self.admit_limit
        for bot in holding:
            if len(bot.inbox) >= limit:
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

    def _forward(self, tick: int, bot: Bot, routers: tuple[Router, Router],
                 arrivals: dict[Cell, list[int]]) -> None:
        """``routers``: :meth:`router` and :meth:`targeted` (:meth:`router_for`, hoisted)."""
        cfg, net = self.cfg, self.net
        events = self.sim.events
        search, targeted = routers
        glide = cfg.transport != "link"  # wants_glider's first test, hoisted
        at = bot.cell
        slots = bot.capacity
        inbox = bot.inbox
        keep: deque[int] = deque()
        while inbox:
            eid = inbox.popleft()
            shard = esper.component_for_entity(eid, Shard)
            if slots == 0:
                self._wait(tick, eid, shard, keep)
                continue
            router = search if shard.target is None else targeted
            decision = router.decide(shard, at, shard.path)
            if decision == DELIVER:
                self._deliver(tick, eid, shard)
                continue
            if isinstance(decision, str):
                self._end(eid, Dropped(tick=tick, shard=shard.id, at=shard.at, reason=decision))
                continue
            if glide and self.wants_glider(shard, at):
                slots -= 1
                shard.transport = "glider"
                net.boarding.append(eid)
                continue
            receiver = net.bots[decision]
            queued = arrivals.get(decision)
            full = len(receiver.inbox) + (len(queued) if queued else 0) >= receiver.inbox_size
            if full and not router.delivers(shard, decision, [*shard.path, decision]):
                self._wait(tick, eid, shard, keep)
                continue
            slots -= 1
            if cfg.loss and self.rng.random() < cfg.loss:
                shard.attempts += 1
                events.emit(Retry(tick=tick, shard=shard.id, from_=at, to=decision,
                                  attempt=shard.attempts))
                if shard.attempts > cfg.max_retries:
                    self._end(eid, Dropped(tick=tick, shard=shard.id, at=shard.at,
                                           reason="link_lost"))
                else:
                    keep.append(eid)
                continue
            events.emit(Hop(tick=tick, shard=shard.id, from_=at, to=decision))
            net.hop(at, decision)
            bot.forwarded += 1
            shard.at = decision
            shard.path.append(decision)
            shard.hops += 1
            shard.attempts = shard.waiting = 0
            if router.delivers(shard, decision, shard.path):
                self._deliver(tick, eid, shard)
            elif shard.hops >= shard.ttl:
                self._end(eid, Expired(tick=tick, shard=shard.id, at=shard.at, hops=shard.hops))
            elif queued is None:
                arrivals[decision] = [eid]
            else:
                queued.append(eid)
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
