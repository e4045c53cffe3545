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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yamale  # type: ignore[import-untyped]  # no stubs or py.typed
from yamale.validators import validators as v  # type: ignore[import-untyped]

from game.config import Config, config_keys
from game.paths import ROOT
from tests.helpers import assert_fails_in_one_line

sys.path.insert(0, str(ROOT / "scripts"))

import pip_audit_gate as gate  # noqa: E402

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


# pip-audit's verdict (scripts/pip_audit_gate.py): three states, each asserted against the
# lines this test expects, on report shapes pip-audit 2.x writes with `-f json`.

def _dep(name: str, version: str = "1.0", *vulns: Mapping[str, object]) -> dict[str, object]:
    return {"name": name, "version": version, "vulns": list(vulns)}


def _skip(name: str, reason: str) -> dict[str, object]:
    return {"name": name, "skip_reason": reason}


def _report(*deps: dict[str, object]) -> str:
    return json.dumps({"dependencies": list(deps), "fixes": []})


NOT_ON_PYPI = "Dependency not found on PyPI and could not be audited: {} (1.0)"
EDITABLE = _skip("cybermesh", "distribution marked as editable")
ADVISORY = {"id": "PYSEC-2099-1", "fix_versions": ["1.1"], "aliases": ["CVE-2099-1"]}
UNFIXED = {"id": "GHSA-xxxx-yyyy-zzzz", "fix_versions": [], "aliases": []}
# As pip-audit 2.10 crashes on a name it cannot resolve (trimmed): the quoted source lines are
# indented, and one of them says "timeout" without any timeout having happened.
CONNECTION_CRASH = """Traceback (most recent call last):
  File "pip_audit/_service/osv.py", line 70, in query
    response: requests.Response = self.session.post(url=self.osv_url, timeout=self.timeout)
urllib3.exceptions.NameResolutionError: HTTPSConnection(host='api.osv.dev', port=443): Failed to \
resolve 'api.osv.dev' ([Errno -2] Name or service not known)

During handling of the above exception, another exception occurred:

requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev', port=443): Max \
retries exceeded with url: /v1/query (Caused by NameResolutionError("Failed to resolve"))
"""
# pip-audit's own message when its service raises a connection error: the last line is advice.
SERVICE_UNREACHABLE = ("ERROR:pip_audit._cli:Could not connect to PyPI's vulnerability feed\n"
                       "ERROR:pip_audit._cli:Tip: your network may be blocking this service. "
                       "Try another service with `-s SERVICE`\n")
READ_TIMEOUT = ("requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='pypi.org', "
                "port=443): Read timed out. (read timeout=15)\n")
OTHER_CRASH = "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'version'\n"


@pytest.mark.unit
def test_pip_audit_complete_clean_audit_passes() -> None:
    verdict = gate.judge(_report(_dep("ok"), _dep("fine", "2.0"), EDITABLE), 0,
                         "No known vulnerabilities found\n")
    assert verdict.state == 0
    assert verdict.lines == ("pip-audit: AUDITED CLEAN: 2 of 2 dependencies audited, no known "
                             "vulnerabilities (editable, not audited: cybermesh)",)


@pytest.mark.unit
@pytest.mark.parametrize(("report", "rc", "lines"), [
    (_report(_dep("evil", "1.0", ADVISORY), _dep("ok")), 1, [
        "pip-audit: evil 1.0: PYSEC-2099-1 (CVE-2099-1) fixed in 1.1",
        "pip-audit: FINDING: 1 known vulnerability in evil 1.0; 2 of 2 dependencies audited"]),
    # A partial audit with a finding is a finding, and two advisories are both named.
    (_report(_dep("evil", "1.0", ADVISORY, UNFIXED), _skip("gone", NOT_ON_PYPI.format("gone"))),
     1, ["pip-audit: evil 1.0: PYSEC-2099-1 (CVE-2099-1) fixed in 1.1; GHSA-xxxx-yyyy-zzzz no "
         "fix yet",
         "pip-audit: FINDING: 2 known vulnerabilities in evil 1.0; 1 of 2 dependencies audited "
         "(a partial audit)"]),
    # Whatever pip-audit's own status, a reported vulnerability fails the gate.
    (_report(_dep("evil", "3", UNFIXED)), 0, [
        "pip-audit: evil 3: GHSA-xxxx-yyyy-zzzz no fix yet",
        "pip-audit: FINDING: 1 known vulnerability in evil 3; 1 of 1 dependencies audited"]),
], ids=["complete", "partial", "exit-0"])
def test_pip_audit_finding_fails_naming_package_version_and_advisories(
        report: str, rc: int, lines: list[str]) -> None:
    verdict = gate.judge(report, rc, "")
    assert verdict.state == 1
    assert list(verdict.lines) == lines


@pytest.mark.unit
@pytest.mark.parametrize(("report", "rc", "stderr", "summary"), [
    ("", 124, "", "(timeout): exit 124; no output on stderr"),
    ("", 137, "", "(timeout): exit 137"),
    ("", 1, READ_TIMEOUT, "(timeout): exit 1; requests.exceptions.ReadTimeout"),
    ("", 1, CONNECTION_CRASH,
     "(vulnerability database unreachable): exit 1; requests.exceptions.ConnectionError"),
    ("", 1, SERVICE_UNREACHABLE,
     "(vulnerability database unreachable): exit 1; ERROR:pip_audit._cli:Tip: your network"),
    (_report(_dep("ok"), _skip("a", NOT_ON_PYPI.format("a")), _skip("b", NOT_ON_PYPI.format("b"))),
     0, "", "(partial audit): 1 of 3 dependencies audited; 2 skipped (a, b): Dependency not "
            "found on PyPI and could not be audited"),
    (_report(_dep("ok"), _skip("local", "could not be resolved")),
     0, "", "(partial audit): 1 of 2 dependencies audited; 1 skipped (local): could not be "
            "resolved"),
    (_report(*[_skip(n, NOT_ON_PYPI.format(n)) for n in "abcdefg"], EDITABLE), 0, "",
     "(vulnerability database unreachable): 0 of 7 dependencies audited; 7 skipped (a, b, c, d, "
     "e +2 more): Dependency not found on PyPI and could not be audited"),
    (_report(_skip("a", "no such thing")), 0, "",
     "(partial audit): 0 of 1 dependencies audited; 1 skipped (a): no such thing"),
    (_report(), 0, "", "(empty dependency list): pip-audit listed no dependency to audit"),
    (_report(EDITABLE), 0, "", "(empty dependency list)"),
    ("", 1, OTHER_CRASH, "(crash): exit 1; KeyError: 'version'"),
    ("", 2, "", "(crash): exit 2; no output on stderr"),
    # pip-audit said it failed though its report is clean: not a pass.
    (_report(_dep("ok")), 1, "boom\n", "(crash): exit 1; boom"),
    ("", 0, "", "(report not recognised): empty report"),
    ("[]", 0, "", "(report not recognised): no 'dependencies' list"),
    ('{"dependencies": [{"name": "x", "vulns": []}]}', 0, "",
     "(report not recognised): an entry without a 'version' string"),
    ('{"dependencies": [{"name": "x", "version": "1", "vulns": [{}]}]}', 0, "",
     "(report not recognised): x: no 'vulns' list of advisories with an 'id'"),
    ('{"dependencies": [{"name": "x", "version": "1"}]}', 0, "",
     "(report not recognised): x: no 'vulns' list"),
], ids=["timeout", "timeout-killed", "read-timeout", "connection-crash", "service-unreachable",
        "partial-1-of-3", "partial-other-reason", "every-package-skipped", "all-skipped-other",
        "empty-dependency-list", "only-the-editable-project", "crash", "crash-silent",
        "exit-1-clean-report", "empty-report", "not-an-object", "no-version", "advisory-no-id",
        "no-vulns"])
def test_pip_audit_not_audited_is_never_a_pass(report: str, rc: int, stderr: str,
                                               summary: str) -> None:
    verdict = gate.judge(report, rc, stderr)
    assert verdict.state == 3, verdict
    (line,) = verdict.lines
    assert line.startswith("pip-audit: NOT AUDITED " + summary), line
    assert "AUDITED CLEAN" not in line and "no known vulnerabilities" not in line


@pytest.mark.unit
@pytest.mark.parametrize(("argv", "message"), [
    ([], "usage: pip_audit_gate.py REPORT.json EXIT_STATUS STDERR_FILE"),
    (["r.json", "one", "err"], "usage:"),
    (["/nonexistent/r.json", "0", "/nonexistent/err"], "cannot read /nonexistent/r.json"),
])
def test_pip_audit_gate_bad_arguments_fail_in_one_line(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert_fails_in_one_line(gate.main, argv, message, capsys)


FAKE_AUDIT = """#!{python}
import json, sys, time
mode = {mode!r}
if mode == "offline":
    sys.stderr.write("Traceback...\\nrequests.exceptions.ConnectionError: Max retries exceeded\\n")
    sys.exit(1)
if mode == "hang":
    time.sleep(60)
out = sys.argv[sys.argv.index("-o") + 1]
skip = "Dependency not found on PyPI and could not be audited: {{}} (1.0)"
deps = {{
    "vulnerable": [{{"name": "evil", "version": "1.0", "vulns": [
        {{"id": "PYSEC-0000-1", "fix_versions": ["1.1"]}}]}}, {{"name": "ok", "version": "2",
        "vulns": []}}],
    "unreachable": [{{"name": n, "skip_reason": skip.format(n)}} for n in "ab"],
    "partial": [{{"name": "ok", "version": "2", "vulns": []}}] + [
        {{"name": n, "skip_reason": skip.format(n)}} for n in "ab"],
    "empty": [],
    "clean": [{{"name": "ok", "version": "2", "vulns": []}}],
}}[mode]
json.dump({{"dependencies": deps, "fixes": []}}, open(out, "w"))
sys.exit(1 if mode == "vulnerable" else 0)
"""


@pytest.fixture
def make() -> str:
    """Path of make: the project is set up and tested through it, so it is never skipped."""
    path = shutil.which("make")
    assert path is not None, ("make is not installed: the project is set up and tested through "
                              "make (Debian package make)")
    return path


@pytest.mark.integration
@pytest.mark.parametrize(("mode", "strict", "code", "line"), [
    ("vulnerable", "0", 2, "pip-audit: FINDING: 1 known vulnerability in evil 1.0; 2 of 2"),
    ("unreachable", "0", 0, "pip-audit: NOT AUDITED (vulnerability database unreachable): 0 of 2"),
    ("unreachable", "1", 2, "pip-audit: NOT AUDITED (vulnerability database unreachable): 0 of 2"),
    ("offline", "0", 0, "pip-audit: NOT AUDITED (vulnerability database unreachable): exit 1; "
                        "requests.exceptions.ConnectionError"),
    ("partial", "0", 0, "pip-audit: NOT AUDITED (partial audit): 1 of 3 dependencies audited"),
    ("empty", "0", 0, "pip-audit: NOT AUDITED (empty dependency list)"),
    ("empty", "1", 2, "pip-audit: NOT AUDITED (empty dependency list)"),
    ("hang", "0", 0, "pip-audit: NOT AUDITED (timeout): exit 124"),
    ("clean", "1", 0, "pip-audit: AUDITED CLEAN: 1 of 1 dependencies audited, no known "
                      "vulnerabilities"),
], ids=["finding", "unreachable", "unreachable-strict", "connection-crash", "partial", "empty",
        "empty-strict", "timeout", "clean"])
def test_make_audit_fails_on_a_finding_and_reports_not_audited(
        make: str, mode: str, strict: str, code: int, line: str, tmp_path: Path) -> None:
    fake = tmp_path / "pip-audit"
    fake.write_text(FAKE_AUDIT.format(python=sys.executable, mode=mode))
    fake.chmod(0o755)
    # -o: the venv is set up already; never reinstall it from a test. Only the hanging fake
    # gets a short limit, so that a slow start of the others is never read as a timeout.
    limit = ["AUDIT_TIMEOUT=2"] if mode == "hang" else []
    result = subprocess.run(
        [make, "-s", "-o", ".venv/.installed", "audit", f"PIP_AUDIT={fake}",
         f"AUDIT_STRICT={strict}", *limit],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ})
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith(line), result.stdout
    # make names the recipe's own status: 1 for a finding, 3 for NOT AUDITED under AUDIT_STRICT.
    if code:
        assert f"Error {1 if mode == 'vulnerable' else 3}" in result.stderr, result.stderr
