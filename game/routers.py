"""Routers: how a bot picks a shard's next hop. Swappable behind one interface.

A router sees only what a bot could know: its own position, which of its neighbours are up,
the shard (its target or vector, and the path it has taken) and, for the semantic router, the
profiles its neighbours gossiped to it. ``decide`` returns ``DELIVER``, the next hop, or a
drop reason (a string from :data:`game.events.DROP_REASONS`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from components.shard import Shard
from game.topology import Cell, cells, neighbours, torus_distance
from game.trails import Wires

DELIVER: Final = "deliver"
Decision = Cell | str  # a next hop, DELIVER, or a drop reason


class Router(Protocol):
    """What the route system asks of a router."""

    name: str

    def decide(self, shard: Shard, at: Cell, visited: Collection[Cell]) -> Decision:
        """Deliver ``shard`` at ``at``, forward it to a neighbour, or drop it (with a reason).

        ``visited`` is every bot the shard has been at, ``at`` included (loop avoidance).
        """
        ...


class Hints:
    """What a router may read of the energy field: the energy of the links at its bot.

    The route system calls :meth:`refresh` once a tick.
    """

    def __init__(self, wires: Wires, energy: npt.NDArray[np.float32]) -> None:
        self.wires = wires
        self.energy = energy
        self._levels: dict[tuple[Cell, Cell], float] = {}

    def refresh(self) -> None:
        """Read every link's energy once for this tick (routers ask many times a tick)."""
        self._levels = self.wires.levels(self.energy)

    def level(self, a: Cell, b: Cell) -> float:
        """The energy of the link between neighbours ``a`` and ``b`` (as of ``refresh``)."""
        return self._levels.get((min(a, b), max(a, b)), 0.0)


class ShortestRouter:
    """Greedy shortest path on the torus: the live, unvisited neighbour nearest the target.

    With no faults every hop shortens the distance by one (stretch 1.0); ties go N, E, S, W.
    When the nearer neighbours are down it detours through the nearest live one.
    """

    name = "shortest"

    def __init__(self, rows: int, cols: int, down: Collection[Cell]) -> None:
        self.rows, self.cols = rows, cols
        self.down = frozenset(down)

    def decide(self, shard: Shard, at: Cell, visited: Collection[Cell]) -> Decision:
        """See :meth:`Router.decide`."""
        target = shard.target
        if target is None:
            raise ValueError("the shortest router needs a target bot")
        if at == target:
            return DELIVER
        best: Cell | None = None
        best_d = 0
        for n in neighbours(at, self.rows, self.cols):
            if n in self.down:
                if n == target:
                    return "target_down"
                continue
            if n in visited:
                continue
            d = torus_distance(n, target, self.rows, self.cols)
            if best is None or d < best_d:
                best, best_d = n, d
        return best if best is not None else "no_route"


class SemanticRouter:
    """Route to the bot whose profile is most similar to the shard's vector, hop by hop.

    No bot looks anything up globally. Each live bot learns profiles by gossip: in each of
    ``horizon`` rounds it hears its live neighbours' tables, and keeps every profile within
    ``horizon`` hops with the neighbour it came through (distance-vector style, first
    neighbour in N, E, S, W order on ties). At each hop the bot ranks the profiles it knows by
    cosine similarity to the shard: if it is the best itself it keeps the shard (delivered);
    otherwise it forwards toward the best one whose next hop the shard has not visited.
    """

    name = "semantic"

    def __init__(
        self,
        rows: int,
        cols: int,
        down: Collection[Cell],
        horizon: int,
        profiles: Mapping[Cell, npt.NDArray[np.float32]],
        confidence: float = 0.35,
        hints: Hints | None = None,
    ) -> None:
        self.rows, self.cols, self.horizon = rows, cols, horizon
        self.down = frozenset(down)
        self.profiles = dict(profiles)
        self.confidence = confidence
        self.hints = hints
        live = [c for c in cells(rows, cols) if c not in self.down]
        known: dict[Cell, dict[Cell, tuple[int, Cell]]] = {b: {b: (0, b)} for b in live}
        for _ in range(horizon):
            heard = {b: dict(t) for b, t in known.items()}
            for b in live:
                for n in neighbours(b, rows, cols):
                    if n in self.down:
                        continue
                    for target, (d, _) in known[n].items():
                        old = heard[b].get(target)
                        if old is None or d + 1 < old[0]:
                            heard[b][target] = (d + 1, n)
            known = heard
        self.tables: dict[Cell, tuple[list[Cell], list[Cell], npt.NDArray[np.float32]]] = {}
        for b, table in known.items():
            targets = list(table)
            self.tables[b] = (
                targets,
                [table[t][1] for t in targets],
                np.stack([profiles[t] for t in targets]).astype(np.float32),
            )
        self.live = len(live)

    def known(self, at: Cell) -> list[Cell]:
        """The bots whose profiles the bot at ``at`` has learned (itself first)."""
        return list(self.tables[at][0])

    def decide(self, shard: Shard, at: Cell, visited: Collection[Cell]) -> Decision:
        """See :meth:`Router.decide`.

        The bot ranks the profiles it knows: if it is the best match itself it delivers,
        otherwise it forwards toward the best whose next hop the shard has not visited. When
        the bot sees only part of the mesh and even the best match it knows is weak (below
        ``confidence``), the target lies beyond its horizon: the shard searches instead
        (:meth:`_explore`).
        """
        vector = shard.vector
        if vector is None:
            raise ValueError("the semantic router needs the shard's vector")
        targets, hops, matrix = self.tables[at]
        scores = matrix @ vector
        order = np.argsort(-scores, kind="stable").tolist()
        sees_all = len(targets) == self.live
        if not sees_all and float(scores[order[0]]) < self.confidence:
            return self._explore(vector, at, visited)  # no good match in sight: search
        for i in order:
            if targets[i] == at:
                return DELIVER
            if hops[i] not in visited:
                hop: Cell = hops[i]
                return hop
        return "no_route"

    def _explore(self, vector: npt.NDArray[np.float32], at: Cell,
                 visited: Collection[Cell]) -> Decision:
        """Search beyond the horizon: step to an unvisited live neighbour (or stay).

        Without hints, the neighbour with the most similar profile (greedy); with energy
        hints, the link with the most energy: the trail that delivered shards have reinforced
        (similarity breaks ties).
        """
        options = [n for n in neighbours(at, self.rows, self.cols)
                   if n not in self.down and n not in visited]
        if not options:
            return DELIVER  # nowhere left to look: the best match on the way
        if self.hints is not None:
            hints = self.hints
            return max(options, key=lambda n: (hints.level(at, n),
                                               float(self.profiles[n] @ vector)))
        return max(options, key=lambda n: float(self.profiles[n] @ vector))


def best_bot(
    vector: npt.NDArray[np.float32], profiles: Mapping[Cell, npt.NDArray[np.float32]]
) -> Cell:
    """The bot whose profile is most similar to ``vector``: the judge of semantic delivery.

    A global lookup, used only to score the semantic router, never by it.
    """
    order = sorted(profiles)
    matrix = np.stack([profiles[c] for c in order])
    return order[int(np.argmax(matrix @ vector))]
