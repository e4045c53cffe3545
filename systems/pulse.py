"""Pulse system: bots apply their active LoRA adapter to their tiles; the LoRA wave spreads.

Each tick, in order:

1. The wave: an adapter shard delivered this tick (``ShardNet.arrivals``; duplicates were
   already dropped by wave id) makes its adapter resident if it is new (from the shard's
   weights, checked against their hash), active at that bot, and the bot pulses and forwards it
   to its other live neighbours. A ``StartWave`` command does the same at its bot.
2. Pulses: bots asked to pulse (``PulseNow``, the wave, or every ``pulse.every`` ticks) make
   one batch, grouped by adapter; each group is one forward of the pulse network over the whole
   lattice (a torus, so circular padding is exact), and each bot takes its own tile's scores. A
   pulse sets alive the ``pulse.budget`` dead cells of the tile with the highest positive scores.

The batch reads the lattice, the energy and the adapters as they are at tick t. With
``pulse.lag`` 0 it is computed and applied at t. With lag L > 0 it is handed to a worker thread
(the forward releases the GIL, so it runs beside the loop) and applied, its ``pulse`` events
emitted, at tick t + L exactly, before that tick's own batch is taken; the loop waits for the
worker only if it is not done by then, so the run never depends on timing.
"""

from __future__ import annotations

from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from components.bot import Bot
from components.shard import Shard
from game.adapters import FrozenAdapter, PulseModel, vector_digest
from game.cells import Cell
from game.embedding import choose_device
from game.engine.beside import beside_the_loop
from game.engine.events import Adopt, Pulse, WaveStart
from game.engine.schedule import System
from game.engine.world import Purpose, Sim, stream
from game.errors import BadInput
from game.paths import project_path
from game.pulse import ARGMAX_BUDGET, lattice_features
from game.pulse_kernels import scripted
from game.shardnet import ShardNet
from game.topology import neighbours


class PulseSystem(System):
    """Batched pulses, grouped by adapter, and the LoRA wave (module docstring).

    :meth:`close` stops the worker thread of a run with ``pulse.lag`` > 0.
    """

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
        self.rng = stream(sim.config.seed, Purpose.PULSE_CONTROL)
        self._pulsed: list[Bot] = []
        # Snapshots of the adapters in use: resident adapters never change here (a wave only
        # adds new names), and taking one costs more than the rest of a small batch.
        self._frozen: dict[str, FrozenAdapter] = {}
        self._worker: ThreadPoolExecutor | None = None  # started by the first lagged batch
        self._due: deque[tuple[int, Batch, Future[Picks]]] = deque()  # oldest first
        self._outbox: list[tuple[int, Batch]] = []  # this tick's lagged batches

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
        self._apply_due(tick)
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
        """Make the batch: computed now (lag 0) or handed to the worker, due at tick + lag."""
        batch = self._batch(tick, bots)
        if self.cfg.lag == 0:
            self._apply(tick, batch, choose(batch))
            return
        self._outbox.append((tick + self.cfg.lag, batch))  # to the worker at the tick's end

    def hand_over(self) -> None:
        """Lagged batches made this tick go to the worker thread."""
        for due, batch in self._outbox:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pulse",
                                                  initializer=_one_core)
            self._due.append((due, batch, self._worker.submit(choose, batch)))
        self._outbox.clear()

    def _batch(self, tick: int, bots: list[Bot]) -> Batch:
        """The bots grouped by adapter, with everything the batch reads as of this tick."""
        sim, cfg = self.sim, self.cfg
        groups: dict[str, list[Bot]] = defaultdict(list)
        for bot in bots:
            assert bot.adapter is not None
            groups[bot.adapter].append(bot)
        ordered = [bot for members in groups.values() for bot in members]
        tile = sim.config.mesh.tile
        net = cfg.scorer == "net"
        # The control's draws are taken now, in the order the bots pulse: one call gives the
        # same numbers as one (tile, tile) call per bot.
        noise = None if net else (
            self.rng.random((len(ordered), tile * tile)).astype(np.float32) + 1e-3)
        spans = []
        at = 0
        for adapter, members in groups.items():
            if net and adapter not in self._frozen:
                self._frozen[adapter] = self.model.frozen(adapter)
            spans.append((self._frozen[adapter] if net else None, at, at + len(members)))
            at += len(members)
        return Batch(
            tick=tick, bots=ordered,
            labels=[(b.adapter or "") if net else "random" for b in ordered],
            rows=np.array([b.row for b in ordered], np.intp),
            cols=np.array([b.col for b in ordered], np.intp),
            spans=spans, tile=tile, budget=cfg.budget, alive=sim.substrate.alive.copy(),
            energy=sim.substrate.energy.copy() if net else None, noise=noise)

    def _apply_due(self, tick: int) -> None:
        """Apply the batches due this tick, waiting for the worker only if it is not done."""
        while self._due and self._due[0][0] <= tick:
            _, batch, future = self._due.popleft()
            self._apply(tick, batch, future.result())

    def _apply(self, tick: int, batch: Batch, picks: Picks) -> None:
        """Each bot of ``batch`` sets its chosen cells alive and pulses, this tick."""
        sim = self.sim
        alive = sim.substrate.alive
        if not alive[picks.ys, picks.xs].all():  # set_cells is a whole-lattice upload
            alive[picks.ys, picks.xs] = 1
            sim.backend.set_cells(alive)
        for bot, label, cells in zip(batch.bots, batch.labels, picks.counts.tolist(),
                                     strict=True):
            bot.pulses += 1
            bot.state = "pulsing"
            sim.events.emit(Pulse(tick=tick, bot=bot.cell, adapter=label, cells=cells))
        self._pulsed.extend(batch.bots)

    def close(self) -> None:
        """Stop the worker; batches still due after the last tick are dropped with the run."""
        self._due.clear()
        self._outbox.clear()
        if self._worker is not None:
            self._worker.shutdown(wait=True, cancel_futures=True)
            self._worker = None


@dataclass(frozen=True, slots=True)
class Batch:
    """One tick's pulses and all they read, so that any thread can compute them.

    ``bots`` pulse in this order (grouped by adapter, each group row-major); ``spans`` are the
    groups, ``(adapter, start, stop)`` into ``bots`` (adapter None for the random control, whose
    scores are ``noise``); ``alive`` and ``energy`` are copies of the lattice at ``tick``.
    """

    tick: int
    bots: list[Bot]
    labels: list[str]
    rows: npt.NDArray[np.intp]
    cols: npt.NDArray[np.intp]
    spans: list[tuple[FrozenAdapter | None, int, int]]
    tile: int
    budget: int
    alive: npt.NDArray[np.uint8]
    energy: npt.NDArray[np.float32] | None
    noise: npt.NDArray[np.float32] | None


@dataclass(frozen=True, slots=True)
class Picks:
    """A batch's result: the lattice cells to set alive, and how many each bot chose."""

    ys: npt.NDArray[np.intp]
    xs: npt.NDArray[np.intp]
    counts: npt.NDArray[np.intp]


def _one_core() -> None:
    """The worker's torch runs on one core, as a batch task (``beside_the_loop``).

    OpenMP's team size is per thread, so the loop's own torch calls keep theirs. A team of two
    beside a busy loop on two cores waits at every barrier for its descheduled half: a 5×5
    batch took 37 ms instead of 3.6 ms (p50).
    """
    torch.get_num_threads()  # torch sizes a thread's team on first use: let it, then shrink it
    threadpool_limits(1, user_api="openmp")
    beside_the_loop()


def choose(batch: Batch) -> Picks:
    """Score every pulsing tile (one forward per adapter) and pick each tile's best dead cells.

    Reads only ``batch``: the worker thread runs it. Its work is a few compiled calls
    (:mod:`game.pulse_kernels`), which run without the GIL whatever the batch's size.
    """
    tile = batch.tile
    alive = torch.from_numpy(batch.alive)
    rows, cols = torch.from_numpy(batch.rows), torch.from_numpy(batch.cols)
    if batch.noise is not None:
        scores = torch.from_numpy(batch.noise)
    else:
        assert batch.energy is not None
        energy = torch.from_numpy(batch.energy)
        parts = []
        x = None  # the whole lattice's features, made once if a group needs them
        for adapter, start, stop in batch.spans:
            assert adapter is not None
            at_rows, at_cols = rows[start:stop], cols[start:stop]
            if (stop - start) * (tile + 4) ** 2 < batch.alive.size:  # a few tiles: just those
                parts.append(adapter.tile_scores(alive, energy, tile, at_rows, at_cols).cpu())
                continue
            if x is None:
                x = lattice_features(batch.alive, batch.energy)
            wanted = np.zeros((batch.alive.shape[0] // tile, tile), np.bool_)
            wanted[batch.rows[start:stop]] = True  # the rows of this adapter's tiles only
            lattice = adapter.scores(x, wanted.reshape(-1))[0].cpu()
            parts.append(scripted("tiles")(lattice, tile, at_rows, at_cols))
        scores = torch.cat(parts)
    ys, xs, counts = scripted("picks")(scores, alive, rows, cols, tile, batch.budget,
                                       ARGMAX_BUDGET)
    return Picks(ys.numpy(), xs.numpy(), counts.numpy())
