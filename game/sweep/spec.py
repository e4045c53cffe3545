"""A sweep spec: its YAML decoded and checked, and the plan of every run it makes.

:func:`load_plan` reads a spec (docs/sweeps.md) and resolves each key of its ``set`` and
``grid``: a config key (validated as ``--set`` validates it, with the same errors), a parameter
of the scenario, or ``mesh`` (``RxC``). The runs are numbered seeds outer, grid points inner; a
run's id is a hash of its scenario, parameters, seed and whole config. Every problem is one
:class:`~game.errors.BadInput` line, raised before anything runs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec

from game.config import (
    Config,
    config_keys,
    decode_error_line,
    decode_yaml,
    load_config,
    logged_config,
    override,
)
from game.errors import BadInput
from game.files import read_bytes
from game.sweep.scenarios import SCENARIOS, Scenario


class SeedRange(msgspec.Struct, forbid_unknown_fields=True):
    """The seeds ``start``, ``start + 1``, ..., ``stop - 1``."""

    start: Annotated[int, msgspec.Meta(ge=0)]
    stop: Annotated[int, msgspec.Meta(ge=1)]


class Faults(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Failures to inject, for testing the sweep's failure handling (docs/sweeps.md).

    ``kill``: runs whose first attempt kills its own worker process (SIGKILL). ``fail``: run ->
    how many of its first attempts raise an exception.
    """

    kill: list[Annotated[int, msgspec.Meta(ge=0)]] = msgspec.field(default_factory=list)
    fail: dict[int, Annotated[int, msgspec.Meta(ge=1)]] = msgspec.field(default_factory=dict)


class SpecFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A sweep spec as written in YAML (docs/sweeps.md)."""

    scenario: str
    seeds: Annotated[int, msgspec.Meta(ge=1)] | list[Annotated[int, msgspec.Meta(ge=0)]] | SeedRange
    config: str | None = None
    set: dict[str, Any] = msgspec.field(default_factory=dict)
    grid: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    metrics: list[str] | None = None
    retries: Annotated[int, msgspec.Meta(ge=0, le=100)] = 2
    faults: Faults = msgspec.field(default_factory=Faults)


#: The most runs one spec may make (each is a row, and a task kept in memory).
MAX_RUNS = 1_000_000
#: Columns of every table, before the parameters and after the metrics.
HEAD = (("run", "int"), ("run_id", "str"), ("seed", "int"))
TAIL = (("status", "str"), ("error", "str"), ("attempt", "int"), ("wall_s", "float"),
        ("worker", "str"))
#: The grid key that sets mesh.rows and mesh.cols together.
MESH = "mesh"


@dataclass(frozen=True, slots=True)
class Point:
    """One point of the grid: its column values, config and scenario parameters."""

    values: dict[str, Any]
    config: dict[str, Any]
    params: dict[str, Any]
    digest: str


@dataclass(frozen=True, slots=True)
class Run:
    """One run: a seed at a point, numbered in the spec's order (seeds outer, points inner)."""

    index: int
    run_id: str
    seed: int
    point: int


@dataclass(slots=True)
class Plan:
    """A validated spec: every run it makes, and the table's columns."""

    source: str
    text: str
    scenario: Scenario
    spec: SpecFile
    params: list[tuple[str, str]]
    points: list[Point]
    runs: list[Run]
    plot: list[str]

    @property
    def name(self) -> str:
        """The spec's file name without its suffix."""
        return Path(self.source).stem

    @property
    def columns(self) -> list[tuple[str, str]]:
        """Every column of the table with its kind: int, float, bool or str."""
        metrics = [(m, "float") for m in self.scenario.metrics]
        return [*HEAD, *self.params, *metrics, *TAIL]


def _decode_yaml(data: bytes, source: str) -> dict[str, Any]:
    raw = decode_yaml(data, source, BadInput)
    if not isinstance(raw, dict):
        raise BadInput(f"{source}: expected a mapping of keys (scenario, seeds, grid, ...)")
    return raw


def _seeds(spec: SpecFile, source: str) -> list[int]:
    s = spec.seeds
    if isinstance(s, int):
        return list(range(s))
    if isinstance(s, SeedRange):
        if s.stop <= s.start:
            raise BadInput(f"{source}: seeds: empty range {s.start}..{s.stop} (stop must be "
                           "more than start)")
        return list(range(s.start, s.stop))
    if not s:
        raise BadInput(f"{source}: seeds: empty list")
    if len(set(s)) != len(s):
        raise BadInput(f"{source}: seeds: a seed is listed twice")
    return list(s)


def _mesh(value: Any, where: str) -> tuple[int, int]:
    rows, sep, cols = str(value).lower().partition("x")
    try:
        r, c = int(rows), int(cols)
    except ValueError:
        r = c = 0
    if not sep or r < 1 or c < 1 or isinstance(value, bool):
        raise BadInput(f"{where}: mesh: expected ROWSxCOLS, e.g. 5x5, got {value!r}")
    return r, c


def _lookup(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node[part]
    return node


class _Resolver:
    """Applies one key's value: to the config, the scenario's parameters or the mesh."""

    def __init__(self, scenario: Scenario, source: str) -> None:
        self.scenario = scenario
        self.source = source
        self.param_names = [f.name for f in msgspec.structs.fields(scenario.params)]
        self.config_keys = set(config_keys())

    def known(self, key: str, where: str) -> None:
        if key == "seed":
            raise BadInput(f"{self.source}: {where}.seed: the seeds come from `seeds`")
        if key in self.config_keys or key in self.param_names or key == MESH:
            return
        raise BadInput(
            f"{self.source}: {where}.{key}: unknown parameter (not a config key, nor `mesh`, "
            f"nor a parameter of scenario {self.scenario.name}: "
            f"{', '.join(self.param_names)})")

    def apply(self, config: Config, params: dict[str, Any], key: str, value: Any,
              where: str) -> tuple[Config, Any]:
        """Apply ``key: value``; returns the new config and the value as the table stores it."""
        if key == MESH:
            rows, cols = _mesh(value, f"{self.source}: {where}")
            config = override(config, "mesh.rows", rows, f"{self.source}: {where}")
            return override(config, "mesh.cols", cols, f"{self.source}: {where}"), f"{rows}x{cols}"
        if key in self.param_names:
            try:
                typed = msgspec.convert({**params, key: value}, self.scenario.params)
            except msgspec.ValidationError as err:
                raise BadInput(decode_error_line(f"{self.source}: {where}", err)) from None
            params[key] = msgspec.to_builtins(typed)[key]
            return config, params[key]
        config = override(config, key, value, f"{self.source}: {where}")
        return config, _lookup(msgspec.to_builtins(config), key)


def _kind(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if any(isinstance(v, bool) for v in values):
        return "str"
    if all(isinstance(v, int) for v in values):
        return "int"
    if all(isinstance(v, int | float) for v in values):
        return "float"
    return "str"


def _column_value(value: Any, kind: str) -> Any:
    if kind == "float":
        return float(value)
    if kind == "str" and not isinstance(value, str):
        return json.dumps(value, sort_keys=True)  # a list (route.down) is one JSON text
    return value


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def load_plan(path: str | Path) -> Plan:
    """Read and validate a spec; every problem is one :class:`BadInput` line naming it."""
    source = str(path)
    data = read_bytes(path, "a sweep spec")
    try:
        spec = msgspec.convert(_decode_yaml(data, source), SpecFile)
    except msgspec.ValidationError as err:
        raise BadInput(decode_error_line(source, err)) from None
    if spec.scenario not in SCENARIOS:
        raise BadInput(f"{source}: scenario {spec.scenario!r} is not one of "
                       f"{', '.join(sorted(SCENARIOS))}")
    scenario = SCENARIOS[spec.scenario]
    seeds = _seeds(spec, source)
    config = _base_config(spec, Path(source), scenario)
    resolve = _Resolver(scenario, source)
    params: dict[str, Any] = {}
    for key, value in spec.set.items():
        resolve.known(key, "set")
        config, _ = resolve.apply(config, params, key, value, "set")
    grid = _grid(spec, source, resolve)
    _no_overlap(source, [*spec.set, *grid])
    columns: list[tuple[str, str]] = []
    normal: dict[str, list[Any]] = {}
    for key, values in grid.items():
        stored = [resolve.apply(config, dict(params), key, v, "grid")[1] for v in values]
        kind = _kind(stored)
        columns.append((key, kind))
        normal[key] = [_column_value(v, kind) for v in stored]
    count = len(seeds) * math.prod(len(v) for v in grid.values())
    if count > MAX_RUNS:
        raise BadInput(f"{source}: {count:,} runs: at most {MAX_RUNS:,} in one sweep")
    points = [_point(resolve, config, params, dict(zip(grid, raw, strict=True)),
                     dict(zip(normal, vals, strict=True)))
              for raw, vals in zip(itertools.product(*grid.values()),
                                   itertools.product(*normal.values()), strict=True)]
    runs = [Run(i, _digest(points[p].digest, seed)[:16], seed, p)
            for i, (seed, p) in enumerate(itertools.product(seeds, range(len(points))))]
    plot = _plot_metrics(spec, source, scenario)
    _check_faults(spec, source, len(runs))
    return Plan(source, data.decode("utf-8", "replace"), scenario, spec, columns, points, runs,
                plot)


def _base_config(spec: SpecFile, source: Path, scenario: Scenario) -> Config:
    """The config file (relative to the spec's folder), then the scenario's settings."""
    file = None
    if spec.config is not None:
        file = Path(spec.config) if Path(spec.config).is_absolute() else source.parent / spec.config
    config = load_config(file)
    for key, value in scenario.base:
        config = override(config, key, value, f"scenario {scenario.name}")
    return config


def _grid(spec: SpecFile, source: str, resolve: _Resolver) -> dict[str, list[Any]]:
    if spec.grid is msgspec.UNSET:
        return {}
    if not spec.grid:
        raise BadInput(f"{source}: grid: empty (leave it out to sweep the seeds alone)")
    out: dict[str, list[Any]] = {}
    for key, values in spec.grid.items():
        resolve.known(key, "grid")
        if not isinstance(values, list):
            raise BadInput(f"{source}: grid.{key}: expected a list of values, got "
                           f"{type(values).__name__} {values!r}")
        if not values:
            raise BadInput(f"{source}: grid.{key}: empty list of values")
        out[key] = values
    return out


def _no_overlap(source: str, keys: list[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise BadInput(f"{source}: {key} is both in set and in grid")
        seen.add(key)
    if MESH in seen and seen & {"mesh.rows", "mesh.cols"}:
        raise BadInput(f"{source}: mesh and mesh.rows / mesh.cols both given")


def _point(resolve: _Resolver, config: Config, params: dict[str, Any], raw: dict[str, Any],
           values: dict[str, Any]) -> Point:
    """One grid point, checked as a whole (a mesh too large for its tile is an error here)."""
    params = dict(params)
    where = "grid point " + ", ".join(f"{k}={v}" for k, v in values.items())
    for key, value in raw.items():
        config, _ = resolve.apply(config, params, key, value, where)
    scenario = resolve.scenario
    typed = msgspec.convert(params, scenario.params)
    if scenario.check is not None:
        problem = scenario.check(config, typed)
        if problem:
            raise BadInput(f"{resolve.source}: {where if values else 'set'}: {problem}")
    config = override(config, "seed", 0)  # each run sets its own; the id hashes it separately
    builtins = msgspec.to_builtins(config)
    params_out = msgspec.to_builtins(typed)
    return Point(values, builtins, params_out,
                 _digest(scenario.name, params_out, logged_config(config)))


def _plot_metrics(spec: SpecFile, source: str, scenario: Scenario) -> list[str]:
    if spec.metrics is None:
        return list(scenario.headline)
    if not spec.metrics:
        raise BadInput(f"{source}: metrics: empty list (leave it out for "
                       f"{', '.join(scenario.headline)})")
    for m in spec.metrics:
        if m not in scenario.metrics:
            raise BadInput(f"{source}: metrics: unknown metric {m!r} (scenario "
                           f"{scenario.name} has {', '.join(scenario.metrics)})")
    return list(spec.metrics)


def _check_faults(spec: SpecFile, source: str, runs: int) -> None:
    for run in [*spec.faults.kill, *spec.faults.fail]:
        if not 0 <= run < runs:
            raise BadInput(f"{source}: faults: run {run} does not exist (runs are 0..{runs - 1})")
