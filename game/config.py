"""Configuration: config/default.yaml decoded into msgspec Structs, then CLI overrides.

A wrong key or type is reported in one line naming the file, the key and the expected type:
``my.yaml: mesh.rows: expected int, got str``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec

from game.errors import BadInput, ConfigError
from game.files import read_bytes
from game.paths import CONFIG_DIR
from game.rle import MAX_CELLS

Backend = Literal["auto", "numpy", "gl", "reference"]

Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every config section: unknown keys are errors, not silently ignored."""


class LatticeConfig(_Section):
    """Tier 1 substrate: the rule, the backend and the initial state."""

    rule: str = "B3/S23"
    backend: Backend = "auto"
    soup_density: Fraction = 0.35
    pattern: str | None = None


class MeshConfig(_Section):
    """The R×C mesh of cells, each owning a T×T tile of the lattice."""

    rows: Positive = 5
    cols: Positive = 5
    tile: Positive = 16

    def __post_init__(self) -> None:
        # Checked here, not where the lattice is allocated, so an absurd mesh is a one-line
        # config error (exit 2) rather than a MemoryError from numpy (exit 1). msgspec turns
        # the ValueError into a ValidationError at `mesh`.
        width, height = self.cols * self.tile, self.rows * self.tile
        if width * height > MAX_CELLS:
            raise ValueError(
                f"{self.rows}x{self.cols} tiles of {self.tile}x{self.tile} make a {width}x{height}"
                f" lattice, too large (at most 2**28 = {MAX_CELLS} cells are supported)"
            )


class EnergyConfig(_Section):
    """The scalar energy field over the lattice."""

    birth_deposit: NonNegative = 1.0
    half_life: Annotated[float, msgspec.Meta(gt=0)] = 20.0
    diffusion: Annotated[float, msgspec.Meta(ge=0, le=0.25)] = 0.0
    shard_deposit: NonNegative = 0.25
    trail_deposit: NonNegative = 1.0
    trail_falloff: Fraction = 0.5


class LoopConfig(_Section):
    """The fixed-timestep loop's clamps against the spiral of death."""

    max_frame_time: Annotated[float, msgspec.Meta(gt=0)] = 0.25
    max_ticks_per_frame: Positive = 8
    view_tick_budget: Annotated[float, msgspec.Meta(ge=0)] = 0.05
    degrade: bool = True


class DetectConfig(_Section):
    """Pattern detection in the tick: separation, apgcodes, glider tracks."""

    enabled: bool = True
    lookahead: Annotated[int, msgspec.Meta(ge=1, le=64)] = 4
    max_period: Annotated[int, msgspec.Meta(ge=1, le=10000)] = 64
    budget: Annotated[int, msgspec.Meta(ge=0)] = 512
    every: Positive = 16
    worker: bool = True


class EmbedConfig(_Section):
    """Tier 2 embeddings: which encoder, on which device, at which precision, behind a cache."""

    backend: Literal["sentence-transformers", "ollama"] = "sentence-transformers"
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["fp32", "int8"] = "fp32"
    batch_size: Positive = 32
    cache_size: Annotated[int, msgspec.Meta(ge=0)] = 4096
    ollama_url: str = "http://127.0.0.1:11434"
    ollama_model: str = "nomic-embed-text"
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    lag: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 2


Router = Literal["shortest", "semantic"]


class RouteConfig(_Section):
    """Tier 2 routing: the router, bots' queues and capacity, and the link layer's faults."""

    router: Router = "shortest"
    ttl: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    inbox: Positive = 16
    admit: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.5
    capacity: Positive = 2
    loss: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.0
    max_retries: Annotated[int, msgspec.Meta(ge=0)] = 8
    stall_ticks: Positive = 64
    horizon: Positive = 4
    hints: bool = False
    confidence: Annotated[float, msgspec.Meta(ge=-1, le=1)] = 0.35
    transport: Literal["link", "glider", "mixed"] = "link"
    glider_min_leg: Positive = 3
    down: list[tuple[int, int]] = msgspec.field(default_factory=list)


class TrafficConfig(_Section):
    """Shards spawned by the run itself: uniform traffic from the memory corpus."""

    rate: NonNegative = 0.0
    memories_per_bot: Positive = 4


class PulseConfig(_Section):
    """Tier 3: the pulse network, its LoRA adapters, and when bots pulse."""

    enabled: bool = False
    budget: Annotated[int, msgspec.Meta(ge=0, le=4096)] = 8
    every: Annotated[int, msgspec.Meta(ge=0)] = 0
    lag: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 2
    adapter: str = ""
    scorer: Literal["net", "random"] = "net"
    adapters: str = "assets/adapters"
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"


class LogConfig(_Section):
    """What the event log records beyond the events systems emit."""

    population_every: Annotated[int, msgspec.Meta(ge=0)] = 0


class ServeConfig(_Section):
    """Where the web mirror listens, how often it sends frames, who may control the run."""

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8765
    token: str = ""
    fps: Annotated[float, msgspec.Meta(ge=1, le=120)] = 30.0
    keyframe_every: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    client_queue: Annotated[int, msgspec.Meta(ge=1, le=64)] = 4
    send_buffer: Annotated[int, msgspec.Meta(ge=0, le=16 * 2**20)] = 16384
    heartbeat: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0
    max_message: Annotated[int, msgspec.Meta(ge=64, le=65536)] = 4096
    origins: list[str] = msgspec.field(default_factory=list)


class Config(_Section):
    """The whole configuration of a run."""

    seed: Annotated[int, msgspec.Meta(ge=0)] = 0
    tick_rate: Annotated[float, msgspec.Meta(gt=0, le=100000)] = 30.0
    lattice: LatticeConfig = msgspec.field(default_factory=LatticeConfig)
    mesh: MeshConfig = msgspec.field(default_factory=MeshConfig)
    energy: EnergyConfig = msgspec.field(default_factory=EnergyConfig)
    detect: DetectConfig = msgspec.field(default_factory=DetectConfig)
    loop: LoopConfig = msgspec.field(default_factory=LoopConfig)
    embed: EmbedConfig = msgspec.field(default_factory=EmbedConfig)
    route: RouteConfig = msgspec.field(default_factory=RouteConfig)
    traffic: TrafficConfig = msgspec.field(default_factory=TrafficConfig)
    pulse: PulseConfig = msgspec.field(default_factory=PulseConfig)
    log: LogConfig = msgspec.field(default_factory=LogConfig)
    serve: ServeConfig = msgspec.field(default_factory=ServeConfig)


DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
_EXPECTED = re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`")


def _choices(dotted: str) -> tuple[str, ...]:
    """The allowed values of a Literal-typed config key (empty for any other key)."""
    struct: Any = Config
    field_type: Any = None
    for part in dotted.split("."):
        fields = {f.name: f.type for f in msgspec.structs.fields(struct)} if isinstance(
            struct, type) and issubclass(struct, msgspec.Struct) else {}
        if part not in fields:
            return ()
        field_type = struct = fields[part]
    if get_origin(field_type) is Literal:
        return tuple(str(a) for a in get_args(field_type))
    return ()


def decode_error_line(source: str, err: msgspec.MsgspecError) -> str:
    """Turn msgspec's message into ``source: key: problem`` on one line."""
    text = str(err).splitlines()[0]
    m = _AT.match(text)
    msg, path = (m.group("msg"), m.group("path")) if m else (text, None)
    key = path.lstrip(".").replace("[", ".").replace("]", "") if path else ""
    exp = _EXPECTED.search(msg)
    if exp:
        msg = f"expected {exp.group('want')}, got {exp.group('got')}"
    unknown = re.match(r"Object contains unknown field `([^`]+)`", msg)
    if unknown:
        full = f"{key}.{unknown.group(1)}" if key else unknown.group(1)
        return f"{source}: unknown key {full!r}"
    msg = (msg[0].lower() + msg[1:]).replace("`", "") if msg else msg
    if msg.startswith("invalid enum value"):
        choices = _choices(key)
        if choices:
            msg += f" (expected one of {', '.join(choices)})"
    return f"{source}: {key}: {msg}" if key else f"{source}: {msg}"


# PyYAML reports most problems as YAMLError (msgspec's DecodeError), but a scalar it cannot
# construct escapes as the conversion's own error: `2001-13-45` and `!!int abc` (ValueError),
# `!!bool maybe` (KeyError), `!!int +` (IndexError), an int of over 4300 digits (ValueError).
_YAML_ERRORS = (msgspec.DecodeError, ValueError, LookupError)


def _yaml_problem(err: Exception) -> str:
    """The first line of a YAML error; for a scalar's own error, which kind it was too."""
    first = (str(err).splitlines() or [""])[0]
    if isinstance(err, msgspec.DecodeError):
        return first
    return f"a value cannot be read ({type(err).__name__}: {first})"


def decode_yaml(data: bytes | str, source: str, error: type[BadInput] = ConfigError) -> Any:
    """YAML text decoded; any problem is one ``error`` line naming ``source``."""
    try:
        return msgspec.yaml.decode(data)
    except _YAML_ERRORS as err:
        raise error(f"{source}: not valid YAML: {_yaml_problem(err)}") from None


def decode_config(data: bytes | str, source: str) -> Config:
    """Decode YAML text into a :class:`Config`; raises :class:`ConfigError` on any problem."""
    raw = decode_yaml(data, source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    try:
        return msgspec.convert(raw, Config)
    except msgspec.ValidationError as err:
        raise ConfigError(decode_error_line(source, err)) from None


def load_config(path: str | Path | None = None) -> Config:
    """Load ``path`` over the built-in defaults (the default file when ``path`` is None)."""
    file = Path(path) if path is not None else DEFAULT_CONFIG
    data = read_bytes(file, "a config file", ConfigError)
    return decode_config(data, str(file))


def override(config: Config, dotted: str, value: Any, source: str = "command line") -> Config:
    """Return a copy of ``config`` with ``dotted`` (e.g. ``mesh.rows``) set to ``value``.

    The value is converted with the same rules as the file, so a flag gets the same errors.
    """
    raw = msgspec.to_builtins(config)
    node: dict[str, Any] = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            raise ConfigError(f"{source}: unknown key {dotted!r}")
        node = child
    if parts[-1] not in node:
        raise ConfigError(f"{source}: unknown key {dotted!r}")
    node[parts[-1]] = value
    try:
        return msgspec.convert(raw, Config, strict=False)
    except msgspec.ValidationError as err:
        raise ConfigError(decode_error_line(source, err)) from None


def parse_set(item: str, config: Config) -> Config:
    """Apply one ``--set key=value`` item; the value is read as YAML (``3``, ``0.5``, ``gl``)."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. mesh.rows=3")
    try:
        value = msgspec.yaml.decode(text) if text else None
    except _YAML_ERRORS:
        value = text
    return override(config, key.strip(), value, source=f"--set {key.strip()}")


def config_keys(struct: type[msgspec.Struct] = Config, prefix: str = "") -> list[str]:
    """Every dotted key of the configuration, for the spec-drift check and the docs."""
    keys: list[str] = []
    for field in msgspec.structs.fields(struct):
        name = f"{prefix}{field.name}"
        sub = field.type
        if isinstance(sub, type) and issubclass(sub, msgspec.Struct):
            keys.extend(config_keys(sub, name + "."))
        else:
            keys.append(name)
    return keys


# What changes only pacing or where a run runs, never what it computes: left out of the
# config an event log carries (determinism holds across backends and tick rates).
_NOT_LOGGED: tuple[str, ...] = ("tick_rate", "loop", "serve", "lattice.backend")


def logged_config(config: Config) -> dict[str, Any]:
    """``config`` as the event log's ``start`` event carries it (see :data:`_NOT_LOGGED`)."""
    data: dict[str, Any] = msgspec.to_builtins(config)
    for dotted in _NOT_LOGGED:
        *path, last = dotted.split(".")
        section = data
        for key in path:
            section = section[key]
        section.pop(last, None)
    return data


def config_from_log(data: dict[str, Any], source: str) -> Config:
    """The config of a logged run (its ``start`` event's ``config``), defaults for the rest.

    Raises :class:`ConfigError` in one line for a config this version does not understand.
    """
    try:
        return msgspec.convert(data, Config)
    except msgspec.ValidationError as err:
        raise ConfigError(decode_error_line(source, err)) from None
