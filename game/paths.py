"""Where the repository's data folders are: the code runs from a checkout (editable install)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
SHADERS_DIR = ROOT / "shaders"
ASSETS_DIR = ROOT / "assets"
PATTERNS_DIR = ASSETS_DIR / "patterns"


def project_path(path: str) -> Path:
    """``path`` as given when absolute, else relative to the checkout (not the working folder)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else ROOT / p
