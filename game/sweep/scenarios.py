"""The sweep's scenarios: the registered per-run functions, their parameters and metrics.

A scenario is a function ``(config, seed, params) -> metrics``, registered with
:func:`_scenario` under its name, with a msgspec struct of the parameters a spec may set, the
metrics it returns and the config it starts from. The per-run work is the project's real
simulation code: :func:`game.bench.pulse.run_soup`, :func:`game.bench.routing.run_burst` with
:func:`~game.bench.routing.summarise` and :func:`game.bench.energy.run_pair`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec

from game.config import Config
from game.paths import project_path

Metrics = dict[str, float | int | None]


class _Params(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of a scenario's parameters: an unknown name is an error, not ignored."""


# The settled-cell measure reads the last three generations.
Ticks = Annotated[int, msgspec.Meta(ge=3, le=1_000_000)]


class SoupParams(_Params):
    """``soup``: ticks the soup runs."""

    ticks: Ticks = 200


class PersistenceParams(_Params):
    """``persistence``: ticks, and the pulse mode (``none``, ``random`` or an adapter's name)."""

    ticks: Ticks = 200
    mode: str = "rule_persist"


class RoutingParams(_Params):
    """``routing``: shards spawned at once."""

    shards: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 16


class EnergyParams(_Params):
    """``energy``: shards per side, the popular topics' share of them, shards spawned a tick."""

    shards: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 200
    skew: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.8
    rate: Annotated[float, msgspec.Meta(gt=0, le=10_000)] = 2.0


RunFn = Callable[[Config, int, Any], Metrics]
CheckFn = Callable[[Config, Any], str | None]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A registered per-run function and what a spec may say about it."""

    name: str
    run: RunFn
    params: type[_Params]
    metrics: tuple[str, ...]
    #: The metrics printed and plotted unless the spec's ``metrics`` names others.
    headline: tuple[str, ...]
    #: Config overrides applied over the config file, before the spec's ``set`` and grid.
    base: tuple[tuple[str, Any], ...]
    check: CheckFn | None = None


SCENARIOS: dict[str, Scenario] = {}

# The lattice backend never changes a result (every backend is bit-exact), but `auto` would make
# each worker on a GPU node build a GL context: numpy is the fast CPU path for many small runs.
_COMMON: tuple[tuple[str, Any], ...] = (
    ("lattice.backend", "numpy"), ("detect.enabled", False), ("traffic.rate", 0.0))


def _scenario(name: str, params: type[_Params], metrics: tuple[str, ...],
              headline: tuple[str, ...], base: tuple[tuple[str, Any], ...] = (),
              check: CheckFn | None = None) -> Callable[[RunFn], RunFn]:
    def register(run: RunFn) -> RunFn:
        SCENARIOS[name] = Scenario(name, run, params, metrics, headline, _COMMON + base, check)
        return run
    return register


SOUP_METRICS = ("settled", "live", "births")


@_scenario("soup", SoupParams, SOUP_METRICS, ("settled",), (("pulse.enabled", False),))
def soup(config: Config, seed: int, params: SoupParams) -> Metrics:
    """A random soup alone, no tier 2 or 3: the persistence experiment's no-pulse arm."""
    from game.bench.pulse import run_soup

    result = run_soup(config, seed, params.ticks, "none")
    return {k: result[k] for k in SOUP_METRICS}


def _adapter_on_disk(folder: Path, name: str) -> bool:
    # game.adapters.adapter_names says the same, but importing it imports torch and peft (~3 s):
    # too slow for checking a spec, which must fail in milliseconds.
    return (folder / name / "adapter_config.json").is_file()


def _check_mode(config: Config, params: PersistenceParams) -> str | None:
    folder = project_path(config.pulse.adapters)
    if params.mode in ("none", "random") or _adapter_on_disk(folder, params.mode):
        return None
    return (f"mode: {params.mode!r} is neither none, random nor an adapter saved under "
            f"{config.pulse.adapters}")


PERSISTENCE_METRICS = (*SOUP_METRICS, "pulses")


@_scenario("persistence", PersistenceParams, PERSISTENCE_METRICS, ("settled",),
           (("pulse.enabled", True), ("pulse.every", 10)), _check_mode)
def persistence(config: Config, seed: int, params: PersistenceParams) -> Metrics:
    """One soup of the persistence experiment with one pulse mode (bench_pulse.run_soup)."""
    from game.bench.pulse import run_soup

    result = run_soup(config, seed, params.ticks, params.mode)
    return {k: result[k] for k in PERSISTENCE_METRICS}


ROUTING_METRICS = ("delivery_rate", "delivered", "expired", "dropped", "in_flight", "hops_mean",
                   "stretch_mean", "stretch_max", "latency_p50", "latency_p95", "ticks",
                   "to_most_similar")


@_scenario("routing", RoutingParams, ROUTING_METRICS, ("delivery_rate",))
def routing(config: Config, seed: int, params: RoutingParams) -> Metrics:
    """One burst of uniform traffic until every shard has ended (bench_routing.run_burst)."""
    from game.bench.routing import run_burst, summarise

    ledger, sim, info = run_burst(config, params.shards)
    try:
        report = summarise(ledger, sim)
    finally:
        sim.close()
    report["dropped"] = sum(report["dropped"].values())
    report["ticks"] = info["ticks"]
    # The judge of the semantic router only: a shortest-path shard has a target of its own.
    return {k: report.get(k) for k in ROUTING_METRICS}


ENERGY_SIDE = ("hops_mean", "hops_p95", "delivered", "to_most_similar", "expired", "loops",
               "unended")
ENERGY_METRICS = (*(f"{k}_{s}" for s in ("off", "on") for k in ENERGY_SIDE), "hops_change",
                  "best_change")


@_scenario("energy", EnergyParams, ENERGY_METRICS, ("hops_change",))
def energy(config: Config, seed: int, params: EnergyParams) -> Metrics:
    """The semantic router with energy hints off and on, same shards (bench_energy.run_pair).

    ``hops_change`` is the change in mean hops with hints (negative: fewer), ``best_change``
    the change in the share delivered to the most similar bot. Times per tick are left out: a
    sweep's table holds what the seed and parameters determine.
    """
    from game.bench.energy import run_pair

    off, on = run_pair(config, params.skew, params.shards, params.rate)
    out: Metrics = {f"{k}_{side}": r[k] for side, r in (("off", off), ("on", on))
                    for k in ENERGY_SIDE}
    out["hops_change"] = on["hops_mean"] / off["hops_mean"] - 1 if off["hops_mean"] else 0.0
    out["best_change"] = on["to_most_similar"] - off["to_most_similar"]
    return out
