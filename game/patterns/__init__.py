"""Pattern detection building blocks: apgcodes, classification of isolated objects, names.

- :mod:`game.patterns.apgcode`: Extended Wechsler encoding and apgcodes, exactly as lifelib.
- :mod:`game.patterns.classify`: run one object alone on the plane; still life, oscillator,
  spaceship or unsettled, with period, displacement, phases and apgcode (cached).
- :mod:`game.patterns.catalogue`: friendly names and the generated set of common objects.
"""

from __future__ import annotations

from game.patterns.apgcode import apgcode, canonical_wechsler, decode_apgcode, wechsler
from game.patterns.catalogue import COMMON_OBJECTS, NAMES, friendly_name
from game.patterns.classify import Classification, classify, plane_step

__all__ = [
    "COMMON_OBJECTS",
    "NAMES",
    "Classification",
    "apgcode",
    "canonical_wechsler",
    "classify",
    "decode_apgcode",
    "friendly_name",
    "plane_step",
    "wechsler",
]
