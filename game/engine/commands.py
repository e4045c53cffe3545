"""Commands from the keyboard, the web mirror or scripts, applied by the input system.

They cross threads through a queue; the input system applies them at the start of the next tick,
so a command changes the run at a well-defined tick (and the event log says which).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class StampPattern:
    """OR ``cells`` into the lattice with its top-left at (x, y), wrapping on the torus."""

    name: str
    cells: npt.NDArray[np.uint8] = field(repr=False)
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class Reseed:
    """Replace the lattice by a new random soup; ``seed`` None draws one from the run's rng."""

    seed: int | None = None


@dataclass(frozen=True, slots=True)
class SpawnShard:
    """Create a shard carrying ``text`` at bot ``src``.

    ``target`` is a bot's ``(row, col)``, or None to let the semantic router find the bot with
    the most similar profile. ``payload`` is ``memory`` or ``adapter``.
    """

    text: str
    src: tuple[int, int]
    target: tuple[int, int] | None
    payload: str = "memory"


@dataclass(frozen=True, slots=True)
class PulseNow:
    """Bot ``bot`` pulses its tile with its active adapter; None: every bot that has one."""

    bot: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class StartWave:
    """Start a LoRA wave of resident adapter ``adapter`` at bot ``bot``."""

    bot: tuple[int, int]
    adapter: str


@dataclass(frozen=True, slots=True)
class SelectAdapter:
    """Make resident ``adapter`` the active one of bot ``bot`` (None: none)."""

    bot: tuple[int, int]
    adapter: str | None


Command = StampPattern | Reseed | SpawnShard | PulseNow | StartWave | SelectAdapter
