"""The HUD's bitmap font: a glyph atlas of printable ASCII in a PGM file, and text layout.

The atlas (``assets/fonts/hud.pgm``, made by ``scripts/make_font.py``) is a grid of
:data:`COLUMNS` cells a row, one glyph per cell from :data:`FIRST` to :data:`LAST`; its header
comment ``# cybermesh-font CELL_W CELL_H`` gives the cell size. PGM because numpy reads it in
three lines and any image viewer shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from game.errors import BadInput
from game.paths import ASSETS_DIR

FIRST: Final = 32
LAST: Final = 126
COLUMNS: Final = 16
MAGIC: Final = "# cybermesh-font"
HUD_FONT: Final = ASSETS_DIR / "fonts" / "hud.pgm"


@dataclass(frozen=True, slots=True)
class FontAtlas:
    """Glyph cells of ``cell_w`` × ``cell_h`` pixels in ``pixels`` (grey, rows top first)."""

    pixels: npt.NDArray[np.uint8]
    cell_w: int
    cell_h: int

    def glyph(self, char: str) -> int:
        """The atlas index of ``char`` (``?`` for characters the atlas lacks)."""
        code = ord(char)
        return code - FIRST if FIRST <= code <= LAST else ord("?") - FIRST

    def layout(self, lines: list[str], x: float, y: float,
               scale: float = 1.0) -> npt.NDArray[np.float32]:
        """One row ``[x, y, glyph]`` per visible character; (x, y) is the top-left in pixels."""
        rows: list[tuple[float, float, int]] = []
        for n, line in enumerate(lines):
            top = y + n * self.cell_h * scale
            for i, char in enumerate(line):
                if char != " ":
                    rows.append((x + i * self.cell_w * scale, top, self.glyph(char)))
        return np.array(rows, np.float32).reshape(-1, 3)

    def size(self, lines: list[str], scale: float = 1.0) -> tuple[float, float]:
        """The pixel size of ``lines`` laid out."""
        width = max((len(line) for line in lines), default=0)
        return width * self.cell_w * scale, len(lines) * self.cell_h * scale


def read_atlas(path: Path = HUD_FONT) -> FontAtlas:
    """Read an atlas written by :func:`write_atlas`; a broken file raises :class:`BadInput`."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise BadInput(f"cannot read the HUD font {path}: {err.strerror}") from err
    lines = data.split(b"\n", 5)
    try:
        if lines[0] != b"P5":
            raise ValueError("not a binary PGM")
        magic = lines[1].decode().split()
        if " ".join(magic[:2]) != MAGIC:
            raise ValueError("no cybermesh-font header")
        cell_w, cell_h = int(magic[2]), int(magic[3])
        width, height = (int(v) for v in lines[3].split())
        if lines[4] != b"255" or len(lines[5]) != width * height:
            raise ValueError("wrong size or depth")
    except (IndexError, ValueError) as err:
        raise BadInput(f"{path} is not a HUD font atlas: {err}") from err
    pixels = np.frombuffer(lines[5], np.uint8).reshape(height, width)
    return FontAtlas(pixels, cell_w, cell_h)


def write_atlas(path: Path, pixels: npt.NDArray[np.uint8], cell_w: int, cell_h: int,
                source: str) -> None:
    """Write ``pixels`` as the PGM atlas read by :func:`read_atlas`."""
    height, width = pixels.shape
    header = (f"P5\n{MAGIC} {cell_w} {cell_h}\n# {source}\n{width} {height}\n255\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + np.ascontiguousarray(pixels, np.uint8).tobytes())
