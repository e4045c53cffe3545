"""Shared fixtures: the project's policy on tests that need a system package or a device."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

# As `cybermesh serve` does: torch's OpenMP threads sleep when idle instead of spinning, since
# tests run live simulations beside their clients (and browsers) on few cores. Set before any
# test module imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# In-process `main(["serve", ...])` runs write the application log: not into the checkout.
os.environ.setdefault("CYBERMESH_LOG_DIR", tempfile.mkdtemp(prefix="cybermesh-test-logs-"))


def in_ci() -> bool:
    """Whether this is a CI run (``CI=true``), read at each call so a test can set it."""
    return os.environ.get("CI", "").strip().lower() == "true"


def need(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false on a user's machine; fail instead in CI.

    The one way a test may skip. The project installs its own system packages
    (scripts/install_system_deps.sh) and Python packages (.venv), so in CI a missing one is a
    broken setup, never a reason to skip.
    """
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def bgolly() -> str:
    """Path of Golly's headless bgolly (the trusted Life reference)."""
    path = shutil.which("bgolly")
    need(path is not None, "bgolly not installed (Debian package golly)")
    assert path is not None
    return path


#: The kinds of test: each test carries exactly one (``pytest -m KIND`` then splits the suite).
KINDS = ("unit", "integration", "performance", "hardware")


def unkinded(items: list[pytest.Item]) -> list[str]:
    """``nodeid: why`` for each of ``items`` that carries no kind of :data:`KINDS`, or several."""
    wrong = []
    for item in items:
        kinds = sorted({mark.name for mark in item.iter_markers() if mark.name in KINDS})
        if len(kinds) != 1:
            wrong.append(f"{item.nodeid}: {', '.join(kinds) if kinds else 'no kind'}")
    return wrong


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse to run a suite in which a test carries no kind marker (or two), naming each one."""
    wrong = unkinded(items)
    if wrong:
        listed = "".join(f"\n  {line}" for line in wrong)
        raise pytest.UsageError(
            f"{len(wrong)} test(s) need exactly one of the markers {', '.join(KINDS)} "
            f"(a decorator, or a module-level pytestmark):{listed}")
