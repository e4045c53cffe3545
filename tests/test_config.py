"""Config: the default file, overrides, and one-line errors that name file, key and type."""

from __future__ import annotations

from pathlib import Path

import pytest

from game.config import DEFAULT_CONFIG, Config, config_keys, decode_config, load_config, parse_set
from game.errors import ConfigError

pytestmark = pytest.mark.unit


def test_default_file_equals_built_in_defaults() -> None:
    assert load_config() == Config()
    assert load_config(DEFAULT_CONFIG).mesh.rows == 5


def test_partial_file_keeps_other_defaults(tmp_path: Path) -> None:
    f = tmp_path / "my.yaml"
    f.write_text("seed: 7\nmesh:\n  rows: 3\n")
    c = load_config(f)
    assert (c.seed, c.mesh.rows, c.mesh.cols) == (7, 3, 5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mesh:\n  rows: three\n", "my.yaml: mesh.rows: expected int, got str"),
        ("mesh:\n  rowz: 3\n", "my.yaml: unknown key 'mesh.rowz'"),
        ("bogus: 1\n", "my.yaml: unknown key 'bogus'"),
        ("energy:\n  half_life: -1\n", "my.yaml: energy.half_life: expected float > 0"),
        ("lattice:\n  backend: vulkan\n", "lattice.backend: invalid enum value 'vulkan'"),
        ("- 1\n- 2\n", "my.yaml: expected a mapping"),
        ("mesh: [1,\n", "my.yaml: not valid YAML"),
        ("tick_rate: fast\n", "my.yaml: tick_rate: expected float, got str"),
    ],
)
def test_bad_config_is_one_line_naming_file_key_and_type(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        decode_config(text, "my.yaml")
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_set_overrides_with_the_same_checks() -> None:
    c = parse_set("mesh.rows=3", Config())
    assert c.mesh.rows == 3
    assert parse_set("lattice.backend=numpy", c).lattice.backend == "numpy"
    with pytest.raises(ConfigError, match="unknown key 'mesh.nope'"):
        parse_set("mesh.nope=1", c)
    with pytest.raises(ConfigError, match="expected int, got str"):
        parse_set("mesh.rows=x", c)
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_set("mesh.rows", c)


def test_every_key_is_in_the_default_file() -> None:
    text = DEFAULT_CONFIG.read_text()
    for key in config_keys():
        assert f"{key.split('.')[-1]}:" in text, key
