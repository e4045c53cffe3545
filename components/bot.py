"""Components of bot entities: the agent of one mesh cell, its inbox and its state."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

BotState = Literal["idle", "busy", "pulsing", "overloaded", "down"]
BOT_STATES: Final[tuple[BotState, ...]] = ("idle", "busy", "pulsing", "overloaded", "down")

# One colour per state, shared by the viewer and the dashboard (RGB, 0-255).
STATE_COLOURS: Final[dict[BotState, tuple[int, int, int]]] = {
    "idle": (96, 110, 128),
    "busy": (64, 160, 255),
    "pulsing": (190, 90, 255),
    "overloaded": (255, 150, 40),
    "down": (200, 40, 50),
}


@dataclass(slots=True)
class Bot:
    """The agent of mesh cell ``(row, col)``.

    ``inbox`` holds the entity ids of the shards this bot holds, oldest first; at most
    ``inbox_size`` of them. ``capacity`` is how many it forwards per tick. ``profile`` is the
    mean embedding of its ``memories`` (L2-normalised); ``adapter`` names its active LoRA adapter.
    ``waves`` are the ids of the LoRA waves that have reached it (duplicates are dropped);
    ``pulses`` counts its pulses.
    """

    row: int
    col: int
    inbox_size: int
    capacity: int
    memories: tuple[str, ...] = ()
    profile: npt.NDArray[np.float32] | None = field(default=None, repr=False)
    adapter: str | None = None
    state: BotState = "idle"
    inbox: deque[int] = field(default_factory=deque)
    forwarded: int = 0
    waves: set[int] = field(default_factory=set)
    pulses: int = 0

    @property
    def cell(self) -> tuple[int, int]:
        """The bot's mesh coordinate ``(row, col)``."""
        return (self.row, self.col)

    @property
    def down(self) -> bool:
        """Whether the bot is down (it neither receives nor forwards)."""
        return self.state == "down"
