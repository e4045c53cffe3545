"""The tier-1 singleton resource: the dense lattice and energy arrays, held once per world."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class Substrate:
    """Dense H×W arrays over the torus. Mesh cells hold views into them; systems write in place.

    ``alive`` mirrors the backend's state after each ca step (uint8 0/1), ``births`` the cells
    born in the last step, ``energy`` the float32 energy field.
    """

    height: int
    width: int
    alive: npt.NDArray[np.uint8] = field(repr=False)
    births: npt.NDArray[np.uint8] = field(repr=False)
    energy: npt.NDArray[np.float32] = field(repr=False)

    @classmethod
    def empty(cls, height: int, width: int) -> Substrate:
        """All-dead lattice with zero energy."""
        return cls(
            height,
            width,
            np.zeros((height, width), np.uint8),
            np.zeros((height, width), np.uint8),
            np.zeros((height, width), np.float32),
        )
