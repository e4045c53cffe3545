"""The random streams of a run's seed: one value per purpose, and values that never change."""

from __future__ import annotations

import numpy as np
import pytest

from game.engine.world import Purpose, stream

pytestmark = pytest.mark.unit

# The values seed recorded runs (event logs, fingerprints): written here, not read from the enum.
RECORDED = {"TOPICS": 1, "LINK_LOSS": 2, "TRAFFIC": 3, "BURST": 4, "SKEWED_TRAFFIC": 5,
            "PULSE_CONTROL": 6, "WAVES": 8}


def test_no_two_purposes_share_a_value() -> None:
    # __members__ lists aliases too: a second name for a value is a shared stream.
    values = [member.value for member in Purpose.__members__.values()]
    assert len(values) == len(set(values)), sorted(values)


def test_every_purpose_keeps_its_recorded_value() -> None:
    assert {name: member.value for name, member in Purpose.__members__.items()} == RECORDED


def test_a_stream_is_numpys_generator_of_seed_and_purpose() -> None:
    expected = np.random.default_rng([7, 3]).random(5)
    assert np.array_equal(stream(7, Purpose.TRAFFIC).random(5), expected)
    assert not np.array_equal(stream(7, Purpose.TOPICS).random(5), expected)
