"""The bad-input corpus: every file, flag and control message a user or an attacker might send.

Each corpus file under tests/corpus/ and each argument vector below must end the same way: one
line on stderr naming the problem, exit code 2, no traceback, promptly. Files are run through
``game.app.cli.main`` in-process (a subprocess costs ~0.5 s each); a few go through a real process
too, as a user runs them. Control messages go to ``web.control.parse`` directly (tests/test_web.py
covers the live socket).
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import msgspec
import pytest

from game.config import Config, decode_config, load_config
from game.errors import ConfigError
from tests.helpers import (
    assert_cli_fails_in_one_line,
    assert_one_line,
    assert_one_line_error,
    cli,
    run_main,
)
from web.control import ID_MAX, parse

CORPUS = Path(__file__).parent / "corpus"
RLE_DIR = CORPUS / "rle"
CONFIG_DIR = CORPUS / "config"

# A hang guard, not a speed assertion: every case here fails in milliseconds when healthy.
HANG_SECONDS = 30

#: Each bad pattern file and words its error line must contain (for ``ca`` and ``detect``).
RLE_CORPUS: dict[str, tuple[str, ...]] = {
    "absurd_size.rle": ("999999999x999999999", "too large"),
    "binary_junk.rle": ("not a UTF-8 text file", "byte 0x89"),
    "body_taller_than_header.rle": ("taller than the header's y = 3",),
    "body_wider_than_header.rle": ("wider than the header's x = 3",),
    "comments_only.rle": ("no header",),
    "count_overflow.rle": ("line 2", "run count is absurdly large"),
    "count_without_tag.rle": ("count with no following tag",),
    "empty.rle": ("empty file",),
    "header_not_numbers.rle": ("malformed header",),
    "header_only.rle": ("truncated", "'!'"),
    "header_order_swapped.rle": ("line 1", "no header"),
    "hostile_rule.rle": ("unknown rule",),
    "latin1_comment.rle": ("not a UTF-8 text file", "byte 0xe9"),
    "missing_terminator.rle": ("truncated", "'!'"),
    "multistate_cells.rle": ("multi-state cells are not supported", "'C'"),
    "multistate_rule.rle": ("unknown rule 'LifeHistory:T16,16'",),
    "negative_size.rle": ("-3x3", "invalid"),
    "nul_bytes.rle": ("no header",),
    "size_digits.rle": ("pattern size is too large",),
    "torus_digits.rle": ("torus", "too large"),
    "torus_smaller_than_pattern.rle": ("larger than the 2x2 torus",),
    "torus_too_large.rle": ("torus 99999999x9", "too large"),
    "torus_zero.rle": ("torus sides must be positive",),
    "truncated_mid_body.rle": ("truncated", "'!'"),
    "unexpected_character.rle": ("line 2", "unexpected character 'z'"),
    "unsupported_topology.rle": ("unsupported topology 'K16,16'",),
    "utf16.rle": ("not a UTF-8 text file", "byte 0xff at offset 0"),
    "whitespace_only.rle": ("empty file",),
    "zero_width.rle": ("0x3", "invalid"),
}

#: Each bad config file and words its error line must contain (``serve --config FILE``).
CONFIG_CORPUS: dict[str, tuple[str, ...]] = {
    "bad_bool_tag.yaml": ("not valid YAML", "KeyError"),
    "bad_enum.yaml": ("lattice.backend", "expected one of auto, numpy, gl, reference"),
    "bad_int_tag.yaml": ("not valid YAML", "'abc'"),
    "bad_rule.yaml": ("unknown rule 'Q9/Z'",),
    "bad_sign_tag.yaml": ("not valid YAML", "IndexError"),
    "binary_junk.yaml": ("not valid YAML",),
    "bool_for_int.yaml": ("mesh.rows", "expected int, got bool"),
    "date_scalar.yaml": ("not valid YAML", "month must be in 1..12"),
    "deep_nesting.yaml": ("not valid YAML",),
    "huge_mesh.yaml": ("mesh", "100000x100000 tiles", "too large"),
    "int_digits.yaml": ("not valid YAML", "4300 digits"),
    "invalid_syntax.yaml": ("not valid YAML",),
    "list_for_mapping.yaml": ("mesh", "expected object, got array"),
    "missing_pattern.yaml": ("no-such-pattern.rle", "no such file"),
    "multiple_documents.yaml": ("not valid YAML", "single document"),
    "nan_rate.yaml": ("traffic.rate", "expected float >= 0.0"),
    "negative_rate.yaml": ("traffic.rate", "expected float >= 0.0"),
    "null_section.yaml": ("mesh", "expected object, got null"),
    "port_out_of_range.yaml": ("serve.port", "<= 65535"),
    "python_tag.yaml": ("not valid YAML", "python/object/apply:os.system"),
    "tab_indent.yaml": ("not valid YAML",),
    "top_level_list.yaml": ("expected a mapping of keys at the top level",),
    "top_level_scalar.yaml": ("expected a mapping of keys at the top level",),
    "undefined_alias.yaml": ("not valid YAML", "undefined alias"),
    "unknown_nested_key.yaml": ("unknown key 'mesh.rowz'",),
    "unknown_top_key.yaml": ("unknown key 'meshh'",),
    "wrong_type.yaml": ("mesh.rows", "expected int, got str"),
    "yaml_bomb.yaml": ("route.down.0", "length 2"),
}

#: Config files that are fine as they are: every key left out means the defaults.
VALID_CONFIGS = ("comments_only.yaml", "empty.yaml")

GLIDER = "x = 3, y = 3, rule = B3/S23:T16,16\nbo$2bo$3o!\n"
# Extra flags that make a serve that wrongly got past its bad input stop at once.
QUICK = ["--ticks", "1", "--no-web", "--backend", "numpy"]

#: Bad argument vectors and words the error line must contain. ``{glider}`` is a good pattern,
#: ``{dir}`` a directory and ``{missing}`` a path that does not exist.
ARGV_CORPUS: list[tuple[list[str], tuple[str, ...]]] = [
    (["ca", "{glider}", "--gens", "ten"], ("--gens", "expected a whole number")),
    (["ca", "{glider}", "--gens", "-1"], ("--gens", "must not be negative")),
    (["ca", "{glider}", "--gens", "1.5"], ("--gens",)),
    (["ca", "{glider}", "--gens", ""], ("--gens",)),
    (["ca", "{glider}"], ("required", "--gens")),
    (["ca", "{glider}", "--gens", "1", "--torus", "0x5"], ("--torus", "'0x5'")),
    (["ca", "{glider}", "--gens", "1", "--torus", "5x5x5"], ("--torus",)),
    (["ca", "{glider}", "--gens", "1", "--torus", "-5x5"], ("--torus",)),
    (["ca", "{glider}", "--gens", "1", "--torus", "2x2"], ("larger than the 2x2 torus",)),
    (["ca", "{glider}", "--gens", "1", "--backend", "cuda"], ("--backend", "invalid choice")),
    (["ca", "{glider}", "--gens", "1", "--out", "{dir}"], ("is a directory",)),
    (["ca", "{dir}", "--gens", "1"], ("is a directory, not an RLE file",)),
    (["ca", "{missing}", "--gens", "1"], ("missing.rle", "no such file")),
    (["detect", "{missing}"], ("missing.rle", "no such file")),
    (["detect", "{dir}"], ("is a directory",)),
    (["detect", "{glider}", "--max-period", "0"], ("--max-period", "at least 1")),
    (["detect", "{glider}", "--horizon", "-1"], ("--horizon",)),
    (["serve", "--port", "70000", *QUICK], ("--port", "0..65535")),
    (["view", "--port", "70000", "--ticks", "1"], ("--port", "0..65535")),
    (["serve", "--seed", "-1", *QUICK], ("--seed", "must not be negative")),
    (["serve", "--set", "meshrows3", *QUICK], ("--set", "expected KEY=VALUE")),
    (["serve", "--set", "=3", *QUICK], ("--set", "expected KEY=VALUE")),
    (["serve", "--set", "unknown.key=1", *QUICK], ("unknown key 'unknown.key'",)),
    (["serve", "--set", "mesh.rows.deeper=1", *QUICK], ("unknown key 'mesh.rows.deeper'",)),
    (["serve", "--set", "mesh=3", *QUICK], ("mesh", "expected object")),
    (["serve", "--set", "mesh.rows=", *QUICK], ("mesh.rows", "expected int, got null")),
    (["serve", "--set", "seed=2001-13-45", *QUICK], ("seed", "expected int, got str")),
    (["serve", "--set", "tick_rate=.nan", *QUICK], ("tick_rate",)),
    (["serve", "--set", "mesh.rows=100000", "--set", "mesh.tile=100000", *QUICK],
     ("--set mesh.tile", "too large")),
    (["serve", "--config", "{dir}", *QUICK], ("is a directory, not a config file",)),
    (["serve", "--config", "{missing}", *QUICK], ("missing.rle", "no such file")),
    (["serve", "--events", "{dir}", *QUICK], ("cannot write the event log",)),
    (["bench", "--mesh", "0x0"], ("--mesh", "'0x0'")),
    (["bench", "--scenario", "nope"], ("--scenario", "invalid choice: 'nope'")),
    (["bench", "--loss", "1.5"], ("--loss",)),
    (["bench", "--loss", "nan"], ("--loss",)),
    (["bench", "--seeds", "5:1"], ("--seeds",)),
    (["bench", "--down", "a,b"], ("--down",)),
    (["frobnicate"], ("invalid choice: 'frobnicate'",)),
    ([], ("required", "COMMAND")),
]


class Hang(BaseException):
    """Raised into a test that ran past its guard (BaseException: main() must not catch it)."""


@contextlib.contextmanager
def hang_guard(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Interrupt the block with :class:`Hang` if it runs longer than ``seconds``."""

    def ring(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


#: In cybermesh's line for bad input (``cybermesh[ SUB]: error: ...``), not in an internal error.
ERROR = "error: "


def run_guarded(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``cybermesh ARGV`` in-process under the hang guard: its exit code and its stderr."""
    from game.app.cli import main

    with hang_guard():
        code = run_main(main, argv)
    return code, capsys.readouterr().err


@pytest.mark.unit
def test_the_tables_cover_every_corpus_file() -> None:
    assert {p.name for p in RLE_DIR.iterdir()} == set(RLE_CORPUS)
    assert {p.name for p in CONFIG_DIR.iterdir()} == set(CONFIG_CORPUS) | set(VALID_CONFIGS)


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(RLE_CORPUS))
@pytest.mark.parametrize("command", ["ca", "detect"])
def test_bad_pattern_file_is_one_line_and_exit_2(command: str, name: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = RLE_DIR / name
    argv = [command, str(path)]
    if command == "ca":
        argv += ["--gens", "1", "--quiet", "--out", str(tmp_path / "out.rle")]
    code, err = run_guarded(argv, capsys)
    # The file is named, so a user with many files knows which one is wrong.
    assert_one_line_error(code, err, ERROR, str(path), *RLE_CORPUS[name])
    assert not (tmp_path / "out.rle").exists()


@pytest.mark.unit
def test_hostile_rule_reaches_the_terminal_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    # Control characters in a file must not drive the user's terminal (clear it, retitle it).
    code, err = run_guarded(["ca", str(RLE_DIR / "hostile_rule.rle"), "--gens", "1"], capsys)
    assert code == 2
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b[2J" in err


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(CONFIG_CORPUS))
def test_bad_config_file_is_one_line_and_exit_2(name: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_guarded(["serve", "--config", str(CONFIG_DIR / name), *QUICK], capsys)
    assert_one_line_error(code, err, ERROR, *CONFIG_CORPUS[name])


# The rule and the pattern file are checked as the lattice is built (still before any tick).
BUILT = {"bad_rule.yaml", "missing_pattern.yaml"}


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(set(CONFIG_CORPUS) - BUILT))
def test_config_errors_come_from_loading_before_any_run(name: str) -> None:
    # Everything else is refused by the loader itself, naming the file.
    path = CONFIG_DIR / name
    with hang_guard(), pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert_one_line(str(info.value))


@pytest.mark.unit
@pytest.mark.parametrize("name", VALID_CONFIGS)
def test_a_config_file_with_no_keys_is_the_defaults(name: str) -> None:
    assert load_config(CONFIG_DIR / name) == Config()


@pytest.mark.unit
def test_the_yaml_bomb_is_refused_without_expanding_it() -> None:
    # Nine levels of nine aliases: 9**9 (387 million) leaves if anything walked the tree.
    text = (CONFIG_DIR / "yaml_bomb.yaml").read_text()
    assert len(re.findall(r"\*[a-h]\b", text)) == 8 * 9
    with hang_guard(10), pytest.raises(ConfigError, match="route.down.0"):
        decode_config(text, "bomb.yaml")


@pytest.mark.unit
@pytest.mark.parametrize(("argv", "words"), ARGV_CORPUS,
                         ids=[" ".join(a) or "<none>" for a, _ in ARGV_CORPUS])
def test_bad_arguments_are_one_line_and_exit_2(argv: list[str], words: tuple[str, ...],
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    glider = tmp_path / "glider.rle"
    glider.write_text(GLIDER)
    where = {"glider": str(glider), "dir": str(tmp_path), "missing": str(tmp_path / "missing.rle")}
    code, err = run_guarded([arg.format(**where) for arg in argv], capsys)
    assert_one_line_error(code, err, ERROR, *words)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["ca", str(RLE_DIR / "binary_junk.rle"), "--gens", "1"], ("not a UTF-8 text file",)),
        (["detect", str(RLE_DIR / "torus_digits.rle")], ("too large",)),
        (["serve", "--config", str(CONFIG_DIR / "yaml_bomb.yaml"), *QUICK], ("route.down.0",)),
        (["serve", "--config", str(CONFIG_DIR / "date_scalar.yaml"), *QUICK], ("month",)),
        (["bench", "--scenario", "nope"], ("--scenario",)),
    ],
)
def test_bad_input_in_a_real_process(args: list[str], words: tuple[str, ...]) -> None:
    # As a user runs it: the console's encoding, the interpreter's exit path, a real timeout.
    assert_cli_fails_in_one_line(cli(*args, timeout=HANG_SECONDS), ERROR, *words)


# Malformed WebSocket control messages: (data, the id the error must echo, words in the error).
LIMIT = 4096
CONTROL_CORPUS: list[tuple[str | bytes, int | None, tuple[str, ...]]] = [
    (b"\xff\xfe\x00garbage", None, ("not a control message",)),
    (b"\xc1", None, ("not a control message",)),
    (b"\x81\xa2op\xa1\x80", None, ("not a control message", "utf-8")),
    (b"", None, ("not a control message",)),
    ("", None, ("not a control message",)),
    ("pause", None, ("not a control message",)),
    ('{"op": "pause"', None, ("not a control message",)),
    ("[1, 2, 3]", None, ("an object with an `op`",)),
    ('"pause"', None, ("an object with an `op`",)),
    ("null", None, ("an object with an `op`",)),
    ('{"id": 4}', 4, ("an object with an `op`",)),
    ('{"op": "nope", "id": 5}', 5, ("'nope'", "Invalid value")),
    ('{"op": 5}', None, ("Expected `str`, got `int`", "$.op")),
    ('{"op": ["pause"], "id": 6}', 6, ("Expected `str`, got `list`",)),
    ('{"op": "step", "n": "3"}', None, ("'step'", "$.n")),
    ('{"op": "step", "n": 1001}', None, ("<= 1000",)),
    ('{"op": "inject", "text": 5, "src": [0, 0]}', None, ("$.text",)),
    ('{"op": "inject", "text": "x", "src": [0, 0, 0]}', None, ("length 2",)),
    ('{"op": "inject", "text": "x"}', None, ("missing required field `src`",)),
    ('{"op": "pause", "extra": 1}', None, ("unknown field `extra`",)),
    ('{"op": "pause", "line\\nbreak": 1}', None, ("unknown field",)),
    ('{"op": "pause", "token": 5}', None, ("$.token",)),
    ('{"op": "rate", "value": NaN}', None, ("not a control message",)),
    ('{"op": "rate", "value": Infinity}', None, ("not a control message",)),
    ('{"op": "rate", "value": 1e999}', None, ("not a control message",)),
    (msgspec.msgpack.encode({"op": "rate", "value": float("nan")}), None, ("$.value",)),
    (msgspec.msgpack.encode({"op": "rate", "value": float("inf")}), None, ("$.value",)),
    ('{"op": "reseed", "seed": 99999999999999999999999999}', None, ("$.seed",)),
    ('{"op": "step", "id": 99999999999999999999999999}', None, ("$.id",)),
    ('{"op": "step", "id": -99999999999999999999999999}', None, ("$.id",)),
    (msgspec.msgpack.encode({"op": "step", "id": 2**64 - 1}), None, ("$.id",)),
    ('{"op": "step", "id": true}', None, ("$.id",)),
    ("x" * (LIMIT + 1), None, ("message too large", f"limit {LIMIT}")),
    ("é" * (LIMIT // 2 + 1), None, ("message too large",)),
    ("[" * 1500 + "]" * 1500, None, ("not a control message", "recursion")),
    (b"\x91" * 2000 + b"\xc0", None, ("not a control message", "recursion")),
    ('{"op": ' + "[" * 900 + "]" * 900 + ', "id": 7}', 7, ("Expected `str`, got `list`",)),
    ("\ud800", None, ("not a control message",)),
]


@pytest.mark.unit
@pytest.mark.parametrize(("data", "ident", "words"), CONTROL_CORPUS,
                         ids=[repr(d)[:40] for d, _, _ in CONTROL_CORPUS])
def test_malformed_control_message_is_refused_in_one_line(
        data: str | bytes, ident: int | None, words: tuple[str, ...]) -> None:
    message, got_id, error = parse(data, LIMIT)
    assert message is None and got_id == ident
    assert error is not None
    assert_one_line(error, *words)


@pytest.mark.unit
def test_an_echoed_id_always_fits_a_reply() -> None:
    # Replies are msgpack; an id it cannot encode once made the connection's handler raise.
    from web.frames import Error, encode

    for data in ('{"op": "nope", "id": 99999999999999999999999999}', f'{{"id": {ID_MAX + 1}}}'):
        _, ident, error = parse(data, LIMIT)
        assert ident is None and error is not None
        encode(Error(ident, error))
    message, ident, error = parse(json.dumps({"op": "pause", "id": ID_MAX}), LIMIT)
    assert message is not None and ident == ID_MAX and error is None
    encode(Error(ident, "x"))
