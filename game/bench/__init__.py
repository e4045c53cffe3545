"""The headless benchmarks behind ``cybermesh bench``: one module per scenario.

:mod:`game.bench.registry` maps each scenario's name to its function and printer,
:mod:`game.bench.runner` runs one and writes the report, :mod:`game.bench.plots` draws the full
scenario's PNGs, and :mod:`game.bench.scenario` holds the types they share.
"""
