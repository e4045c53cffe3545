"""Components of shard entities: a packet carrying a text memory's embedding across the mesh."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from game.cells import Cell

Transport = Literal["link", "glider"]
Payload = Literal["memory", "adapter"]


@dataclass(slots=True)
class Shard:
    """A shard in flight: where it came from, where it goes, where it has been.

    ``target`` is a bot's mesh coordinate, or None for *semantic* routing (the bot whose profile
    is most similar to ``vector``, found hop by hop). ``vector`` is None until the embed system
    has encoded ``text``. ``at`` is the bot holding it; ``path`` starts with the source.
    ``attempts`` counts lost transmissions of the current hop; ``waiting`` the ticks it has sat
    without moving. While it rides a glider (``transport == "glider"``), ``track`` is the
    glider's track id and ``(x, y)`` its position in lattice cells; ``rides`` counts the gliders
    it has boarded. An ``adapter`` payload carries a LoRA adapter: ``text`` is its name,
    ``vector`` its low-rank weights, ``digest`` their content hash, and ``wave`` the id of the
    LoRA wave it belongs to.
    """

    id: int
    text: str
    src: Cell
    target: Cell | None
    spawn_tick: int
    ttl: int = 10
    vector: npt.NDArray[np.float32] | None = field(default=None, repr=False)
    at: Cell = (0, 0)
    hops: int = 0
    path: list[Cell] = field(default_factory=list)
    transport: Transport = "link"
    payload: Payload = "memory"
    attempts: int = 0
    waiting: int = 0
    track: int | None = None
    x: float = 0.0
    y: float = 0.0
    rides: int = 0
    digest: str = ""
    wave: int | None = None
