"""Property-based fuzzing of every parser that reads outside input.

Patterns (game.rle), configs (game.config), control messages (web.control) and the mirror's
frames (web.client) each get arbitrary input and input shaped like the real thing, and must fail
only with their documented errors: a one-line :class:`game.errors.BadInput` for files and
flags, an error string for control messages, ``msgspec.DecodeError`` for frames, and a frame the
client cannot use counted as ``broken``, never raised.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from game.cells import Cells
from game.config import config_keys, decode_config
from game.errors import BadInput, ConfigError
from game.rle import format_rle, parse_rle
from game.rules import Rule
from tests.helpers import assert_one_line
from web.client import MirrorView, decode
from web.control import ID_MAX, ID_MIN, parse
from web.frames import Ack, EnergyWire, Error, Frame, Hello, Stats, encode

pytestmark = pytest.mark.unit

# No deadline: hypothesis times an example only once it has finished, so a deadline never caught
# a hang; it only asserted a wall-clock speed that a shared machine can miss. What is fuzzed
# here is which errors come out, not how fast.
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- RLE -----------------------------------------------------------------------------------------

RLE_BODY = "bo$!.A0123456789 \t\nBxyz#"
_numbers = st.one_of(st.integers(-5, 80).map(str),
                     st.text("0123456789+-", min_size=1, max_size=25))
_rules = st.one_of(
    st.just(""),
    st.sampled_from(["B3/S23", "b36/s23", "23/3", "Life", "B0/S8", "B3/S23:T16,16", "B3/S23:T0,5",
                     "B3/S23:K4,4", "LifeHistory", "B9/S23", "B3/S23:T9999999999999999999,1"]),
    st.text(min_size=1, max_size=30),
)


@st.composite
def rle_like(draw: st.DrawFn) -> str:
    """Text shaped like an RLE file, so the fuzzing gets past the header into the body."""
    comments = draw(st.lists(st.sampled_from(["#N name", "#C note", "#CXRLE Pos=-3,9", "#O me",
                                              "#CXRLE Pos=99999999999999999999,1", "#"]),
                             max_size=3))
    header = f"x = {draw(_numbers)}, y = {draw(_numbers)}"
    rule = draw(_rules)
    if rule:
        header += f", rule = {rule}"
    body = draw(st.text(RLE_BODY, max_size=200))
    return "\n".join([*comments, header, body])


def assert_parse_fails_cleanly(text: str) -> None:
    """parse_rle either succeeds consistently or raises a one-line BadInput."""
    try:
        pattern = parse_rle(text, "fuzz.rle")
    except BadInput as err:  # RleError or RuleError
        assert_one_line(str(err))
        assert str(err).startswith("fuzz.rle")
        return
    assert pattern.cells.dtype == np.uint8 and pattern.cells.ndim == 2
    assert set(np.unique(pattern.cells).tolist()) <= {0, 1}


@FUZZ
@given(st.text())
def test_parse_rle_on_arbitrary_text_raises_only_bad_input(text: str) -> None:
    assert_parse_fails_cleanly(text)


@FUZZ
@given(st.binary())
def test_parse_rle_on_arbitrary_bytes_as_latin1_raises_only_bad_input(data: bytes) -> None:
    assert_parse_fails_cleanly(data.decode("latin-1"))


@FUZZ
@given(rle_like())
def test_parse_rle_on_rle_like_text_raises_only_bad_input(text: str) -> None:
    assert_parse_fails_cleanly(text)


@st.composite
def bordered_cells(draw: st.DrawFn) -> Cells:
    """0/1 cells up to 40x40, often with dead rows and columns around them (empty borders)."""
    core = draw(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, min_side=0,
                                                      max_side=30), elements=st.integers(0, 1)))
    pads = draw(st.tuples(*[st.integers(0, 5)] * 4))
    return np.pad(core, ((pads[0], pads[1]), (pads[2], pads[3])))


_rule_digits = st.frozensets(st.integers(0, 8))


@FUZZ
@given(
    bordered_cells(),
    st.builds(Rule, _rule_digits, _rule_digits),
    st.none() | st.tuples(st.integers(1, 10**6), st.integers(1, 10**6)),
    st.none() | st.text(max_size=20),
    st.lists(st.text(max_size=20), max_size=3),
)
def test_format_then_parse_gives_back_the_cells(cells: Cells, rule: Rule,
                                                torus: tuple[int, int] | None, name: str | None,
                                                comments: list[str]) -> None:
    pattern = parse_rle(format_rle(cells, rule, torus=torus, name=name, comments=comments))
    if cells.size == 0:
        # Golly's form of an empty universe: "x = 0, y = 0", whatever the zero-size shape.
        assert pattern.cells.shape == (0, 0)
    else:
        # The header keeps the box, so dead borders survive although the body omits them.
        np.testing.assert_array_equal(pattern.cells, cells)
    assert pattern.rule == rule and pattern.torus == torus
    # A name is written on one line with its whitespace collapsed; comments one #C per line.
    shown = " ".join(name.split()) if name else ""
    assert pattern.name == (shown or None)
    assert pattern.comments == [part.strip() for c in comments for part in c.splitlines() or [""]]


# --- configs -------------------------------------------------------------------------------------

_SCALARS = ["5", "-1", "0.5", ".nan", "-.inf", "yes", "null", "~", "'five'", "[]", "{}",
            "2001-13-45", "2001-02-03", "!!int abc", "!!int +", "!!bool maybe", "!!float x",
            "!!binary aGk=", "!!timestamp 2001-99-01", "!!python/name:os.system", "*nope",
            "&a [*a]", "0x1F", "0o17", "1_000", "9" * 30, "[1, 2", "{a: 1}", "|\n  text"]


@st.composite
def config_like(draw: st.DrawFn) -> str:
    """YAML shaped like a config: real and misspelt keys, scalars PyYAML cannot construct."""
    any_key = st.sampled_from(config_keys()) | st.text("abcxyz.", min_size=1, max_size=8)
    keys = draw(st.lists(any_key, max_size=4))
    lines = []
    for key in keys:
        value = draw(st.sampled_from(_SCALARS) | st.text(max_size=10))
        *sections, leaf = key.split(".")
        for depth, section in enumerate(sections):
            lines.append("  " * depth + f"{section}:")
        lines.append("  " * len(sections) + f"{leaf}: {value}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")) | config_like())
def test_decode_config_raises_only_one_line_config_errors(text: str) -> None:
    try:
        decode_config(text, "fuzz.yaml")
    except ConfigError as err:
        assert_one_line(str(err))
        assert str(err).startswith("fuzz.yaml: ")


# --- control messages ----------------------------------------------------------------------------

LIMIT = 4096
_OPS = ["pause", "resume", "step", "rate", "reseed", "inject", "pulse", "wave", "nope", ""]
_FIELDS = ["token", "id", "n", "value", "seed", "text", "src", "target", "bot", "adapter", "x"]
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=10,
)


@st.composite
def control_like(draw: st.DrawFn) -> dict[str, Any]:
    """An object with an op and fields of the ops, each of any JSON type (NaN, huge ints)."""
    message: dict[str, Any] = {"op": draw(st.sampled_from(_OPS) | _json)}
    for field in draw(st.lists(st.sampled_from(_FIELDS), max_size=4)):
        message[field] = draw(_json | st.integers(-(2**70), 2**70))
    return message


def assert_parse_result(data: str | bytes) -> None:
    """parse gives (message, id, None) or (None, id-or-None, one-line error); never raises."""
    message, ident, error = parse(data, LIMIT)
    assert (message is None) != (error is None)
    if error is not None:
        assert_one_line(error)
    assert ident is None or (isinstance(ident, int) and ID_MIN <= ident <= ID_MAX)
    # Whatever comes back, a reply to it can be encoded (the server echoes the id).
    encode(Error(ident, error) if error is not None else Ack(ident, "op", 0))


@FUZZ
@given(st.binary(max_size=300))
def test_control_parse_on_arbitrary_bytes_never_raises(data: bytes) -> None:
    assert_parse_result(data)


@FUZZ
@given(st.text(max_size=300))
def test_control_parse_on_arbitrary_text_never_raises(text: str) -> None:
    assert_parse_result(text)


@FUZZ
@given(control_like())
def test_control_parse_on_message_like_json_and_msgpack_never_raises(message: dict[str, Any]
                                                                     ) -> None:
    # json.dumps writes NaN and Infinity as bare words (invalid JSON) and any size of int.
    assert_parse_result(json.dumps(message))
    try:
        packed = msgspec.msgpack.encode(message)
    except OverflowError:  # an int msgpack cannot hold: no such message can arrive
        return
    assert_parse_result(packed)


@FUZZ
@given(st.integers(0, 2000), st.sampled_from(["[", "{\"a\":", "{\"op\":"]))
def test_control_parse_survives_any_nesting_depth(depth: int, opener: str) -> None:
    closer = {"[": "]", "{\"a\":": "}", "{\"op\":": "}"}[opener]
    assert_parse_result(opener * depth + "1" + closer * depth)
    assert_parse_result(b"\x91" * depth + b"\xc0")


# --- frames --------------------------------------------------------------------------------------

STATS = Stats(population=0, paused=False, tick_rate=30.0, tps=30.0, tick_ms=1.0, in_flight=0,
              spawned=0, delivered=0, expired=0, dropped=0, clients=1, dropped_ticks=0)
ENERGY = EnergyWire(1, 1, 0.0, zlib.compress(b"\0"))


def hello(width: int, height: int) -> Hello:
    return Hello(width=width, height=height, rows=1, cols=1, tile=1, rule="B3/S23", seed=0,
                 states={}, adapters=[], max_message=4096)


def frame(seq: int, tick: int, key: bool, lattice: bytes) -> Frame:
    return Frame(seq=seq, tick=tick, sent_at=0.0, key=key, lattice=lattice, energy=ENERGY,
                 bots=[], shards=[], gliders=[], patterns=None, events=[], events_omitted=0,
                 stats=STATS)


@FUZZ
@given(st.binary(max_size=500))
def test_decode_on_arbitrary_bytes_raises_only_decode_error(data: bytes) -> None:
    try:
        decode(data)
    except msgspec.DecodeError:
        pass


@FUZZ
@given(st.integers(0, 400), st.binary(min_size=1, max_size=8))
def test_decode_on_a_damaged_frame_raises_only_decode_error(at: int, junk: bytes) -> None:
    good = encode(frame(3, 7, True, zlib.compress(b"\x0f" * 8)))
    assume(at < len(good))
    for damaged in (good[:at], good[:at] + junk + good[at + len(junk):]):
        try:
            decode(damaged)
        except msgspec.DecodeError:
            pass


# 64 MiB of zeros in 64 KB: a frame the client must not inflate whole.
BOMB = zlib.compress(bytes(64 << 20), 9)


def lattice_bytes(size: int) -> st.SearchStrategy[bytes]:
    """A frame's lattice: right-sized, wrong-sized, truncated, garbage or a zlib bomb."""
    payload = st.binary(min_size=size, max_size=size)
    return st.one_of(
        payload.map(zlib.compress),
        st.binary(max_size=2 * size + 2).map(zlib.compress),
        payload.map(lambda b: zlib.compress(b)[:-3]),
        st.binary(max_size=40),
        st.just(BOMB),
    )


REPLIES: list[Hello | Frame | Ack | Error] = [Ack(1, "pause", 0), Error(None, "no")]


@st.composite
def message_stream(draw: st.DrawFn) -> tuple[int, int, list[Hello | Frame | Ack | Error]]:
    """Hellos and frames in any order: seq gaps, ticks going back, deltas without a base."""
    width, height = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    size = (width * height + 7) // 8
    messages: list[Hello | Frame | Ack | Error] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["frame", "frame", "frame", "hello", "odd-hello", "reply"]))
        if kind == "hello":
            messages.append(hello(width, height))
        elif kind == "odd-hello":
            messages.append(hello(draw(st.integers(-3, 2**40)), draw(st.integers(-3, 2**40))))
        elif kind == "reply":
            messages.append(draw(st.sampled_from(REPLIES)))
        else:
            messages.append(frame(draw(st.integers(-2, 6)), draw(st.integers(-2, 6)),
                                  draw(st.booleans()), draw(lattice_bytes(size))))
    return width, height, messages


@settings(FUZZ, max_examples=150)
@given(message_stream())
def test_mirror_view_counts_unusable_frames_instead_of_raising(
        stream: tuple[int, int, list[Hello | Frame | Ack | Error]]) -> None:
    _, _, messages = stream
    view = MirrorView()
    for message in messages:
        view.apply(message)
    frames = [m for m in messages if isinstance(m, Frame)]
    assert view.frames == len(frames) and view.keyframes + view.broken <= len(frames)
    try:
        cells = view.cells()
    except RuntimeError:  # documented: no usable keyframe since the last hello
        return
    assert view.hello is not None
    assert cells.shape == (view.hello.height, view.hello.width)


@FUZZ
@given(st.integers(1, 40), st.integers(1, 40), st.data())
def test_mirror_view_rebuilds_a_keyframe_and_delta_of_the_right_size(
        width: int, height: int, data: st.DataObject) -> None:
    # The independent truth: numpy's own bit packing of the lattice and its XOR.
    first = data.draw(hnp.arrays(np.uint8, (height, width), elements=st.integers(0, 1)))
    second = data.draw(hnp.arrays(np.uint8, (height, width), elements=st.integers(0, 1)))
    packed = [np.packbits(c.ravel()) for c in (first, second)]
    view = MirrorView()
    view.apply(hello(width, height))
    view.apply(frame(1, 1, True, zlib.compress(packed[0].tobytes())))
    np.testing.assert_array_equal(view.cells(), first)
    view.apply(frame(2, 2, False, zlib.compress((packed[0] ^ packed[1]).tobytes())))
    np.testing.assert_array_equal(view.cells(), second)
    # One byte short is no longer this lattice: counted, and the view waits for a keyframe.
    view.apply(frame(3, 3, False, zlib.compress(packed[1].tobytes()[:-1])))
    assert view.broken == 1 and view.keyframes == 1 and view.gaps == 0
    with pytest.raises(RuntimeError):
        view.cells()
