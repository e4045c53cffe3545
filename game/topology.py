"""The mesh's torus: 4-neighbour links, shortest-path distances and their mean.

Mesh coordinates are ``(row, col)`` on an R×C torus. Neighbours come in one fixed order
(north, east, south, west) so that every tie a router breaks is broken the same way.
"""

from __future__ import annotations

from functools import lru_cache

from game.cells import Cell

# north, east, south, west: the order ties are broken in.
STEPS: tuple[Cell, ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))


def ring_distance(a: int, b: int, n: int) -> int:
    """Shortest distance from ``a`` to ``b`` on a ring of ``n`` positions."""
    d = abs(a - b) % n
    return min(d, n - d)


def ring_offset(a: int, b: int, n: int) -> int:
    """Signed shortest step count from ``a`` to ``b`` on a ring of ``n`` (ties go forward)."""
    d = (b - a) % n
    return d if d <= n - d else d - n


def torus_distance(a: Cell, b: Cell, rows: int, cols: int) -> int:
    """Hops on the shortest path between two mesh cells (4-neighbour links, wrapping)."""
    return ring_distance(a[0], b[0], rows) + ring_distance(a[1], b[1], cols)


@lru_cache(maxsize=64)
def link_steps(rows: int, cols: int) -> tuple[Cell, ...]:
    """The steps ``(dr, dc)`` that reach a cell's distinct neighbours, in N, E, S, W order.

    The same for every cell of the torus: a dimension of size 1 has no links along it, and on
    a dimension of size 2 both directions reach the same cell, which is reached once (north
    or east, the first).
    """
    out: list[Cell] = []
    reached: list[Cell] = []
    for dr, dc in STEPS:
        n = (dr % rows, dc % cols)
        if n != (0, 0) and n not in reached:
            out.append((dr, dc))
            reached.append(n)
    return tuple(out)


@lru_cache(maxsize=4096)
def neighbours(cell: Cell, rows: int, cols: int) -> tuple[Cell, ...]:
    """The distinct mesh cells linked to ``cell``, in N, E, S, W order (:func:`link_steps`)."""
    r, c = cell
    return tuple(((r + dr) % rows, (c + dc) % cols) for dr, dc in link_steps(rows, cols))


def check_inside(what: str, cell: Cell, rows: int, cols: int) -> None:
    """Raise :class:`BadInput` (one line, naming ``what``) unless ``cell`` is on the mesh."""
    if not (0 <= cell[0] < rows and 0 <= cell[1] < cols):
        from game.errors import BadInput

        raise BadInput(f"{what} {list(cell)} is outside the {rows}x{cols} mesh")


def cells(rows: int, cols: int) -> list[Cell]:
    """Every mesh cell in row-major order (the order bots are processed in)."""
    return [(r, c) for r in range(rows) for c in range(cols)]


def mean_distance(rows: int, cols: int) -> float:
    """h̄: mean shortest-path hops between a cell and a uniformly chosen *other* cell."""
    n = rows * cols
    if n == 1:
        return 0.0
    row_sum = sum(ring_distance(0, r, rows) for r in range(rows))
    col_sum = sum(ring_distance(0, c, cols) for c in range(cols))
    total = row_sum * cols + col_sum * rows  # sum over every cell of distance from (0, 0)
    return total / (n - 1)
