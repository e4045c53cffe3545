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
    """What a router may read of the energy field: the trails on the links around its bot.

    A link's *level* is the mean energy of its wire. The *onward* trail from ``a`` through a
    neighbour ``n`` is the strongest level among ``n``'s other live links: where a shard could
    go on from ``n`` along the trail (each bot hears its neighbours' link levels with their
    gossip). The route system calls :meth:`refresh` once a tick; both are read from one
    vectorised gather then.
    """

    def __init__(self, wires: Wires, energy: npt.NDArray[np.float32],
                 down: Collection[Cell] = ()) -> None:
        self.wires = wires
        self.energy = energy
        keys = wires.keys
        index = {k: i for i, k in enumerate(keys)}
        self._link = index
        down = frozenset(down)
        self._slots: dict[Cell, list[tuple[Cell, int]]] = {}
        rows: list[list[int]] = []
        for a in cells(wires.rows, wires.cols):
            for n in neighbours(a, wires.rows, wires.cols):
                self._slots.setdefault(a, []).append((n, len(rows)))
                rows.append([index[(min(n, m), max(n, m))]
                             for m in neighbours(n, wires.rows, wires.cols)
                             if m != a and m not in down])
        width = max((len(r) for r in rows), default=1)
        pad = len(keys)  # index of an always-zero level: a missing link leads nowhere
        index_matrix = np.array([r + [pad] * (width - len(r)) for r in rows], np.intp)
        self._onward_columns = [index_matrix[:, j].copy() for j in range(width)]
        self._buffer = np.zeros(len(keys) + 1, np.float32)
        self._levels: list[float] = []
        self._onward: list[float] = []
        self._from: dict[Cell, dict[Cell, float]] = {}
        self._stale = True

    def refresh(self) -> None:
        """The field has moved on a tick: read it again when a router next asks."""
        self._stale = True

    def _read(self) -> None:
        # Once a tick at most (routers ask many times a tick), and not at all on quiet ticks.
        self._stale = False
        levels = self._buffer
        levels[:-1] = self.wires.level_array(self.energy)
        columns = iter(self._onward_columns)
        onward = levels[next(columns)]
        for column in columns:
            np.maximum(onward, levels[column], out=onward)
        self._levels = levels.tolist()
        self._onward = onward.tolist()
        self._from = {}

    def level(self, a: Cell, b: Cell) -> float:
        """The energy of the link between neighbours ``a`` and ``b`` (as of ``refresh``)."""
        if self._stale:
            self._read()
        return self._levels[self._link[(min(a, b), max(a, b))]]

    def onward_from(self, a: Cell) -> dict[Cell, float]:
        """The onward trail through each neighbour of ``a``, by neighbour.

        Through ``n``: the strongest level among ``n``'s other live links, not back to ``a``
        (one dict per bot, built once a tick).
        """
        if self._stale:
            self._read()
        trails = self._from.get(a)
        if trails is None:
            onward = self._onward
            trails = self._from[a] = {n: onward[i] for n, i in self._slots[a]}
        return trails


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
        self._around = {c: [n for n in neighbours(c, rows, cols) if n not in self.down]
                        for c in live}
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
            # no good match in sight: search (the horizon always covers the neighbours)
            return self._explore(dict(zip(targets, scores.tolist(), strict=True)), at, visited)
        for i in order:
            if targets[i] == at:
                return DELIVER
            if hops[i] not in visited:
                hop: Cell = hops[i]
                return hop
        return "no_route"

    def _explore(self, similarity: Mapping[Cell, float], at: Cell,
                 visited: Collection[Cell]) -> Decision:
        """Search beyond the horizon: step to an unvisited live neighbour (or stay).

        Without hints, the neighbour with the most similar profile (greedy). With energy
        hints, the neighbour with the strongest trail leading *on* from it
        (:meth:`Hints.onward_from`): a neighbour whose trails all lead into it is where other
        shards were delivered, a dead end for this one, which would have recognised that
        neighbour's profile. Similarity breaks ties. ``similarity`` maps each bot the shard
        knows to its profile's cosine with the shard.
        """
        options = [n for n in self._around[at] if n not in visited]
        if not options:
            return DELIVER  # nowhere left to look: the best match on the way
        if self.hints is not None:
            trails = self.hints.onward_from(at)
            return max(options, key=lambda n: (trails[n], similarity[n]))
        return max(options, key=similarity.__getitem__)


def best_bot(
    vector: npt.NDArray[np.float32], profiles: Mapping[Cell, npt.NDArray[np.float32]]
) -> Cell:
    """The bot whose profile is most similar to ``vector``: the judge of semantic delivery.

    A global lookup, used only to score the semantic router, never by it.
    """
    order = sorted(profiles)
    matrix = np.stack([profiles[c] for c in order])
    return order[int(np.argmax(matrix @ vector))]
