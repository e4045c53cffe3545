"""``cybermesh sweep``: one scenario over seeds and parameter grids, in parallel, into one table.

A spec (YAML, see docs/sweeps.md) names a registered scenario, the seeds and a grid of
parameters: any config key (validated as ``--set`` validates it, with the same errors), a
parameter of the scenario, or ``mesh`` (``RxC``). Every run is independent and deterministic:
the scenario, its parameters, the seed and the run's whole config give the result, and the run
id is a hash of exactly those. Runs execute in local worker processes ("spawn", one thread each)
or as Ray tasks (``--ray``). Each finished run is appended to ``runs.csv`` at once (flushed and
synced); ``runs.parquet`` is rewritten from it at checkpoints and at the end. So a killed worker's
runs are retried, a killed sweep loses no finished run, and ``--resume`` skips them.

One job per module, in the order a sweep uses them:

- :mod:`game.sweep.scenarios`: the registered per-run functions (``soup``, ``persistence``,
  ``routing``, ``energy``), their parameters and metrics.
- :mod:`game.sweep.spec`: a spec decoded and checked, and :func:`~game.sweep.spec.load_plan`,
  the plan of every run it makes.
- :mod:`game.sweep.table`: the table on disk (``runs.csv``, ``runs.parquet``, ``sweep.json``)
  and its readers.
- :mod:`game.sweep.worker`: what runs in a worker: :func:`~game.sweep.worker.execute`, one
  attempt of one run, and the set-up of a local worker process.
- :mod:`game.sweep.pools`: where attempts run: local worker processes or Ray tasks.
- :mod:`game.sweep.run`: :func:`~game.sweep.run.run_sweep`: keeps a pool full, writes each row,
  retries; Ctrl-C and SIGTERM.
- :mod:`game.sweep.command`: the ``cybermesh sweep`` command and its throughput bench.
- :mod:`game.sweep.report`: the summary per parameter point and a plot per metric.
"""

from __future__ import annotations

from game.sweep.command import run_sweep_command
from game.sweep.run import SweepResult, run_sweep
from game.sweep.spec import load_plan

__all__ = ["SweepResult", "load_plan", "run_sweep", "run_sweep_command"]
