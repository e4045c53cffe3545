"""CA system: one generation of the lattice on the chosen backend, mirrored into the substrate."""

from __future__ import annotations

import numpy as np

from game.engine.schedule import System
from game.engine.world import Sim


class CaSystem(System):
    """Steps the backend once and refreshes ``substrate.alive`` / ``births`` in place."""

    phase = "ca"

    def __init__(self, sim: Sim) -> None:
        self.sim = sim

    def process(self) -> None:
        """Advance the lattice one generation."""
        sim = self.sim
        sim.backend.step(1)
        np.copyto(sim.substrate.alive, sim.backend.get_cells())
        np.copyto(sim.substrate.births, sim.backend.births())
