"""``cybermesh detect``: the census of the objects in a pattern, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import numpy as np

from components.pattern import DetectedObject
from game.errors import BadInput
from game.patterns.census import Census
from game.rle import read_rle, to_torus


def detect_pattern(args: argparse.Namespace) -> tuple[list[DetectedObject], dict[str, int]]:
    """Read ``args.input`` and run the census on its torus (or on a padded plane box)."""
    pattern = read_rle(args.input)
    if 0 in pattern.rule.birth:
        raise BadInput(f"{args.input}: detection does not support B0 rules ({pattern.rule})")
    margin = 0
    if pattern.torus is None and args.torus is None:
        # A plane pattern: put it on a torus with room enough that nothing meets across seams.
        margin = 2 * args.horizon + 8
        ph, pw = pattern.cells.shape
        cells = np.zeros((ph + 2 * margin, pw + 2 * margin), np.uint8)
        cells[margin : margin + ph, margin : margin + pw] = pattern.cells
    else:
        cells = to_torus(pattern, args.torus)
    census = Census(pattern.rule, horizon=args.horizon, max_period=args.max_period)
    result = census.run(cells)
    objects = result.objects()
    if margin:
        ox, oy = pattern.origin
        objects = [
            _shift(o, ox - margin, oy - margin) for o in objects
        ]
    return objects, result.counts()


def _shift(o: DetectedObject, dx: int, dy: int) -> DetectedObject:
    return replace(o, x=o.x + dx, y=o.y + dy, cx=o.cx + dx, cy=o.cy + dy)


def run_detect(args: argparse.Namespace) -> int:
    """Print the census of ``args.input``; returns 0."""
    objects, counts = detect_pattern(args)
    if args.json:
        payload = {
            "census": counts,
            "objects": [
                {"apgcode": o.apgcode, "name": o.name, "x": o.x, "y": o.y, "w": o.w, "h": o.h,
                 "period": o.period, "dx": o.dx, "dy": o.dy}
                for o in objects
            ],
        }
        sys.stdout.write(json.dumps(payload) + "\n")
        return 0
    names = {o.apgcode or "unsettled": o.name for o in objects}
    print(f"{'count':>6}  {'apgcode':<24} name")
    for code, n in counts.items():
        print(f"{n:>6}  {code:<24} {names.get(code) or ''}")
    print(f"\n{len(objects)} objects")
    print(f"{'x':>6} {'y':>6} {'w':>4} {'h':>4}  {'apgcode':<24} {'name':<16} {'period':>6} "
          "velocity")
    for o in objects:
        velocity = f"({o.dx},{o.dy})/{o.period}" if o.dx or o.dy else ""
        print(f"{o.x:>6} {o.y:>6} {o.w:>4} {o.h:>4}  {o.apgcode or 'unsettled':<24} "
              f"{o.name or '':<16} {o.period:>6} {velocity}")
    return 0
