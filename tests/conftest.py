"""Shared fixtures: the project's policy on tests that need a system package or a device."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"

# As `cybermesh serve` does: torch's OpenMP threads sleep when idle instead of spinning, since
# tests run live simulations beside their clients (and browsers) on few cores. Set before any
# test module imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# In-process `main(["serve", ...])` runs write the application log: not into the checkout.
os.environ.setdefault("CYBERMESH_LOG_DIR", tempfile.mkdtemp(prefix="cybermesh-test-logs-"))


def need(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false on a user's machine; fail instead in CI.

    The project installs its own system packages (scripts/install_system_deps.sh), so in CI a
    missing one is a broken setup, never a reason to skip.
    """
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def bgolly() -> str:
    """Path of Golly's headless bgolly (the trusted Life reference)."""
    path = shutil.which("bgolly")
    need(path is not None, "bgolly not installed (Debian package golly)")
    assert path is not None
    return path
