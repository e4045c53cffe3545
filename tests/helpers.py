"""Helpers shared by test modules."""

from __future__ import annotations

import pytest

from game.config import Config, override


def numpy_config(**sets: object) -> Config:
    """The default config on the numpy backend with ``sets`` (``a__b=v`` sets ``a.b``)."""
    config = override(Config(), "lattice.backend", "numpy")
    for key, value in sets.items():
        config = override(config, key.replace("__", "."), value)
    return config


class FakeClock:
    """A clock the test moves by hand (``clock.now += dt``)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def assert_main_fails_in_one_line(argv: list[str], message: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``cybermesh ARGV`` in-process exits 2 with one line on stderr containing ``message``."""
    from game.cli import main

    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = int(str(exit_.code))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
