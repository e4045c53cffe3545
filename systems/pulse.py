"""Pulse system: bots apply their active LoRA adapter to their tiles; the LoRA wave spreads.

Each tick, in order:

1. The wave: an adapter shard delivered this tick (``ShardNet.arrivals``; duplicates were
   already dropped by wave id) makes its adapter resident if it is new (from the shard's
   weights, checked against their hash), active at that bot, and the bot pulses and forwards it
   to its other live neighbours. A ``StartWave`` command does the same at its bot.
2. Pulses: bots asked to pulse (``PulseNow``, the wave, or every ``pulse.every`` ticks) are
   grouped by adapter; each group is one forward of the pulse network over the whole lattice
   (a torus, so circular padding is exact), and each bot takes its own tile's scores. A pulse
   sets alive the ``pulse.budget`` dead cells of the tile with the highest positive scores.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import numpy.typing as npt
import torch

from components.bot import Bot
from components.shard import Shard
from game.adapters import PulseModel, vector_digest
from game.embedding import choose_device
from game.errors import BadInput
from game.events import Adopt, Pulse, WaveStart
from game.paths import project_path
from game.pulse import choose_cells, features
from game.schedule import System
from game.shardnet import ShardNet
from game.topology import Cell, neighbours
from game.world import Sim, stream


class PulseSystem(System):
    """Batched pulses, grouped by adapter, and the LoRA wave (module docstring)."""

    phase = "pulse"

    def __init__(self, sim: Sim, net: ShardNet) -> None:
        self.sim = sim
        self.net = net
        cfg = sim.config.pulse
        self.cfg = cfg
        folder = project_path(cfg.adapters)
        device = choose_device(cfg.device, "pulse.device")
        self.model = PulseModel.from_folder(folder, device=device)
        if cfg.adapter and not self.model.has(cfg.adapter):
            raise BadInput(f"pulse.adapter {cfg.adapter!r}: no such adapter in {folder} "
                           f"(there: {', '.join(self.model.names) or 'none'})")
        for bot in net.bots.values():
            if not bot.down and cfg.adapter:
                bot.adapter = cfg.adapter
        self.rng = stream(sim.config.seed, 6)  # the random control's own stream
        self._pulsed: list[Bot] = []

    def check(self, adapter: str) -> None:
        """Raise :class:`BadInput` unless ``adapter`` is resident."""
        if not self.model.has(adapter):
            raise BadInput(f"no adapter {adapter!r} (resident: {', '.join(self.model.names)})")

    def process(self) -> None:
        """The wave, then this tick's pulses."""
        sim, net, cfg = self.sim, self.net, self.cfg
        tick = sim.tick + 1
        for bot in self._pulsed:  # last tick's pulse is over
            if bot.state == "pulsing":
                bot.state = "busy" if bot.inbox else "idle"
        self._pulsed = []
        pending: dict[Cell, Bot] = {}
        for cell, adapter in net.wave_starts:
            self._start_wave(tick, net.bots[cell], adapter, pending)
        net.wave_starts.clear()
        for shard in net.arrivals:
            self._adopt(tick, shard, pending)
        net.arrivals.clear()
        asked = list(net.pulse_requests)
        net.pulse_requests.clear()
        if cfg.every and tick % cfg.every == 0:
            asked.append(None)
        for one in asked:
            for bot in ([net.bots[one]] if one is not None else net.bots.values()):
                if not bot.down and bot.adapter is not None:
                    pending[bot.cell] = bot
        if pending:
            self._pulse(tick, sorted(pending.values(), key=lambda b: b.cell))

    def _start_wave(self, tick: int, bot: Bot, adapter: str, pending: dict[Cell, Bot]) -> None:
        wave = next(self.net.wave_ids)
        vector = self.model.vector(adapter)
        digest = vector_digest(vector)
        self.sim.events.emit(WaveStart(tick=tick, wave=wave, bot=bot.cell, adapter=adapter,
                                       digest=digest))
        bot.waves.add(wave)
        self._take(tick, bot, adapter, wave, None, False, vector, digest, pending)

    def _adopt(self, tick: int, shard: Shard, pending: dict[Cell, Bot]) -> None:
        bot = self.net.bots[shard.at]
        adapter = shard.text
        loaded = not self.model.has(adapter)
        assert shard.vector is not None and shard.wave is not None
        if loaded:
            self.model.add_vector(adapter, shard.vector, shard.digest)
        self._take(tick, bot, adapter, shard.wave, shard.src, loaded, shard.vector, shard.digest,
                   pending)

    def _take(self, tick: int, bot: Bot, adapter: str, wave: int, src: Cell | None,
              loaded: bool, vector: npt.NDArray[np.float32], digest: str,
              pending: dict[Cell, Bot]) -> None:
        """``bot`` makes ``adapter`` active, pulses, and passes the wave on (the same weights)."""
        net = self.net
        self.sim.events.emit(Adopt(tick=tick, wave=wave, bot=bot.cell, src=src, adapter=adapter,
                                   loaded=loaded))
        bot.adapter = adapter
        pending[bot.cell] = bot
        for n in neighbours(bot.cell, net.rows, net.cols):
            if n == src or net.bots[n].down:
                continue
            net.spawn(self.sim.events, Shard(
                id=next(net.ids), text=adapter, src=bot.cell, target=n, spawn_tick=tick,
                ttl=self.sim.config.route.ttl, vector=vector, at=bot.cell, path=[bot.cell],
                payload="adapter", digest=digest, wave=wave))

    def _pulse(self, tick: int, bots: list[Bot]) -> None:
        """One forward per adapter in use; each bot sets its tile's best dead cells alive."""
        sim, cfg = self.sim, self.cfg
        sub = sim.substrate
        tile = sim.config.mesh.tile
        groups: dict[str, list[Bot]] = defaultdict(list)
        for bot in bots:
            assert bot.adapter is not None
            groups[bot.adapter].append(bot)
        alive = sub.alive.copy()
        scores: dict[str, npt.NDArray[np.float32]] = {}
        if cfg.scorer == "net":
            x = features(torch.from_numpy(alive.astype(np.float32))[None, None],
                         torch.from_numpy(sub.energy)[None, None])
            for adapter in groups:
                scores[adapter] = self.model.scores(x, adapter)[0].cpu().numpy()
        for adapter, members in groups.items():
            for bot in members:
                y0, x0 = bot.row * tile, bot.col * tile
                window = alive[y0:y0 + tile, x0:x0 + tile]
                if cfg.scorer == "net":
                    local = scores[adapter][y0:y0 + tile, x0:x0 + tile]
                else:  # the control: as many cells, uniformly among the dead ones
                    local = self.rng.random((tile, tile)).astype(np.float32) + 1e-3
                chosen = choose_cells(local, window, cfg.budget)
                window[np.unravel_index(chosen, window.shape)] = 1  # a view into ``alive``
                bot.pulses += 1
                bot.state = "pulsing"
                self._pulsed.append(bot)
                sim.events.emit(Pulse(tick=tick, bot=bot.cell,
                                      adapter=adapter if cfg.scorer == "net" else "random",
                                      cells=int(len(chosen))))
        if not np.array_equal(alive, sub.alive):
            sim.backend.set_cells(alive)
            np.copyto(sub.alive, alive)
