"""The ``cybermesh`` CLI as a user runs it: whole processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from game.app.cli import SCENARIO_NAMES, build_parser
from game.engine.events import Start, Stop
from game.rle import read_rle, to_torus, write_rle
from game.rules import CONWAY
from tests.helpers import ENV, assert_cli_fails_in_one_line, busy_port, cli, read_events

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("sub", ["", "ca", "serve", "bench"])
def test_help_everywhere(sub: str) -> None:
    result = cli(*([sub] if sub else []), "--help")
    assert result.returncode == 0
    assert "usage: cybermesh" in result.stdout


def test_help_and_ca_do_not_import_torch_or_sentence_transformers(tmp_path: Path) -> None:
    pattern = tmp_path / "g.rle"
    pattern.write_text("x = 3, y = 3, rule = B3/S23:T16,16\nbo$2bo$3o!\n")
    code = (
        "import sys\nfrom game.app.cli import main\n"
        f"rc = main(['ca', {str(pattern)!r}, '--gens', '8', '--quiet', '--out', "
        f"{str(tmp_path / 'o.rle')!r}])\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'peft', 'moderngl', 'aiohttp')"
        " if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.stdout.strip() == "0 []", out.stderr
    code = (
        "import sys\nfrom game.app.cli import build_parser\nbuild_parser()\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.stdout.strip() == "False"


def test_bench_scenarios_match_the_parser() -> None:
    from game.bench.registry import SCENARIOS

    assert set(SCENARIOS) == set(SCENARIO_NAMES)
    assert build_parser().parse_args(["bench", "--scenario", "ca"]).scenario == "ca"


def test_ca_glider_round_trip_on_16x16(tmp_path: Path) -> None:
    src, out = tmp_path / "g.rle", tmp_path / "out.rle"
    src.write_text("#N Glider\nx = 3, y = 3, rule = B3/S23:T16,16\nbo$2bo$3o!\n")
    result = cli("ca", str(src), "--gens", "64", "--out", str(out), "--backend", "numpy")
    assert result.returncode == 0, result.stderr
    back = read_rle(out)
    assert back.torus == (16, 16)
    assert np.array_equal(to_torus(back), to_torus(read_rle(src)))
    assert "population 5" in result.stderr


def test_ca_writes_rle_to_stdout_and_torus_flag(tmp_path: Path) -> None:
    src = tmp_path / "blinker.rle"
    src.write_text("x = 3, y = 1\n3o!\n")
    result = cli("ca", str(src), "--gens", "1", "--torus", "5x5", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("x = 5, y = 5, rule = B3/S23:T5,5")
    cells = to_torus(read_rle_text(result.stdout, tmp_path))
    assert cells[:, 1].tolist() == [1, 1, 0, 0, 1]  # vertical blinker wrapped over the seam


def read_rle_text(text: str, tmp: Path):  # type: ignore[no-untyped-def]
    f = tmp / "stdout.rle"
    f.write_text(text)
    return read_rle(f)


@pytest.mark.parametrize(
    ("content", "args", "words"),
    [
        ("x = 3, y = 3, rule = B3/S23:T16,16\nbo$2bo$3o", [], ["truncated"]),
        ("x = 3, y = 3, rule = B3/S23:T16,16\nbo$2bz$3o!\n", [], ["z"]),
        ("x = 3, y = 3, rule = Q9/Z:T16,16\nbo$2bo$3o!\n", [], ["rule"]),
        ("this is not an rle file\n", [], ["header"]),
        ("x = 3, y = 3, rule = B3/S23\nbo$2bo$3o!\n", [], ["torus"]),
        ("x = 3, y = 3, rule = B3/S23:T16,16\nbo$2bo$3o!\n", ["--gens", "-5"], ["--gens"]),
        ("x = 3, y = 3, rule = B3/S23:T16,16\nbo$2bo$3o!\n", ["--gens", "ten"], ["--gens"]),
        ("x = 3, y = 3, rule = B3/S23:T16,16\nbo$2bo$3o!\n", ["--torus", "0x3"], ["--torus"]),
        ("x = 3, y = 3, rule = B3/S23:T16,16\nbo$2bo$3o!\n", ["--backend", "cuda"], ["--backend"]),
    ],
)
def test_ca_bad_input_exits_2_with_one_line(tmp_path: Path, content: str, args: list[str],
                                            words: list[str]) -> None:
    src = tmp_path / "bad.rle"
    src.write_text(content)
    gens = [] if "--gens" in args else ["--gens", "3"]
    assert_cli_fails_in_one_line(cli("ca", str(src), *gens, *args), *words)


def test_ca_missing_file_and_directory(tmp_path: Path) -> None:
    assert_cli_fails_in_one_line(cli("ca", str(tmp_path / "nope.rle"), "--gens", "1"), "nope.rle")
    assert_cli_fails_in_one_line(cli("ca", str(tmp_path), "--gens", "1"))


def test_ca_unwritable_out(tmp_path: Path) -> None:
    src = tmp_path / "g.rle"
    src.write_text("x = 3, y = 3, rule = B3/S23:T16,16\nbo$2bo$3o!\n")
    assert_cli_fails_in_one_line(cli("ca", str(src), "--gens", "1", "--out",
                                     str(tmp_path / "no" / "dir" / "o.rle")))


def test_wrong_config_type_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("mesh:\n  rows: five\n")
    assert_cli_fails_in_one_line(cli("serve", "--config", str(cfg), "--ticks", "1", "--no-web"),
                                 "bad.yaml", "mesh.rows", "int")
    assert_cli_fails_in_one_line(cli("serve", "--set", "mesh.colz=3", "--ticks", "1", "--no-web"),
                                 "mesh.colz")
    assert_cli_fails_in_one_line(cli("serve", "--config", str(tmp_path / "none.yaml")), "none.yaml")


def test_unknown_subcommand_and_missing_args() -> None:
    assert_cli_fails_in_one_line(cli("frobnicate"))
    assert_cli_fails_in_one_line(cli("ca"))


def test_serve_runs_ticks_writes_events_and_status(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    result = cli("serve", "--ticks", "60", "--no-web", "--set", "tick_rate=600", "--seed", "3",
                 "--events", str(events), "--backend", "numpy")
    assert result.returncode == 0, result.stderr
    assert "tick       60" in result.stderr and "population" in result.stderr
    logged = read_events(events)
    assert isinstance(logged[0], Start) and logged[0].seed == 3
    assert isinstance(logged[-1], Stop) and logged[-1].tick == 60


def test_serve_mirror_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "game.app.cli", "serve", "--port", "0",
                             "--backend", "numpy", "--events", str(tmp_path / "e.jsonl")],
                            stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("web mirror on http://127.0.0.1:"), line
        url = line.split()[-1]
        deadline = time.time() + 10
        state = {}
        while time.time() < deadline:
            with urllib.request.urlopen(url + "/api/state", timeout=5) as r:
                state = json.loads(r.read())
            if state["tick"] > 5:
                break
            time.sleep(0.1)
        assert state["tick"] > 5 and state["width"] == 80 and len(state["tiles"]) == 25
        assert state["paused"] is False and state["tick_rate"] == 30.0
        with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
            assert json.loads(r.read())["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        last = (tmp_path / "e.jsonl").read_text().splitlines()[-1]
        assert json.loads(last)["kind"] == "stop"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_busy_port_is_one_line() -> None:
    with busy_port() as port:
        result = cli("serve", "--port", str(port), "--ticks", "1")
    assert_cli_fails_in_one_line(result, "already in use", "--port 0")


def test_bench_quick_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = cli("bench", "--scenario", "ca", "--quick", "--json", str(out), timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    rows = report["result"]["sizes"]
    assert {r["backend"] for r in rows} >= {"numpy", "reference"}
    assert all(r["cell_updates_per_s"] > 0 for r in rows)
    assert "G cell-upd/s" in result.stdout


def test_write_rle_helper_round_trip(tmp_path: Path) -> None:
    cells = (np.random.default_rng(0).random((20, 30)) < 0.3).astype(np.uint8)
    write_rle(tmp_path / "x.rle", cells, CONWAY, torus=(30, 20))
    assert np.array_equal(to_torus(read_rle(tmp_path / "x.rle")), cells)


def test_detect_json_and_table(tmp_path: Path) -> None:
    src = tmp_path / "two.rle"
    # a bi-block (two blocks) and a glider on a 40x30 torus
    src.write_text("x = 14, y = 5, rule = B3/S23:T40,30\n2ob2o5bo$2ob2o6bo$9b3o!\n")
    result = cli("detect", str(src), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["census"] == {"xs4_33": 2, "xq4_153": 1}
    glider = next(o for o in payload["objects"] if o["apgcode"] == "xq4_153")
    assert (glider["x"], glider["y"], glider["w"], glider["h"]) == (9, 0, 3, 3)
    assert (glider["period"], glider["dx"], glider["dy"]) == (4, 1, 1)
    assert glider["name"] == "glider"
    table = cli("detect", str(src))
    assert table.returncode == 0 and "xs4_33" in table.stdout and "glider" in table.stdout


def test_detect_plane_pattern_keeps_rle_coordinates(tmp_path: Path) -> None:
    src = tmp_path / "plane.rle"
    src.write_text("x = 9, y = 2\n2o5b2o$2o5b2o!\n")  # two blocks, no torus
    payload = json.loads(cli("detect", str(src), "--json").stdout)
    assert sorted((o["x"], o["y"]) for o in payload["objects"]) == [(0, 0), (7, 0)]


@pytest.mark.parametrize(
    ("content", "args", "words"),
    [
        ("x = 3, y = 3, rule = B3/S23\nbo$2bo$3o", [], ["truncated"]),
        ("x = 3, y = 3, rule = B03/S23\nbo$2bo$3o!\n", [], ["B0"]),
        ("x = 3, y = 3\nbo$2bo$3o!\n", ["--max-period", "0"], ["--max-period"]),
        ("x = 3, y = 3\nbo$2bo$3o!\n", ["--horizon", "x"], ["--horizon"]),
    ],
)
def test_detect_bad_input_exits_2(tmp_path: Path, content: str, args: list[str],
                                  words: list[str]) -> None:
    src = tmp_path / "bad.rle"
    src.write_text(content)
    assert_cli_fails_in_one_line(cli("detect", str(src), *args), *words)
