"""The ``cybermesh`` console script: one parser, one subcommand per run mode.

Exit codes: 0 ok, 2 bad input (one line on stderr, no traceback), 1 internal error.
Each subcommand's module is imported on its own path only: the detection stack (scipy), torch,
moderngl and aiohttp load where they are needed, so ``cybermesh --help`` and ``cybermesh ca``
start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from game.errors import BadInput, one_line

if TYPE_CHECKING:
    from game.config import Config

PROG = "cybermesh"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = _nonneg_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _port(text: str) -> int:
    value = _nonneg_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {value}")
    return value


def _pair(text: str, form: str, example: str) -> tuple[int, int]:
    """Two positive whole numbers written ``AxB`` (``form`` and ``example`` name them)."""
    a, sep, b = text.lower().partition("x")
    bad = argparse.ArgumentTypeError(f"expected {form}, e.g. {example}, got {text!r}")
    try:
        first, second = int(a), int(b)
    except ValueError:
        raise bad from None
    if not sep or first <= 0 or second <= 0:
        raise bad
    return first, second


def _seed_range(text: str) -> tuple[int, int]:
    """``A:B``: the seeds A, A+1, ..., B-1 (as Python's ranges)."""
    a, sep, b = text.partition(":")
    bad = argparse.ArgumentTypeError(f"expected A:B with 0 <= A < B, e.g. 0:100, got {text!r}")
    try:
        first, stop = int(a), int(b)
    except ValueError:
        raise bad from None
    if not sep or first < 0 or stop <= first:
        raise bad
    return first, stop


def _torus(text: str) -> tuple[int, int]:
    return _pair(text, "WIDTHxHEIGHT", "80x80")


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"a loss probability is in [0, 1), got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
    return value


def _cell(text: str) -> tuple[int, int]:
    r, sep, c = text.partition(",")
    try:
        row, col = int(r), int(c)
    except ValueError:
        row = col = -1
    if not sep or row < 0 or col < 0:
        raise argparse.ArgumentTypeError(f"expected ROW,COL of a bot, e.g. 1,2, got {text!r}")
    return row, col


def _mesh(text: str) -> tuple[int, int]:
    return _pair(text, "ROWSxCOLS", "5x5")


#: The smallest tile the bench builds: a glider, a pulse's budget and a link's wire need room.
MIN_TILE = 8


def _tile(text: str) -> int:
    value = _nonneg_int(text)
    if value < MIN_TILE:
        raise argparse.ArgumentTypeError(
            f"a tile is at least {MIN_TILE} cells a side (gliders and pulses need room), "
            f"got {value}")
    return value


def _mesh_list(text: str) -> list[tuple[int, int]]:
    """Comma-separated meshes, e.g. ``5x5,16x16,64x64``."""
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(
            f"expected meshes ROWSxCOLS separated by commas, e.g. 5x5,16x16, got {text!r}")
    return [_mesh(p) for p in parts]


def _count_list(text: str) -> list[int]:
    """Comma-separated whole numbers, e.g. ``0,250,1000``."""
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by commas, e.g. 0,250,1000, got {text!r}")
    return [_nonneg_int(p) for p in parts]


BACKEND_CHOICES = ("auto", "numpy", "gl", "reference")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Flags every subcommand that runs the simulation takes."""
    g = p.add_argument_group("run options")
    g.add_argument("--config", metavar="FILE", help="YAML config (default: config/default.yaml)")
    g.add_argument("--seed", type=_nonneg_int, metavar="N", help="seed of the run's one rng")
    g.add_argument("--events", metavar="FILE", help="write the JSONL event log to FILE")
    g.add_argument("--backend", choices=BACKEND_CHOICES, help="lattice backend (default: auto)")
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set mesh.rows=3 (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full ``cybermesh`` argument parser."""
    parser = _Parser(
        prog=PROG,
        description="CyberMesh: a Life substrate, embedding shards and a LoRA wave on one mesh.",
    )
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="print the version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    ca = sub.add_parser(
        "ca",
        help="run an RLE pattern on its torus for N generations",
        description="Run the pattern in IN.rle on the torus named by its header "
        "(rule = B3/S23:TW,H) and write the result as RLE.",
    )
    ca.add_argument("input", metavar="IN.rle", help="pattern file (Golly RLE)")
    ca.add_argument("--gens", type=_nonneg_int, required=True, metavar="N", help="generations")
    ca.add_argument("--backend", choices=BACKEND_CHOICES, default="auto", help="default: auto")
    ca.add_argument("--out", metavar="OUT.rle", help="write the result here (default: stdout)")
    ca.add_argument(
        "--torus",
        type=_torus,
        metavar="WxH",
        help="torus size when the header has no :T suffix (overrides it otherwise)",
    )
    ca.add_argument("--quiet", action="store_true", help="no summary line or progress bar")

    detect = sub.add_parser(
        "detect",
        help="census of the objects in an RLE pattern",
        description="Separate the pattern into objects and name each by its apgcode (still "
        "lifes xs, oscillators xp, spaceships xq); objects that do not settle are 'unsettled'.",
    )
    detect.add_argument("input", metavar="IN.rle", help="pattern file (Golly RLE)")
    detect.add_argument("--json", action="store_true", help="print JSON: census and objects")
    detect.add_argument(
        "--torus", type=_torus, metavar="WxH",
        help="torus size (default: the header's :T suffix, else the plane)",
    )
    detect.add_argument("--max-period", type=_positive_int, default=1000, metavar="N",
                        help="longest period to recognise (default 1000)")
    detect.add_argument("--horizon", type=_positive_int, default=64, metavar="N",
                        help="generations ahead in which interacting objects are joined "
                        "(default 64)")

    replay = sub.add_parser(
        "replay",
        help="run a logged run again and report its first divergence",
        description="Re-run the run an event log records (its start event's config and its "
        "input events) and compare the logs line by line. Exit 0 when they match, 1 at the "
        "first divergence (its tick and both lines), 2 for a log that cannot be replayed.",
    )
    replay.add_argument("events", metavar="EVENTS.jsonl", help="the event log of the run")
    replay.add_argument("--backend", choices=BACKEND_CHOICES, default="auto",
                        help="lattice backend of the replay (default: auto)")
    replay.add_argument("--quiet", action="store_true", help="no progress bar")

    serve = sub.add_parser(
        "serve",
        help="headless simulation with the web mirror",
        description="Run the simulation headless at its tick rate, with a live status line and "
        "the web mirror (GET /healthz, GET /api/state).",
    )
    serve.add_argument("--host", default=None, help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=None, help="port (default 8765; 0 = free)")
    serve.add_argument("--ticks", type=_nonneg_int, metavar="N", help="stop after N ticks")
    serve.add_argument("--no-web", action="store_true", help="do not start the web mirror")
    serve.add_argument("--token", default=None,
                       help="the control token (default: serve.token, else a random one)")
    _add_run_options(serve)

    view = sub.add_parser(
        "view",
        help="the native OpenGL viewer, driven from the keyboard",
        description="Open a window on the run: the lattice, bots, shards, gliders and energy, "
        "with keyboard control (H in the window lists the keys) and the web mirror alongside. "
        "Needs a display; without one it exits 2 (use `cybermesh serve`).",
    )
    view.add_argument("--host", default=None, help="web mirror address (default: 127.0.0.1)")
    view.add_argument("--port", type=_port, default=None,
                      help="web mirror port (default 8765; 0 = free)")
    view.add_argument("--no-web", action="store_true", help="do not start the web mirror")
    view.add_argument("--token", default=None,
                      help="the mirror's control token (default: serve.token, else random)")
    view.add_argument("--ticks", type=_nonneg_int, metavar="N", help="close after N ticks")
    view.add_argument("--size", type=_torus, default=None, metavar="WxH",
                      help="window size in screen coordinates (default 1280x800)")
    _add_run_options(view)

    bench = sub.add_parser(
        "bench",
        help="headless benchmark",
        description="Measure a scenario and print a table (and JSON with --json).",
    )
    bench.add_argument("--scenario", default="ca", choices=_scenarios(), help="default: ca")
    bench.add_argument("--ticks", type=_nonneg_int, metavar="N", help="ticks (or gens) per run")
    bench.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    bench.add_argument("--quick", action="store_true", help="smaller sizes, for CI smoke runs")
    g = bench.add_argument_group("routing, throughput and full scenarios")
    g.add_argument("--shards", type=_positive_int, metavar="K",
                   help="routing: shards spawned at once (default 16); full: shards kept in "
                   "flight, topped up each tick (default: 2 spawned a tick)")
    g.add_argument("--router", choices=ROUTER_CHOICES, help="router (default: route.router)")
    g.add_argument("--loss", type=_probability, metavar="P",
                   help="probability that one link transmission is lost (default: route.loss)")
    g.add_argument("--down", type=_cell, nargs="+", metavar="R,C",
                   help="bots that are down, e.g. --down 1,1 2,3")
    g.add_argument("--mesh", type=_mesh, metavar="RxC", help="mesh rows x cols, e.g. 3x3")
    g.add_argument("--soak", type=_positive_float, metavar="SECONDS",
                   help="routing: a stress run of SECONDS at half capacity; full: the "
                   "integration soak instead of the tick run; both report RSS growth; web: how "
                   "long the dashboards watch (default 300, --quick 60); view: seconds per case "
                   "(default 15, --quick 4)")
    g.add_argument("--state-dumps", metavar="FILE",
                   help="routing: write the full state after every tick (JSONL), the baseline "
                   "of scripts/check_compression_ratio.py")
    f = bench.add_argument_group("full scenario")
    f.add_argument("--tile", type=_tile, metavar="T",
                   help=f"full: side of each bot's tile (default: mesh.tile, 16; >= {MIN_TILE})")
    f.add_argument("--warmup", type=_nonneg_int, metavar="N",
                   help="full: untimed ticks after the model's warm-up (default 200, --quick "
                   "100; --scaling 100, --quick 30)")
    f.add_argument("--rate", type=_positive_float, metavar="R",
                   help="full: pace the timed ticks at R ticks/s of wall time (default: back "
                   "to back)")
    f.add_argument("--scaling", type=_mesh_list, nargs="?", const=True, metavar="MESHES",
                   help="full: run at each mesh (default 5x5,16x16,64x64) and at the largest "
                   "with each --scaling-shards count")
    f.add_argument("--scaling-shards", type=_count_list, metavar="K,K,...",
                   help="full --scaling: shards kept in flight at the largest mesh (default "
                   "0,250,1000)")
    f.add_argument("--plot", metavar="DIR",
                   help="full (and all): write PNG plots into DIR (created if missing)")
    p = bench.add_argument_group("pulse scenario")
    p.add_argument("--seeds", type=_seed_range, metavar="A:B",
                   help="pulse: the soups' seeds A..B-1 (default 0:100)")
    w = bench.add_argument_group("web scenario")
    w.add_argument("--clients", type=_positive_int, metavar="N",
                   help="web: dashboards in headless chromium (default 8)")
    _add_run_options(bench)

    sweep = sub.add_parser(
        "sweep",
        help="many runs of one scenario over seeds and parameter grids, in parallel",
        description="Run the scenario a spec names over its seeds and parameter grid in local "
        "worker processes or on a Ray cluster; rows stream into one table (Parquet and CSV), "
        "then a summary per parameter point and plots. See docs/sweeps.md.",
    )
    sweep.add_argument("spec", nargs="?", metavar="SPEC.yaml",
                       help="the sweep spec (e.g. config/sweeps/quick.yaml)")
    sweep.add_argument("--workers", type=_positive_int, metavar="N",
                       help="local worker processes (default: the CPUs); with --ray, the most "
                       "tasks in flight (default: the cluster's CPUs)")
    sweep.add_argument("--ray", metavar="ADDRESS",
                       help="run on Ray: 'auto' (a Ray running here, else a local one) or a "
                       "cluster's HEAD:6379 (needs the optional extra: pip install .[ray])")
    sweep.add_argument("--out", metavar="DIR",
                       help="the sweep's folder (default: sweeps/<spec name>)")
    sweep.add_argument("--resume", action="store_true",
                       help="complete the table in --out, skipping runs already in it")
    sweep.add_argument("--report", metavar="DIR",
                       help="rebuild the summary and plots of the sweep in DIR from its table")
    sweep.add_argument("--bench", action="store_true",
                       help="measure runs/s with 1 worker and with --workers, same spec, "
                       "fresh tables, and print the ratio")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


class _VersionAction(argparse.Action):
    """``--version``, reading the installed metadata only when asked (importing it is slow)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("cybermesh")
        except PackageNotFoundError:
            text = "unknown"
        parser.exit(0, f"{PROG} {text}\n")


# The bench scenarios by name; game.bench.registry.SCENARIOS implements exactly these (a test
# checks).
SCENARIO_NAMES: tuple[str, ...] = (
    "all", "ca", "detect", "embed", "energy", "full", "glider", "pulse", "routing", "throughput",
    "view", "web",
)
ROUTER_CHOICES = ("shortest", "semantic")


def _scenarios() -> list[str]:
    return sorted(SCENARIO_NAMES)


def load_run_config(args: argparse.Namespace) -> Config:
    """The config for a run: file (or default), then --set items, then dedicated flags."""
    from game.config import load_config, override, parse_set  # start-up: see the module docstring

    config = load_config(args.config)
    for item in args.set:
        config = parse_set(item, config)
    if args.seed is not None:
        config = override(config, "seed", args.seed, "--seed")
    if args.backend is not None:
        config = override(config, "lattice.backend", args.backend, "--backend")
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch, map errors to exit codes; a run command logs to logs/."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in RUN_COMMANDS:
        return _dispatch(parser, args)
    from game.applog import redact_argv, setup_logging

    log = setup_logging(args.command)
    log.info("start argv=%s seed=%s backend=%s",
             redact_argv(sys.argv[1:] if argv is None else argv), *_seed_backend(args))
    started, code = time.monotonic(), 1
    try:
        code = _dispatch(parser, args)
    finally:
        log.info("exit code=%d duration=%.3fs", code, time.monotonic() - started)
    return code


# The commands that run the simulation for a while: the ones worth an application log.
RUN_COMMANDS = ("serve", "view", "bench", "replay", "sweep")


def _seed_backend(args: argparse.Namespace) -> tuple[object, object]:
    """The run's seed and lattice backend for the log: the config's, else (bad config) flags'."""
    if not hasattr(args, "config"):  # replay: its log holds the config; sweep: its spec
        return None, getattr(args, "backend", None)
    try:
        config = load_run_config(args)
    except BadInput:
        return args.seed, args.backend
    return config.seed, config.lattice.backend


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the parsed command; errors become exit codes (2 bad input, 1 internal)."""
    # Each subcommand imports its module here, on its own path: see the module docstring.
    try:
        if args.command == "ca":
            from game.app.run_ca import run_ca

            return run_ca(args)
        if args.command == "detect":
            from game.app.run_detect import run_detect

            return run_detect(args)
        if args.command == "replay":
            from game.app.replay import run_replay

            return run_replay(args)
        if args.command in ("serve", "view"):
            # A real-time run shares the CPUs with its clients (and, on a laptop, the browser):
            # torch's OpenMP threads must sleep when idle, not spin. Spinning, a 2-core machine
            # under load ran 3.8 ticks/s with traffic instead of 14.6 (TROUBLESHOOTING).
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            if args.command == "view":
                from game.viewer.view import run_view

                return run_view(args, load_run_config(args))
            from game.app.serve import run_serve

            return run_serve(args, load_run_config(args))
        if args.command == "bench":
            # The benches measure what serve and view run: the same OpenMP policy.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            from game.bench.runner import run_bench

            return run_bench(args, load_run_config(args))
        if args.command == "sweep":
            from game.sweep.command import run_sweep_command

            return run_sweep_command(args)
        parser.error(f"unknown command {args.command!r}")
    except BadInput as err:
        # One line even when the message quotes a user's path or value with a newline in it.
        print(f"{PROG}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. piped into head): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, exit 1
        if os.environ.get("CYBERMESH_DEBUG"):
            raise
        print(
            f"{PROG}: internal error: {type(err).__name__}: {err} "
            "(set CYBERMESH_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
