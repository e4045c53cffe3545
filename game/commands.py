"""Commands from the keyboard, the web mirror or scripts, applied by the input system.

They cross threads through a queue; the input system applies them at the start of the next tick,
so a command changes the run at a well-defined tick (and the event log says which).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from game.events import Input

T = TypeVar("T")


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


def to_input(command: Command, tick: int) -> Input:
    """The ``input`` event that records ``command``, applied at the start of ``tick``."""
    if isinstance(command, StampPattern):
        from game.rle import format_rle

        return Input(tick=tick, command="stamp", pattern=command.name,
                     rle=format_rle(command.cells), x=command.x, y=command.y)
    if isinstance(command, Reseed):
        return Input(tick=tick, command="reseed", seed=command.seed)
    if isinstance(command, SpawnShard):
        return Input(tick=tick, command="spawn", text=command.text, src=command.src,
                     target=command.target, payload=command.payload)
    if isinstance(command, PulseNow):
        return Input(tick=tick, command="pulse", bot=command.bot)
    if isinstance(command, StartWave):
        return Input(tick=tick, command="wave", bot=command.bot, adapter=command.adapter)
    return Input(tick=tick, command="select", bot=command.bot, adapter=command.adapter)


def from_input(event: Input) -> Command:
    """The command an ``input`` event recorded (raises ValueError for an incomplete one)."""
    def need(value: T | None, name: str) -> T:
        if value is None:
            raise ValueError(f"input {event.command} at tick {event.tick} has no {name}")
        return value

    kind = event.command
    if kind == "stamp":
        from game.rle import parse_rle

        cells = parse_rle(need(event.rle, "rle"), f"the stamp at tick {event.tick}").cells
        return StampPattern(event.pattern or "pattern", cells, need(event.x, "x"),
                            need(event.y, "y"))
    if kind == "reseed":
        return Reseed(event.seed)
    if kind == "spawn":
        return SpawnShard(need(event.text, "text"), need(event.src, "src"), event.target,
                          event.payload or "memory")
    if kind == "pulse":
        return PulseNow(event.bot)
    if kind == "wave":
        return StartWave(need(event.bot, "bot"), need(event.adapter, "adapter"))
    if kind == "select":
        return SelectAdapter(need(event.bot, "bot"), event.adapter)
    raise ValueError(f"input at tick {event.tick}: unknown command {kind!r}")
