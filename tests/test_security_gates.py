"""The security gate: config schema (yamale), secret scanning (detect-secrets), pip-audit's verdict.

The schema is checked against game.config's msgspec Config, the source of truth, key by key, so
the two cannot drift apart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yamale  # type: ignore[import-untyped]  # no stubs or py.typed
from yamale.validators import validators as v  # type: ignore[import-untyped]

from game.config import Config, config_keys
from game.paths import ROOT

SCHEMA = ROOT / "config" / "schema.yaml"
DEFAULT = ROOT / "config" / "default.yaml"
BASELINE = ROOT / ".secrets.baseline"
VENV_BIN = Path(sys.executable).parent


def validate(text: str, tmp_path: Path) -> list[str]:
    """Yamale's errors for a config written as ``text`` (strict: unknown keys are errors)."""
    path = tmp_path / "run.yaml"
    path.write_text(text)
    try:
        yamale.validate(yamale.make_schema(str(SCHEMA)), yamale.make_data(str(path)), strict=True)
    except yamale.YamaleError as err:
        return [e for result in err.results for e in result.errors]
    return []


def schema_fields() -> dict[str, v.Validator]:
    """Every dotted key of the schema with its validator, following the sections' includes."""
    schema = yamale.make_schema(str(SCHEMA))
    out: dict[str, v.Validator] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, validator in node.items():
            if isinstance(validator, v.Include):
                walk(schema.includes[validator.args[0]].dict, f"{prefix}{key}.")
            else:
                out[f"{prefix}{key}"] = validator

    walk(schema.dict, "")
    return out


def code_fields() -> dict[str, msgspec.inspect.Type]:
    """Every dotted key of the msgspec Config with its type, as msgspec.inspect describes it."""
    out: dict[str, msgspec.inspect.Type] = {}

    def walk(struct: msgspec.inspect.StructType, prefix: str) -> None:
        for field in struct.fields:
            if isinstance(field.type, msgspec.inspect.StructType):
                walk(field.type, f"{prefix}{field.name}.")
            else:
                out[f"{prefix}{field.name}"] = field.type

    info = msgspec.inspect.type_info(Config)
    assert isinstance(info, msgspec.inspect.StructType)
    walk(info, "")
    return out


@pytest.mark.unit
def test_schema_accepts_the_default_config(tmp_path: Path) -> None:
    assert validate(DEFAULT.read_text(), tmp_path) == []


@pytest.mark.unit
@pytest.mark.parametrize(("text", "error"), [
    ("mesh:\n  rows: three\n", "mesh.rows: 'three' is not a int"),
    ("seed: 1.5\n", "seed: '1.5' is not a int"),
    ("lattice:\n  backend: cuda\n", "lattice.backend: 'cuda' not in"),
    ("detect:\n  enabled: maybe\n", "detect.enabled: 'maybe' is not a bool"),
    ("seed: null\n", "seed: 'None' is not a int"),
    ("route:\n  down: [[1, 2, 3]]\n", "route.down.0: Length of [1, 2, 3] is greater than 2"),
])
def test_schema_rejects_a_wrong_type(text: str, error: str, tmp_path: Path) -> None:
    errors = validate(text, tmp_path)
    assert any(error in e for e in errors), errors


@pytest.mark.unit
@pytest.mark.parametrize(("text", "error"), [
    ("mesh:\n  rowz: 3\n", "mesh.rowz: Unexpected element"),
    ("colour: red\n", "colour: Unexpected element"),
])
def test_schema_rejects_an_unknown_key(text: str, error: str, tmp_path: Path) -> None:
    assert error in validate(text, tmp_path)


@pytest.mark.unit
@pytest.mark.parametrize(("text", "error"), [
    ("serve:\n  port: 70000\n", "serve.port: 70000 is greater than 65535"),
    ("lattice:\n  soup_density: -0.1\n", "lattice.soup_density: -0.1 is less than 0"),
])
def test_schema_rejects_out_of_range_values(text: str, error: str, tmp_path: Path) -> None:
    errors = validate(text, tmp_path)
    assert any(e.startswith(error) for e in errors), errors


@pytest.mark.unit
def test_every_key_may_be_left_out_and_pattern_may_be_null(tmp_path: Path) -> None:
    assert validate("{}\n", tmp_path) == []
    assert validate("mesh:\n  rows: 3\nlattice:\n  pattern: null\n", tmp_path) == []


@pytest.mark.unit
def test_schema_keys_are_the_config_keys() -> None:
    assert list(schema_fields()) == config_keys()


def _bounds(t: msgspec.inspect.Type) -> tuple[float | None, float | None]:
    """The inclusive bounds yamale can state for a msgspec number (``gt`` checked as ``>=``)."""
    assert isinstance(t, (msgspec.inspect.IntType, msgspec.inspect.FloatType))
    low = t.ge if t.ge is not None else t.gt
    high = t.le if t.le is not None else t.lt
    return low, high


@pytest.mark.unit
@pytest.mark.parametrize("key", config_keys())
def test_schema_types_and_ranges_match_the_code(key: str) -> None:
    rule, t = schema_fields()[key], code_fields()[key]
    assert rule.is_optional, f"{key}: every key may be left out of a file"
    nullable = isinstance(t, msgspec.inspect.UnionType) and any(
        isinstance(u, msgspec.inspect.NoneType) for u in t.types)
    assert rule.can_be_none == nullable, key
    if isinstance(t, msgspec.inspect.UnionType):
        (t,) = [u for u in t.types if not isinstance(u, msgspec.inspect.NoneType)]
    expected: dict[type[msgspec.inspect.Type], type[v.Validator]] = {
        msgspec.inspect.IntType: v.Integer, msgspec.inspect.FloatType: v.Number,
        msgspec.inspect.BoolType: v.Boolean, msgspec.inspect.StrType: v.String,
        msgspec.inspect.LiteralType: v.Enum, msgspec.inspect.ListType: v.List,
    }
    assert type(rule) is expected[type(t)], key
    if isinstance(t, (msgspec.inspect.IntType, msgspec.inspect.FloatType)):
        assert (rule.kwargs.get("min"), rule.kwargs.get("max")) == _bounds(t), key
    if isinstance(t, msgspec.inspect.LiteralType):
        assert set(rule.args) == set(t.values), key


def _hook(tmp_path: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    # On a copy, as `make secrets` does: the hook may rewrite the baseline it is given.
    baseline = tmp_path / "baseline.json"
    shutil.copy(BASELINE, baseline)
    return subprocess.run(
        [str(VENV_BIN / "detect-secrets-hook"), "--baseline", str(baseline), *map(str, paths)],
        capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.unit
def test_secrets_baseline_holds_only_audited_false_positives() -> None:
    baseline = json.loads(BASELINE.read_text())
    findings = [f for files in baseline["results"].values() for f in files]
    assert all(f.get("is_secret") is False for f in findings), findings
    excluded = [f["pattern"] for f in baseline["filters_used"]
                if f["path"].endswith("should_exclude_file")]
    assert excluded
    for part in ("vendor", "pgm", "png", "adapters", "corpus"):
        assert part in excluded[0][0], part


@pytest.mark.integration
def test_secret_scan_flags_a_new_secret_and_passes_clean_code(tmp_path: Path) -> None:
    clean = tmp_path / "clean.py"
    clean.write_text('GREETING = "hello"\n')
    assert _hook(tmp_path, clean).returncode == 0
    leak = tmp_path / "leak.py"
    # Split so that this test file is not itself a finding.
    leak.write_text('aws_key = "AKIA' + 'IOSFODNN7EXAMPLE"\n')
    result = _hook(tmp_path, leak)
    assert result.returncode == 1
    assert "AWS Access Key" in result.stdout
    # The baseline's filters travel with it: an excluded kind of file is not scanned.
    image = tmp_path / "leak.png"
    image.write_text(leak.read_text())
    assert _hook(tmp_path, image).returncode == 0


FAKE_AUDIT = """#!{python}
import json, sys
mode = {mode!r}
if mode == "offline":
    sys.stderr.write("Traceback...\\nrequests.exceptions.ConnectionError: Max retries exceeded\\n")
    sys.exit(1)
out = sys.argv[sys.argv.index("-o") + 1]
deps = {{
    "vulnerable": [{{"name": "evil", "version": "1.0", "vulns": [
        {{"id": "PYSEC-0000-1", "fix_versions": ["1.1"]}}]}}, {{"name": "ok", "version": "2",
        "vulns": []}}],
    "unreachable": [{{"name": n, "skip_reason": "Dependency not found on PyPI"}} for n in "ab"],
    "clean": [{{"name": "ok", "version": "2", "vulns": []}}],
}}[mode]
json.dump({{"dependencies": deps, "fixes": []}}, open(out, "w"))
sys.exit(1 if mode == "vulnerable" else 0)
"""


@pytest.mark.integration
@pytest.mark.parametrize(("mode", "code", "line"), [
    ("vulnerable", 2, "pip-audit: evil 1.0: PYSEC-0000-1 (fixed in: 1.1)"),
    ("unreachable", 0, "pip-audit: vulnerability database unreachable, 0 of 2 packages audited"),
    ("offline", 0, "pip-audit: vulnerability database unreachable, nothing audited"),
    ("clean", 0, "pip-audit: 1 of 1 packages audited, no known vulnerabilities"),
])
def test_pip_audit_fails_only_on_a_real_finding(mode: str, code: int, line: str,
                                                tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make not installed")
    fake = tmp_path / "pip-audit"
    fake.write_text(FAKE_AUDIT.format(python=sys.executable, mode=mode))
    fake.chmod(0o755)
    # -o: the venv is set up already; never reinstall it from a test.
    result = subprocess.run(
        [make, "-s", "-o", ".venv/.installed", "audit", f"PIP_AUDIT={fake}"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ})
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), result.stdout
