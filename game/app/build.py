"""Building a sim from a config: the composition root of the engine, the tiers and the systems.

:func:`build_sim` draws tick 0, creates the mesh-cell entities, builds tier 2 when asked and
adds each system to the schedule in its phase; the engine itself (:mod:`game.engine`) knows no
system.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import esper
import numpy as np

from components.mesh import MeshCell, TileStats
from game.backends import make_backend
from game.config import Config, logged_config
from game.engine.events import Start
from game.engine.frames import carry_events
from game.engine.mailbox import Latest
from game.engine.world import Purpose, Sim, stream
from game.errors import BadInput
from game.files import open_for_writing
from game.rle import read_rle
from game.rules import parse_rule
from game.shardnet import build_net
from game.traffic import Traffic
from systems.ca import CaSystem
from systems.detect import DetectSystem
from systems.embed import EmbedSystem
from systems.energy import EnergySystem
from systems.glider import GliderSystem
from systems.input import InputSystem, random_soup
from systems.log import LogSystem
from systems.mirror import MirrorSystem
from systems.route import RouteSystem

if TYPE_CHECKING:
    import moderngl


def initial_cells(config: Config, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """The lattice at tick 0: the configured RLE pattern at the origin, or a random soup."""
    if config.lattice.pattern:
        pattern = read_rle(config.lattice.pattern)
        ph, pw = pattern.cells.shape
        if ph > shape[0] or pw > shape[1]:
            raise BadInput(
                f"{config.lattice.pattern}: pattern is {pw}x{ph}, larger than the "
                f"{shape[1]}x{shape[0]} lattice"
            )
        cells = np.zeros(shape, np.uint8)
        cells[:ph, :pw] = pattern.cells
        return cells
    return random_soup(rng, shape, config.lattice.soup_density)


def build_sim(
    config: Config,
    events_path: str | Path | None = None,
    mirror: bool = False,
    shards: bool | None = None,
    ctx: moderngl.Context | None = None,
) -> Sim:
    """Create a ready-to-tick simulation from ``config``.

    ``events_path`` opens the JSONL event log; ``mirror`` adds the mirror system (its snapshot
    mailbox is ``sim.frames``); ``shards`` builds tier 2 (bots, embed and route systems;
    default: when ``traffic.rate`` > 0); ``ctx`` is the GL context for the gl backend (the
    viewer's window, so it draws the lattice texture without a copy; default: its own).
    """
    rule = parse_rule(config.lattice.rule)
    mesh = config.mesh
    shape = (mesh.rows * mesh.tile, mesh.cols * mesh.tile)
    backend = make_backend(config.lattice.backend, rule, shape, ctx)
    sim = Sim(config, backend, rule)
    try:
        cells = initial_cells(config, sim.rng, shape)
        backend.set_cells(cells)
        np.copyto(sim.substrate.alive, cells)
        sub = sim.substrate
        for r in range(mesh.rows):
            for c in range(mesh.cols):
                y0, x0, t = r * mesh.tile, c * mesh.tile, mesh.tile
                esper.create_entity(
                    MeshCell(
                        r,
                        c,
                        y0,
                        x0,
                        t,
                        sub.alive[y0 : y0 + t, x0 : x0 + t],
                        sub.energy[y0 : y0 + t, x0 : x0 + t],
                    ),
                    TileStats(population=int(cells[y0 : y0 + t, x0 : x0 + t].sum())),
                )
        log_file: BinaryIO | None = None
        if events_path is not None:
            log_file = open_for_writing(events_path, "the event log")  # LogSystem closes it
        traffic = None
        if shards or (shards is None and config.traffic.rate > 0) or config.pulse.enabled:
            sim.net = build_net(config, stream(config.seed, Purpose.TOPICS), sim.substrate.energy)
            if config.traffic.rate > 0:
                semantic = config.route.router == "semantic"
                rng = stream(config.seed, Purpose.TRAFFIC)
                traffic = Traffic(sim.net, config.traffic.rate, semantic, rng)
        sim.schedule.add(InputSystem(sim, traffic))
        sim.schedule.add(CaSystem(sim))
        if config.detect.enabled:
            sim.schedule.add(DetectSystem(sim))
        sim.schedule.add(EnergySystem(sim))
        if sim.net is not None:
            sim.schedule.add(EmbedSystem(sim, sim.net))
            sim.schedule.add(RouteSystem(sim, sim.net, stream(config.seed, Purpose.LINK_LOSS)))
            if config.route.transport != "link":
                sim.schedule.add(GliderSystem(sim, sim.net))
            if config.pulse.enabled:
                from systems.pulse import PulseSystem  # loads torch

                pulse = PulseSystem(sim, sim.net)
                sim.schedule.add(pulse)
                sim.adapters = pulse
        sim.schedule.add(LogSystem(sim, log_file))
        if mirror:
            sim.frames = Latest(carry_events)
            sim.schedule.add(MirrorSystem(sim, sim.frames))
        sim.events.emit(
            Start(
                tick=0,
                seed=config.seed,
                rule=str(rule),
                width=shape[1],
                height=shape[0],
                mesh_rows=mesh.rows,
                mesh_cols=mesh.cols,
                tile=mesh.tile,
                population=int(cells.sum()),
                config=logged_config(config),
            )
        )
    except BaseException:
        backend.close()
        raise
    return sim
