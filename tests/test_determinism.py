"""Determinism with every tier on: the same seed and config give the same event log, byte for
byte, and the same final lattice and energy, run after run and on the numpy and gl backends; and
they are what the committed fingerprints (tests/fingerprints.json) say, so a change that alters
what a run computes fails here until the file is deliberately regenerated (tests/fingerprints.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from game.app.build import build_sim
from game.errors import BadInput
from tests.fingerprints import (
    WORKLOADS,
    Outcome,
    every_tier_config,
    fingerprint,
    load,
    mismatch,
    run_every_tier,
)
from tests.helpers import assert_fails_in_one_line, need_gl, read_events

pytestmark = pytest.mark.integration


def same(a: Outcome, b: Outcome) -> bool:
    """Whether two runs computed the same: event log bytes, final lattice and energy."""
    return (a.events == b.events and np.array_equal(a.lattice, b.lattice)
            and np.array_equal(a.energy, b.energy))


def check_fingerprint(name: str, digests: dict[str, str]) -> None:
    """``digests`` are the committed fingerprint of workload ``name``."""
    stored = load()
    message = mismatch(name, stored["workloads"][name], digests, stored["versions"])
    assert message is None, message


def test_every_tier_is_byte_identical_across_runs_and_backends(tmp_path: Path) -> None:
    a = run_every_tier(tmp_path / "a.jsonl")
    b = run_every_tier(tmp_path / "b.jsonl")
    kinds = {event.kind for event in read_events(a.events)}
    assert {"spawn", "hop", "delivered", "pulse", "wave_start", "adopt", "board"} <= kinds
    assert same(a, b)
    check_fingerprint("every-tier-5x5-120", fingerprint(a))
    need_gl()
    c = run_every_tier(tmp_path / "c.jsonl", backend="gl")
    assert same(a, c)


@pytest.mark.parametrize("name", ["bench-full-5x5-150", "bench-full-16x16-80"])
def test_the_full_bench_workload_has_its_committed_fingerprint(name: str, tmp_path: Path) -> None:
    check_fingerprint(name, WORKLOADS[name].run(tmp_path / "events.jsonl"))


@pytest.mark.parametrize("name", ["move-full-5x5-300", "move-routing-16x16-200",
                                  "move-ca-soup-256"])
def test_the_restructure_changes_nothing_a_run_computes(name: str, tmp_path: Path) -> None:
    """Issue 20's workloads, fingerprinted before the layers moved, still compute the same."""
    check_fingerprint(name, WORKLOADS[name].run(tmp_path / "out"))


def test_a_shard_without_target_needs_the_semantic_router() -> None:
    sim = build_sim(every_tier_config("numpy"))
    try:
        with pytest.raises(BadInput, match="needs the semantic router"):
            sim.inject("no target given", (1, 1))
        sim.step(2)  # nothing was queued: the tick runs
    finally:
        sim.close()


def test_a_changed_fingerprint_fails_saying_how_to_regenerate_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    from tests import fingerprints

    stored = load()
    name = "bench-full-5x5-150"
    same_parts = {part: stored["workloads"][name][part] for part in fingerprints.PARTS}
    assert mismatch(name, stored["workloads"][name], same_parts, stored["versions"]) is None
    changed = {**same_parts, "lattice": "sha256:" + "0" * 64}
    message = mismatch(name, stored["workloads"][name], changed, stored["versions"])
    assert message is not None
    assert f"{name} (lattice)" in message and "deliberate, reviewed commit" in message
    assert fingerprints.REGENERATE in message
    assert_fails_in_one_line(fingerprints.main, ["no-such-workload"], "no-such-workload", capsys)
    assert_fails_in_one_line(fingerprints.main, ["--write", name], "--write", capsys)
