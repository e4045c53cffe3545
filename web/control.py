"""Control over the WebSocket: the messages, their checks, and what each does to the run.

A message is checked in order — size, shape (one of the ops with fields of the right types),
token, then the op's own checks — and the first failure is the one-line error the client gets
back; a refused message changes nothing. Accepted ones are queued for the next tick (the loop's
controls and the simulation's commands cross threads through queues).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

import msgspec

from game.engine.commands import Reseed
from game.engine.loop import MAX_RATE, MIN_RATE, Control, FixedStepLoop
from game.engine.world import Sim
from game.errors import one_line

Bot = tuple[int, int]


# Replies echo a message's id, and msgpack cannot encode an integer outside 64 bits: a larger id
# made encoding the reply raise inside the connection's handler. Outside this range: no id.
ID_MIN, ID_MAX = -(2**63), 2**63 - 1


class _Op(msgspec.Struct, tag_field="op", forbid_unknown_fields=True, kw_only=True):
    token: str = ""
    id: Annotated[int, msgspec.Meta(ge=ID_MIN, le=ID_MAX)] | None = None


class Pause(_Op, tag="pause"):
    """Stop the tick loop."""


class Resume(_Op, tag="resume"):
    """Restart the tick loop."""


class Step(_Op, tag="step"):
    """Pause (if running) and run ``n`` ticks."""

    n: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1


class Rate(_Op, tag="rate"):
    """Set the tick rate (ticks per second)."""

    value: Annotated[float, msgspec.Meta(ge=MIN_RATE, le=MAX_RATE)]


class ReseedOp(_Op, tag="reseed"):
    """Replace the lattice by a fresh random soup (``seed`` null: drawn from the run's rng)."""

    seed: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | None = None


class Inject(_Op, tag="inject"):
    """A shard with ``text`` from bot ``src`` to ``target`` (null: the semantic router)."""

    text: Annotated[str, msgspec.Meta(max_length=2000)]
    src: Bot
    target: Bot | None = None


class PulseOp(_Op, tag="pulse"):
    """Pulse ``bot`` (null: every bot with an active adapter)."""

    bot: Bot | None = None


class Wave(_Op, tag="wave"):
    """Start a LoRA wave of ``adapter`` at ``bot``."""

    bot: Bot
    adapter: str


Message = Pause | Resume | Step | Rate | ReseedOp | Inject | PulseOp | Wave

MAX_FRAME = 65536  # above this aiohttp closes the socket (1009) before we see the message


def message_id(raw: Any) -> int | None:
    """The integer ``id`` of a decoded message, if it has one (to echo in an error)."""
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, int) and not isinstance(value, bool) and ID_MIN <= value <= ID_MAX:
            return value
    return None


def parse(data: str | bytes, limit: int) -> tuple[Message | None, int | None, str | None]:
    """``(message, id, error)`` of one WebSocket message: JSON if text, msgpack if binary."""
    # surrogatepass: a str from elsewhere than aiohttp may hold lone surrogates; decoding says so.
    size = len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    if size > limit:
        return None, None, f"message too large: {size} bytes (limit {limit})"
    try:
        raw = msgspec.json.decode(data) if isinstance(data, str) else msgspec.msgpack.decode(data)
    except (msgspec.DecodeError, UnicodeError, RecursionError) as err:
        # msgspec decodes nesting recursively (~1000 levels of `[`, 2 KB, exhaust the stack)
        # and lets a msgpack string that is not UTF-8 escape as a UnicodeDecodeError.
        return None, None, one_line(f"not a control message: {err}")
    ident = message_id(raw)
    if not isinstance(raw, dict) or "op" not in raw:
        return None, ident, "a control message is an object with an `op`"
    op = raw["op"]
    # Only a string op is shown: the repr of a deeply nested one would itself exhaust the stack.
    what = f"{op!r} message" if isinstance(op, str) else "message"
    try:
        return msgspec.convert(raw, Message), ident, None
    except msgspec.ValidationError as err:
        return None, ident, one_line(f"bad {what}: {err}")


class Controller:
    """Applies accepted control messages to one run (its simulation and its tick loop)."""

    def __init__(self, sim: Sim, loop: FixedStepLoop, token: str) -> None:
        self.sim = sim
        self.loop = loop
        self.token = token

    def authorised(self, message: Message) -> bool:
        """Whether ``message`` carries the run's token (compared in constant time)."""
        return bool(self.token) and hmac.compare_digest(message.token.encode(),
                                                        self.token.encode())

    def apply(self, message: Message) -> None:
        """Queue ``message``'s effect; raises :class:`BadInput` (one line) when the op can't."""
        sim, loop = self.sim, self.loop
        if isinstance(message, Pause):
            loop.post(Control("pause"))
        elif isinstance(message, Resume):
            loop.post(Control("resume"))
        elif isinstance(message, Step):
            loop.post(Control("pause"))  # a step is a paused run's move: it pauses a running one
            for _ in range(message.n):
                loop.post(Control("step"))
        elif isinstance(message, Rate):
            loop.post(Control("rate", message.value))
        elif isinstance(message, ReseedOp):
            sim.post(Reseed(message.seed))
        elif isinstance(message, Inject):
            sim.inject(message.text, message.src, message.target)
        elif isinstance(message, PulseOp):
            sim.pulse(message.bot)
        else:
            sim.start_wave(message.bot, message.adapter)

    def adapters(self) -> list[str]:
        """The adapters a wave may carry (none without tier 3)."""
        pulse = self.sim.schedule.get("pulse")
        model = getattr(pulse, "model", None)
        return list(model.names) if model is not None else []
