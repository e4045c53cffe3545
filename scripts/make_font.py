"""Render the HUD's bitmap font: printable ASCII of DejaVu Sans Mono into a PGM glyph atlas.

The viewer draws its HUD from ``assets/fonts/hud.pgm`` (no font library at run time). Rerun this
only to change the face or size; it needs Pillow (dev extra) and Debian's fonts-dejavu-core.

    python scripts/make_font.py [--size 14] [--font PATH] [--out assets/fonts/hud.pgm]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from game.viewer.font import COLUMNS, FIRST, LAST, write_atlas  # noqa: E402

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"


def render(font_path: str, size: int) -> tuple[np.ndarray, int, int]:
    """The atlas (grey 0-255) and its cell width and height."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_path, size)
    ascent, descent = font.getmetrics()
    cell_w = round(font.getlength("M"))
    cell_h = ascent + descent
    count = LAST - FIRST + 1
    rows = -(-count // COLUMNS)
    image = Image.new("L", (COLUMNS * cell_w, rows * cell_h), 0)
    draw = ImageDraw.Draw(image)
    for i in range(count):
        x, y = (i % COLUMNS) * cell_w, (i // COLUMNS) * cell_h
        draw.text((x, y), chr(FIRST + i), font=font, fill=255)
    return np.asarray(image, dtype=np.uint8), cell_w, cell_h


def main() -> int:
    """Write the atlas."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=14)
    parser.add_argument("--font", default=DEJAVU)
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "fonts" / "hud.pgm")
    args = parser.parse_args()
    pixels, cell_w, cell_h = render(args.font, args.size)
    write_atlas(args.out, pixels, cell_w, cell_h, f"{Path(args.font).name} {args.size}px")
    print(f"wrote {args.out} ({pixels.shape[1]}x{pixels.shape[0]}, cells {cell_w}x{cell_h})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
