"""``cybermesh ca``: run an RLE pattern on its torus for N generations, RLE in, RLE out."""

from __future__ import annotations

import argparse
import sys
import time

from tqdm import tqdm

from game.backends import LifeBackend, make_backend
from game.rle import format_rle, read_rle, to_torus, write_rle

# Above this many cell updates a progress bar is worth its few milliseconds.
_PROGRESS_MIN_UPDATES = 2_000_000_000


def run_ca(args: argparse.Namespace) -> int:
    """Read ``args.input``, step ``args.gens`` generations, write the result; returns 0."""
    pattern = read_rle(args.input)
    cells = to_torus(pattern, args.torus)
    height, width = cells.shape
    backend = make_backend(args.backend, pattern.rule, (height, width))
    try:
        backend.set_cells(cells)
        t0 = time.perf_counter()
        big = args.gens * width * height >= _PROGRESS_MIN_UPDATES
        _advance(backend, args.gens, show=big and not args.quiet)
        elapsed = time.perf_counter() - t0
        result = backend.get_cells()
    finally:
        backend.close()
    torus = (width, height)
    if args.out:
        write_rle(args.out, result, pattern.rule, torus=torus, name=pattern.name)
    else:
        sys.stdout.write(format_rle(result, pattern.rule, torus=torus, name=pattern.name))
    if not args.quiet:
        rate = args.gens * width * height / elapsed if elapsed > 0 else float("inf")
        print(
            f"{args.gens} generations of {width}x{height} {pattern.rule} on {backend.name}: "
            f"population {int(result.sum())}, {elapsed:.3f} s, {rate / 1e9:.2f} G cell-updates/s",
            file=sys.stderr,
        )
    return 0


def _advance(backend: LifeBackend, gens: int, show: bool) -> None:
    """Step in chunks so a progress bar costs nothing measurable."""
    step = backend.step
    if not show:
        step(gens)
        return
    chunk = max(1, gens // 100)
    with tqdm(total=gens, unit="gen", file=sys.stderr, disable=None, leave=False) as bar:
        done = 0
        while done < gens:
            n = min(chunk, gens - done)
            step(n)
            done += n
            bar.update(n)
