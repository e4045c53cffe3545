"""The one percentile helper, for the benches' reports and the embedder's own timings.

It lives in the base layer because a tier module (:mod:`game.embedding`) reports percentiles too,
and a tier may not import the benches above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

#: ``linear``: interpolate between the two closest ranks (numpy's default method).
#: ``rank``: the sorted sample at index ``floor(q / 100 * n)`` (clamped to the last), no
#: interpolation, so the figure is a value that was observed.
Method = Literal["linear", "rank"]


def percentile(values: Sequence[float], q: float, *, empty: float = 0.0,
               method: Method = "linear") -> float:
    """The ``q``-th percentile (0 to 100) of ``values``; ``empty`` when there are none.

    ``method`` is ``linear`` (numpy's default) or ``rank`` (see :data:`Method`).
    """
    if not len(values):
        return empty
    if method == "rank":
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))
