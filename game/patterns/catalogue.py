"""Friendly names for common apgcodes, and the generated test set of common objects.

Every code here was computed by python-lifelib from a known drawing of the object (not typed from
memory), cross-checked against the names apgsearch itself ships, and is re-verified by the tests:
``decode_apgcode(code)`` classified by :func:`game.patterns.classify.classify` gives back ``code``,
and lifelib agrees. Names are Catagolue's names in B3/S23 (Conway's Life).
"""

from __future__ import annotations

#: apgcode -> common name (B3/S23).
NAMES: dict[str, str] = {
    # Still lifes.
    "xs4_33": "block",
    "xs4_252": "tub",
    "xs5_253": "boat",
    "xs6_696": "beehive",
    "xs6_356": "ship",
    "xs6_25a4": "barge",
    "xs6_39c": "aircraft carrier",
    "xs6_bd": "snake",
    "xs7_2596": "loaf",
    "xs7_25ac": "long boat",
    "xs7_178c": "eater 1",
    "xs7_3lo": "long snake",
    "xs8_6996": "pond",
    "xs8_69ic": "mango",
    "xs8_25ak8": "long barge",
    "xs8_35ac": "long ship",
    "xs8_3pm": "shillelagh",
    "xs8_312ko": "canoe",
    "xs8_178k8": "twit",
    "xs8_32qk": "hook with tail",
    "xs9_31ego": "integral sign",
    "xs9_4aar": "hat",
    "xs10_g8o652z01": "boat-tie",
    "xs12_g8o653z11": "ship-tie",
    "xs14_g88m952z121": "half-bakery",
    "xs14_69bqic": "paperclip",
    # Oscillators.
    "xp2_7": "blinker",
    "xp2_7e": "toad",
    "xp2_318c": "beacon",
    "xp2_2a54": "clock",
    "xp2_31ago": "bipole",
    "xp3_co9nas0san9oczgoldlo0oldlogz1047210127401": "pulsar",
    "xp15_4r4z4r4": "pentadecathlon",
    # Spaceships.
    "xq4_153": "glider",
    "xq4_6frc": "LWSS",
    "xq4_27dee6": "MWSS",
    "xq4_27deee6": "HWSS",
}

#: The generated test set: the commonest objects of Conway soup ash, by census order. Still lifes
#: are the most frequent (connected, hence strict) objects of a 12,000-soup census of 16×16 C1
#: soups run by lifelib (266,231 objects), plus a few classics; then the common oscillators and
#: the four spaceships that emerge from soups.
COMMON_OBJECTS: tuple[str, ...] = (
    "xs4_33",
    "xs6_696",
    "xs7_2596",
    "xs5_253",
    "xs6_356",
    "xs4_252",
    "xs8_6996",
    "xs7_25ac",
    "xs12_g8o653z11",
    "xs14_g88m952z121",
    "xs6_25a4",
    "xs8_69ic",
    "xs7_178c",
    "xs8_25ak8",
    "xs8_35ac",
    "xs14_69bqic",
    "xs6_bd",
    "xs9_31ego",
    "xs16_g88m996z1221",
    "xs10_g8o652z01",
    "xs8_312ko",
    "xs10_35ako",
    "xs8_3pm",
    "xs9_4aar",
    "xs9_178ko",
    "xs8_178k8",
    "xs9_25ako",
    "xs14_g88b96z123",
    "xs6_39c",
    "xs7_3lo",
    "xs8_32qk",
    "xp2_7",
    "xp2_7e",
    "xp2_318c",
    "xp2_2a54",
    "xp2_31ago",
    "xp3_co9nas0san9oczgoldlo0oldlogz1047210127401",
    "xp15_4r4z4r4",
    "xq4_153",
    "xq4_6frc",
    "xq4_27dee6",
    "xq4_27deee6",
)


def friendly_name(apgcode: str) -> str | None:
    """The common name of the object with this apgcode, or None for an unnamed one."""
    return NAMES.get(apgcode)
