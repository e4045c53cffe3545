"""Routers: how a bot picks a shard's next hop. Swappable behind one interface.

A router sees only what a bot could know: its own position, which of its neighbours are up,
the shard (its target or vector, and the path it has taken) and, for the semantic router, the
profiles its neighbours gossiped to it. ``decide`` returns ``DELIVER``, the next hop, or a
drop reason (a string from :data:`game.engine.events.DROP_REASONS`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Final, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from components.shard import Shard
from game.cells import Cell
from game.topology import cells, link_steps, neighbours, torus_distance
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

    def delivers(self, shard: Shard, at: Cell, visited: Collection[Cell]) -> bool:
        """Whether :meth:`decide` would deliver ``shard`` at ``at`` (no next hop chosen)."""
        ...


class Hints:
    """What a router may read of the energy field: the trails on the links around its bot.

    A link's *level* is the mean energy of its wire. The *onward* trail from ``a`` through a
    neighbour ``n`` is the strongest level among ``n``'s other live links: where a shard could
    go on from ``n`` along the trail (each bot hears its neighbours' link levels with their
    gossip). The route system calls :meth:`refresh` once a tick; both are read from one
    vectorised gather then. ``before_read`` runs just before that gather (the route system
    applies the trails of the hops made so far: see :meth:`ShardNet.flush_trails`).
    """

    def __init__(self, wires: Wires, energy: npt.NDArray[np.float32],
                 down: Collection[Cell] = (),
                 before_read: Callable[[], None] | None = None) -> None:
        self.wires = wires
        self.energy = energy
        self.before_read = before_read
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
        if self.before_read is not None:
            self.before_read()
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
        self._steps = link_steps(rows, cols)
        # Both by flat index (row * cols + col) and filled on first use, as a big mesh would
        # pay for every cell up front: the steps' preference order by the target's offset, and
        # each cell's neighbour by step (None where that neighbour is down).
        self._ranks: list[tuple[int, ...] | None] = [None] * (rows * cols)
        self._links: list[tuple[Cell | None, ...] | None] = [None] * (rows * cols)

    def decide(self, shard: Shard, at: Cell, visited: Collection[Cell]) -> Decision:
        """See :meth:`Router.decide`."""
        target = shard.target
        if target is None:
            raise ValueError("the shortest router needs a target bot")
        if at == target:
            return DELIVER
        rows, cols = self.rows, self.cols
        if self.down and target in self.down and target in neighbours(at, rows, cols):
            return "target_down"
        r, c = at
        offset = (target[0] - r) % rows * cols + (target[1] - c) % cols
        rank = self._ranks[offset]
        if rank is None:
            rank = self._rank(offset)
        links = self._links[r * cols + c]
        if links is None:
            links = self._link(at)
        for step in rank:
            n = links[step]
            if n is not None and n not in visited:
                return n
        return "no_route"

    def delivers(self, shard: Shard, at: Cell, visited: Collection[Cell]) -> bool:
        """See :meth:`Router.delivers`: only at the target."""
        return at == shard.target

    def _rank(self, offset: int) -> tuple[int, ...]:
        # Distances on a torus depend only on the offset between the cells, so one ranking of
        # the steps (nearest to the target first, ties in N, E, S, W order) serves every bot.
        steps, rows, cols = self._steps, self.rows, self.cols
        to = divmod(offset, cols)
        rank = tuple(sorted(range(len(steps)),
                            key=lambda i: (torus_distance(steps[i], to, rows, cols), i)))
        self._ranks[offset] = rank
        return rank

    def _link(self, at: Cell) -> tuple[Cell | None, ...]:
        links = tuple(None if n in self.down else n
                      for n in neighbours(at, self.rows, self.cols))
        self._links[at[0] * self.cols + at[1]] = links
        return links


Heard = dict[Cell, tuple[int, Cell]]  # a bot's gossip: target -> (hops, next hop)


class Table(NamedTuple):
    """What one bot of the semantic router ranks shards by (:meth:`SemanticRouter.decide`)."""

    targets: list[Cell]  # the bots it knows, in the order it heard of them (itself first)
    hops: list[Cell]  # the neighbour each target is reached through
    profiles: npt.NDArray[np.float32]  # the targets' profiles, one row each
    around: list[tuple[Cell, int]]  # each live neighbour and its row in ``targets``


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
        # With no bot down every bot hears the same as the one at (0, 0), moved: gossip once.
        self._heard = self._gossip(live) if self.down else self._gossip([(0, 0)], moved=True)
        # Each bot's ranking table, built the first time a shard is at that bot: a big mesh
        # would otherwise stack every bot's profiles before its first hop.
        self.tables: dict[Cell, Table] = {}
        self.live = len(live)

    def _gossip(self, bots: list[Cell], moved: bool = False) -> dict[Cell, Heard]:
        """The tables of ``bots`` after ``horizon`` rounds: target -> (hops, next hop).

        In round r a bot hears of the targets its live neighbours (N, E, S, W) first heard of
        in round r - 1, and keeps the ones new to it, through the first neighbour that told it.
        Only those can be news: whatever a neighbour knew earlier, the bot heard a round ago,
        and a distance heard first is already the shortest. Targets keep the order heard in.
        ``bots`` must be every live bot, unless ``moved``: with no bot down, a neighbour
        heard what the bot did, moved by the step between them.
        """
        rows, cols = self.rows, self.cols
        known: dict[Cell, Heard] = {b: {b: (0, b)} for b in bots}
        fresh = {b: [b] for b in bots}
        for hops in range(1, self.horizon + 1):
            heard: dict[Cell, list[Cell]] = {}
            for b in bots:
                table = known[b]
                news = heard[b] = []
                for n in self._around[b]:
                    if moved:
                        dr, dc = n[0] - b[0], n[1] - b[1]
                        told = [((r + dr) % rows, (c + dc) % cols) for r, c in fresh[b]]
                    else:
                        told = fresh[n]
                    for target in told:
                        if target not in table:
                            table[target] = (hops, n)
                            news.append(target)
            fresh = heard
        return known

    def _known(self, at: Cell) -> Heard:
        """What the bot at ``at`` heard by gossip (its table, moved from (0, 0) if need be)."""
        heard = self._heard.get(at)
        if heard is not None:
            return heard
        if at not in self._around:
            raise KeyError(at)  # not a live bot of the mesh
        rows, cols = self.rows, self.cols
        r, c = at
        return {((r + tr) % rows, (c + tc) % cols): (d, ((r + nr) % rows, (c + nc) % cols))
                for (tr, tc), (d, (nr, nc)) in self._heard[(0, 0)].items()}

    def _table(self, at: Cell) -> Table:
        table = self.tables.get(at)
        if table is None:
            known = self._known(at)
            targets = list(known)
            index = {t: i for i, t in enumerate(targets)}
            table = self.tables[at] = Table(
                targets,
                [known[t][1] for t in targets],
                np.stack([self.profiles[t] for t in targets]).astype(np.float32),
                [(n, index[n]) for n in self._around[at]],
            )
        return table

    def known(self, at: Cell) -> list[Cell]:
        """The bots whose profiles the bot at ``at`` has learned (itself first)."""
        return list(self._known(at))

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
        targets, hops, matrix, around = self._table(at)
        scores = matrix @ vector
        # The best match first, ties to the first known: argmax, unless a score is NaN (a
        # stable argsort ranks those last). The full ranking only when the best is passed by.
        best = int(scores.argmax())
        top = scores.item(best)
        if top != top:
            best = int(np.argsort(-scores, kind="stable")[0])
            top = scores.item(best)
        sees_all = len(targets) == self.live
        if not sees_all and top < self.confidence:
            # no good match in sight: search (the horizon always covers the neighbours)
            return self._explore({n: scores.item(i) for n, i in around}, at, visited)
        if targets[best] == at:
            return DELIVER
        if hops[best] not in visited:
            return hops[best]
        for i in np.argsort(-scores, kind="stable").tolist():
            if targets[i] == at:
                return DELIVER
            if hops[i] not in visited:
                hop: Cell = hops[i]
                return hop
        return "no_route"

    def delivers(self, shard: Shard, at: Cell, visited: Collection[Cell]) -> bool:
        """See :meth:`Router.delivers` (the ranking decides it)."""
        return self.decide(shard, at, visited) == DELIVER

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
