"""Life-like rules (outer-totalistic, Moore neighbourhood) and the torus topology suffix.

Accepted spellings follow Golly: ``B3/S23``, ``b3/s23``, ``B36/S23``, the old S/B form ``23/3``, and
an optional bounded-grid suffix ``:T<width>,<height>`` naming a torus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from game.errors import RuleError

_BS = re.compile(r"^B([0-8]*)/?S([0-8]*)$", re.IGNORECASE)
_SB = re.compile(r"^S?([0-8]*)/B?([0-8]*)$", re.IGNORECASE)
_TORUS = re.compile(r"^T(\d+),(\d+)$", re.IGNORECASE)
_ALIASES = {"LIFE": "B3/S23", "CONWAY'S LIFE": "B3/S23", "HIGHLIFE": "B36/S23"}


@dataclass(frozen=True, slots=True)
class Rule:
    """A Life-like rule: neighbour counts that give birth and that let a live cell survive."""

    birth: frozenset[int]
    survive: frozenset[int]

    def __str__(self) -> str:
        return "B" + "".join(map(str, sorted(self.birth))) + "/S" + "".join(
            map(str, sorted(self.survive))
        )

    @property
    def birth_mask(self) -> int:
        """Bit k set when k live neighbours give birth (for shaders and lookup tables)."""
        return sum(1 << k for k in self.birth)

    @property
    def survive_mask(self) -> int:
        """Bit k set when a live cell with k live neighbours survives."""
        return sum(1 << k for k in self.survive)

    @property
    def is_conway(self) -> bool:
        """True for B3/S23, which backends may run on a specialised path."""
        return self.birth == frozenset({3}) and self.survive == frozenset({2, 3})


CONWAY = Rule(frozenset({3}), frozenset({2, 3}))


def _digits(text: str) -> frozenset[int]:
    return frozenset(int(c) for c in text)


def parse_rule(text: str) -> Rule:
    """Parse a rule without topology, e.g. ``B3/S23`` or ``23/3``; raises :class:`RuleError`."""
    rule, torus = parse_rule_and_torus(text)
    if torus is not None:
        raise RuleError(f"rule {text!r}: a topology suffix is not allowed here")
    return rule


def parse_rule_and_torus(text: str) -> tuple[Rule, tuple[int, int] | None]:
    """Parse ``B3/S23[:Tw,h]`` into a rule and the torus (width, height), or None without one."""
    raw = text.strip()
    body, _, topo = raw.partition(":")
    body = _ALIASES.get(body.strip().upper(), body.strip())
    m = _BS.match(body)
    if m:
        rule = Rule(_digits(m.group(1)), _digits(m.group(2)))
    else:
        m = _SB.match(body)
        if not m or "/" not in body:
            raise RuleError(
                f"unknown rule {text!r}: expected a Life-like rule such as B3/S23 or 23/3"
            )
        rule = Rule(_digits(m.group(2)), _digits(m.group(1)))
    if not topo:
        return rule, None
    t = _TORUS.match(topo.strip())
    if not t:
        raise RuleError(
            f"rule {text!r}: unsupported topology {topo!r}; only a torus ':T<width>,<height>' is"
            " supported"
        )
    if max(len(side.lstrip("0")) for side in t.groups()) > 15:
        # No such torus fits in memory, and int() of over 4300 digits raises a ValueError.
        raise RuleError(f"rule {text!r}: torus {topo.strip()!r} is too large")
    width, height = int(t.group(1)), int(t.group(2))
    if width <= 0 or height <= 0:
        raise RuleError(f"rule {text!r}: torus sides must be positive (an infinite side is not)")
    return rule, (width, height)
