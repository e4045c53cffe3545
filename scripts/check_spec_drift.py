#!/usr/bin/env python3
"""Documentation gate: the documented CLI, config keys and event schema match the code.

Checks, each drift reported as one line:

1. **CLI** (``docs/cli.md``): every subcommand of ``game.app.cli.build_parser()`` has a section
   headed ``## cybermesh NAME`` (global options under ``## cybermesh``), and every long option of
   it appears as a code span starting with the flag (```--gens N``` in markdown) in the first
   column of a table row in that section; positional arguments appear as a code span of their
   metavar (```IN.rle```). A flag with fixed choices must name each choice as a code span of
   its own in its row. Documented subcommands and flags the code does not have are drift too.
2. **Stable flags** (the design brief's CLI contract, :data:`STABLE_FLAGS`): every flag the brief
   promises for a subcommand that exists in the code must exist there (and so, by check 1, be
   documented). A ``DESIGN.md`` at the repository root, when present, is read instead.
3. **Config** (``docs/configuration.md`` and ``config/default.yaml``): the keys of
   ``game.config.config_keys()`` equal the keys of the table whose header starts with ``key``, and
   equal the flattened keys of the default file; the table's ``default`` column and the file's
   values equal the built-in defaults.
4. **Events** (``docs/events.md``): every event kind of ``game.engine.events.EVENT_TYPES`` has a
   section headed ``### `start``` (the kind as a code span) whose table with a ``field`` header
   lists exactly the JSON fields of its lines (``kind`` included).
5. **README.md** mentions ``cybermesh NAME`` for every subcommand.

Exits 1 when anything drifted, else prints one OK line and exits 0.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from game.app.cli import build_parser  # noqa: E402
from game.config import Config, config_keys  # noqa: E402
from game.engine.events import EVENT_TYPES  # noqa: E402

CLI_DOC = Path("docs/cli.md")
CONFIG_DOC = Path("docs/configuration.md")
EVENTS_DOC = Path("docs/events.md")
DEFAULT_YAML = Path("config/default.yaml")
README = Path("README.md")
DESIGN = Path("DESIGN.md")

#: Options every parser has; documenting them is allowed but not required.
IMPLICIT_FLAGS = frozenset({"--help"})

#: The design brief's stable CLI contract ("Run modes and the CLI contract"): subcommand -> flags.
STABLE_FLAGS: dict[str, frozenset[str]] = {
    "view": frozenset({"--no-web", "--config", "--seed", "--events"}),
    "serve": frozenset({"--host", "--port", "--ticks", "--config", "--seed", "--events"}),
    "bench": frozenset({"--scenario", "--ticks", "--json", "--config", "--seed", "--events"}),
    "ca": frozenset({"--gens", "--backend", "--out"}),
    "detect": frozenset({"--json"}),
}

#: Subcommands that run the simulation: the brief gives each of them the run flags.
SIM_COMMANDS = ("view", "serve", "bench")
RUN_FLAGS = frozenset({"--config", "--seed", "--events"})

_SECTION = re.compile(r"^##\s+`?cybermesh(?:\s+(?P<name>[a-z][a-z0-9-]*))?`?\s*$")
_H2 = re.compile(r"^##\s")
_H3_KIND = re.compile(r"^###\s+`(?P<kind>[a-z_][a-z0-9_]*)`\s*$")
_HEADING = re.compile(r"^#{1,3}\s")
_FLAG = re.compile(r"`(--[A-Za-z0-9][A-Za-z0-9-]*)")
_CODE = re.compile(r"`([^`]+)`")
_KEY = re.compile(r"^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*$")
_DESIGN_ROW = re.compile(r"^\|\s*`cybermesh\s+(?P<name>[a-z][a-z0-9-]*)(?P<rest>.*)$")


# -- small markdown helpers -----------------------------------------------------------------------


def prose_lines(text: str) -> list[str]:
    """The lines of ``text`` with fenced code blocks blanked out (line numbers are kept)."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        stripped = line.lstrip()
        marker = stripped[:3]
        if fence is None and marker in ("```", "~~~"):
            fence = marker
            lines.append("")
        elif fence is not None:
            if stripped.startswith(fence):
                fence = None
            lines.append("")
        else:
            lines.append(line)
    return lines


def table_cells(line: str) -> list[str] | None:
    """Split a markdown table row into stripped cells; None for other lines and separator rows."""
    text = line.strip()
    if not text.startswith("|"):
        return None
    body = text[1:-1] if text.endswith("|") and len(text) > 1 else text[1:]
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", body)]
    if all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c):
        return None
    return cells


def code_spans(text: str) -> list[str]:
    """The contents of the backtick code spans in ``text``."""
    return _CODE.findall(text)


@dataclass
class Table:
    """A markdown table: its header cells and its body rows."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)


def tables(lines: Iterable[str]) -> Iterator[Table]:
    """Yield the tables in ``lines`` (a header row, a separator row, then body rows)."""
    current: Table | None = None
    previous_was_table = False
    for line in lines:
        is_row = line.strip().startswith("|")
        cells = table_cells(line)
        if not is_row:
            if current is not None:
                yield current
            current = None
            previous_was_table = False
            continue
        if cells is None:  # the separator row
            previous_was_table = True
            continue
        if current is None or not previous_was_table:
            if current is not None:
                yield current
            current = Table(header=cells)
        else:
            current.rows.append(cells)
        previous_was_table = True
    if current is not None:
        yield current


# -- 1. CLI ---------------------------------------------------------------------------------------


@dataclass
class CommandSpec:
    """The options and positionals of one (sub)command, as the code or the docs have them."""

    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)  # flag -> its choices
    positionals: set[str] = field(default_factory=set)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subparsers of ``parser`` by name (empty without subcommands)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _spec_of(parser: argparse.ArgumentParser) -> CommandSpec:
    """The long options (with their choices) and positional metavars of one parser."""
    spec = CommandSpec()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        if not action.option_strings:
            spec.positionals.add(str(action.metavar or action.dest))
            continue
        choices = tuple(str(c) for c in action.choices) if action.choices else ()
        for option in action.option_strings:
            if option.startswith("--"):
                spec.flags[option] = choices
    return spec


def code_cli() -> dict[str, CommandSpec]:
    """The CLI as the code builds it: ``""`` for the top level, then each subcommand."""
    parser = build_parser()
    specs = {"": _spec_of(parser)}
    for name, sub in _subcommands(parser).items():
        specs[name] = _spec_of(sub)
    return specs


@dataclass
class DocSection:
    """One ``## cybermesh NAME`` section of docs/cli.md: its rows' flags and positionals."""

    line: int
    flags: dict[str, tuple[int, str]] = field(default_factory=dict)  # flag -> (line, its row)
    positionals: set[str] = field(default_factory=set)


def doc_cli(text: str) -> dict[str, DocSection]:
    """The CLI as docs/cli.md documents it, by subcommand (``""`` for global options)."""
    sections: dict[str, DocSection] = {}
    current: DocSection | None = None
    for number, line in enumerate(prose_lines(text), start=1):
        m = _SECTION.match(line)
        if m:
            current = DocSection(line=number)
            sections[m.group("name") or ""] = current
            continue
        if _H2.match(line):
            current = None
            continue
        cells = table_cells(line)
        if current is None or not cells:
            continue
        first = cells[0]
        flags = _FLAG.findall(first)
        for flag in flags:
            current.flags[flag] = (number, line)
        if not flags:
            for span in code_spans(first):
                current.positionals.add(span.strip())
    return sections


def _has_choice(row: str, choice: str) -> bool:
    """Tell whether a table row names ``choice`` as a code span of its own."""
    return any(choice in re.split(r"[\s|,/\\]+", span) for span in code_spans(row))


def check_cli(code: Mapping[str, CommandSpec], doc_text: str) -> list[str]:
    """Drift between the parser and docs/cli.md."""
    problems: list[str] = []
    docs = doc_cli(doc_text)
    where = str(CLI_DOC)
    for name, spec in code.items():
        title = f"cybermesh {name}".strip()
        section = docs.get(name)
        if section is None:
            what = f"subcommand {name}" if name else "global options"
            problems.append(f"{where}: no '## {title}' section for the code's {what}")
            continue
        for flag, choices in sorted(spec.flags.items()):
            documented = section.flags.get(flag)
            if documented is None:
                if flag not in IMPLICIT_FLAGS:
                    problems.append(f"{where}: {title} {flag} is in the code but not documented")
                continue
            number, row = documented
            for choice in choices:
                if not _has_choice(row, choice):
                    problems.append(
                        f"{where}:{number}: {title} {flag}: choice {choice!r} "
                        "is in the code but not documented in its row"
                    )
        for positional in sorted(spec.positionals):
            if positional not in section.positionals:
                problems.append(
                    f"{where}: {title} argument {positional} is in the code but not documented"
                )
        for flag in sorted(set(section.flags) - set(spec.flags)):
            number = section.flags[flag][0]
            problems.append(f"{where}:{number}: {title} {flag} is documented but not in the code")
        for positional in sorted(section.positionals - spec.positionals):
            problems.append(
                f"{where}: {title} argument {positional} is documented but not in the code"
            )
    for name in sorted(set(docs) - set(code)):
        problems.append(
            f"{where}:{docs[name].line}: cybermesh {name} is documented but not in the code"
        )
    return problems


# -- 2. the design brief's stable flags -----------------------------------------------------------


def parse_design(text: str) -> dict[str, frozenset[str]]:
    """The stable flags per subcommand from a design brief's CLI table and run-flags sentence."""
    stable: dict[str, set[str]] = {}
    run_flags: set[str] = set()
    for line in text.splitlines():
        m = _DESIGN_ROW.match(line.strip())
        if m:
            flags = set(re.findall(r"--[a-z][a-z0-9-]*", m.group("rest")))
            stable.setdefault(m.group("name"), set()).update(flags)
        if "Every subcommand that runs the simulation takes" in line:
            run_flags.update(re.findall(r"--[a-z][a-z0-9-]*", line))
    for name in SIM_COMMANDS:
        if name in stable:
            stable[name] |= run_flags
    return {name: frozenset(flags) for name, flags in stable.items()}


def check_stable_flags(
    code: Mapping[str, CommandSpec], stable: Mapping[str, frozenset[str]]
) -> list[str]:
    """Flags the design brief promises for subcommands the code has, but the code lacks."""
    problems: list[str] = []
    for name, flags in sorted(stable.items()):
        spec = code.get(name)
        if spec is None:
            continue  # a later issue builds it
        for flag in sorted(flags - set(spec.flags)):
            problems.append(
                f"game/app/cli.py: the design brief's stable flag 'cybermesh {name} {flag}' "
                "is missing from the code"
            )
    return problems


# -- 3. config ------------------------------------------------------------------------------------


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys of a nested mapping: ``{"mesh": {"rows": 5}}`` -> ``{"mesh.rows": 5}``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def built_in_defaults() -> dict[str, Any]:
    """Every config key with the value :class:`game.config.Config` gives it by default."""
    raw = msgspec.to_builtins(Config())
    assert isinstance(raw, dict)
    return flatten(raw)


def doc_config(text: str) -> tuple[dict[str, str | None], list[str]]:
    """Keys documented in the ``key`` tables of docs/configuration.md, with their default cell."""
    keys: dict[str, str | None] = {}
    problems: list[str] = []
    for table in tables(prose_lines(text)):
        header = [h.lower() for h in table.header]
        if not header or header[0] != "key":
            continue
        default_col = header.index("default") if "default" in header else None
        for row in table.rows:
            spans = code_spans(row[0])
            if len(spans) != 1 or not _KEY.match(spans[0]):
                problems.append(f"{CONFIG_DOC}: key cell {row[0]!r} is not one `dotted.key`")
                continue
            cell = row[default_col] if default_col is not None and default_col < len(row) else None
            keys[spans[0]] = cell
    return keys, problems


def _same_value(a: Any, b: Any) -> bool:
    """Equal values, where an int default equals the same float (YAML writes ``8``, not ``8.0``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def check_config(doc_text: str, yaml_text: str) -> list[str]:
    """Drift between the config Structs, docs/configuration.md and config/default.yaml."""
    problems: list[str] = []
    code_keys = config_keys()
    defaults = built_in_defaults()
    documented, table_problems = doc_config(doc_text)
    problems.extend(table_problems)
    if not documented and not table_problems:
        problems.append(f"{CONFIG_DOC}: no table whose first header cell is 'key'")
    for key in code_keys:
        if key not in documented:
            problems.append(f"{CONFIG_DOC}: config key {key} is in the code but not documented")
            continue
        cell = documented[key]
        if cell is None:
            problems.append(f"{CONFIG_DOC}: the key table has no 'default' column")
            continue
        spans = code_spans(cell)
        if len(spans) != 1:
            problems.append(f"{CONFIG_DOC}: {key}: default cell {cell!r} is not one `value`")
            continue
        try:
            shown = yaml.safe_load(spans[0])
        except yaml.YAMLError:
            problems.append(f"{CONFIG_DOC}: {key}: default {spans[0]!r} is not a YAML value")
            continue
        if not _same_value(shown, defaults[key]):
            problems.append(
                f"{CONFIG_DOC}: {key}: documented default {spans[0]!r}, "
                f"the code's is {defaults[key]!r}"
            )
    for key in sorted(set(documented) - set(code_keys)):
        problems.append(f"{CONFIG_DOC}: config key {key} is documented but not in the code")

    try:
        loaded = yaml.safe_load(yaml_text)
    except yaml.YAMLError as err:
        return [*problems, f"{DEFAULT_YAML}: not valid YAML: {str(err).splitlines()[0]}"]
    file_values = flatten(loaded) if isinstance(loaded, Mapping) else {}
    for key in code_keys:
        if key not in file_values:
            problems.append(f"{DEFAULT_YAML}: config key {key} is in the code but not in the file")
        elif not _same_value(file_values[key], defaults[key]):
            problems.append(
                f"{DEFAULT_YAML}: {key} is {file_values[key]!r}, "
                f"the code's default is {defaults[key]!r}"
            )
    for key in sorted(set(file_values) - set(code_keys)):
        problems.append(f"{DEFAULT_YAML}: key {key} is not a config key of the code")
    return problems


# -- 4. events ------------------------------------------------------------------------------------


def code_events() -> dict[str, set[str]]:
    """Every event kind with the JSON fields of its lines (``kind`` included)."""
    kinds: dict[str, set[str]] = {}
    for cls in EVENT_TYPES:
        tag = cls.__struct_config__.tag
        fields = {f.encode_name for f in msgspec.structs.fields(cls)}
        kinds[str(tag)] = fields | {"kind"}
    return kinds


def doc_events(text: str) -> dict[str, set[str]]:
    """The ``### `kind``` sections of docs/events.md and the fields their ``field`` table lists."""
    kinds: dict[str, set[str]] = {}
    current: set[str] | None = None
    section: list[str] = []

    def close() -> None:
        if current is None:
            return
        for table in tables(section):
            if table.header and table.header[0].lower() == "field":
                for row in table.rows:
                    current.update(code_spans(row[0])[:1])

    for line in prose_lines(text):
        m = _H3_KIND.match(line)
        if m or _HEADING.match(line):
            close()
            section = []
            current = None
            if m:
                current = kinds.setdefault(m.group("kind"), set())
            continue
        section.append(line)
    close()
    return kinds


def check_events(doc_text: str) -> list[str]:
    """Drift between game/engine/events.py and docs/events.md."""
    problems: list[str] = []
    code = code_events()
    docs = doc_events(doc_text)
    for kind, fields in sorted(code.items()):
        documented = docs.get(kind)
        if documented is None:
            problems.append(f"{EVENTS_DOC}: event kind {kind!r} is in the code but not documented")
            continue
        for name in sorted(fields - documented):
            problems.append(f"{EVENTS_DOC}: {kind}.{name} is in the code but not documented")
        for name in sorted(documented - fields):
            problems.append(f"{EVENTS_DOC}: {kind}.{name} is documented but not in the code")
    for kind in sorted(set(docs) - set(code)):
        problems.append(f"{EVENTS_DOC}: event kind {kind!r} is documented but not in the code")
    return problems


# -- 5. README ------------------------------------------------------------------------------------


def check_readme(commands: Iterable[str], text: str) -> list[str]:
    """Subcommands that README.md never mentions as ``cybermesh NAME``."""
    return [
        f"{README}: never mentions 'cybermesh {name}'"
        for name in sorted(commands)
        if not re.search(rf"cybermesh\s+{re.escape(name)}\b", text)
    ]


# -- main -----------------------------------------------------------------------------------------


def _read(path: Path, problems: list[str]) -> str:
    """The text of ``ROOT / path``, or "" after noting that it is missing."""
    try:
        return (ROOT / path).read_text(encoding="utf-8")
    except OSError as err:
        problems.append(f"{path}: cannot read: {err.strerror}")
        return ""


def main(argv: list[str] | None = None) -> int:
    """Run every check; print one line per drift (exit 1) or one OK line (exit 0)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--design", type=Path, help="design brief to read the stable flags from")
    args = ap.parse_args(argv)

    problems: list[str] = []
    code = code_cli()
    problems += check_cli(code, _read(CLI_DOC, problems))
    design = args.design or (ROOT / DESIGN if (ROOT / DESIGN).is_file() else None)
    stable = STABLE_FLAGS
    if design is not None:
        parsed = parse_design(design.read_text(encoding="utf-8"))
        stable = parsed or STABLE_FLAGS
    problems += check_stable_flags(code, stable)
    problems += check_config(_read(CONFIG_DOC, problems), _read(DEFAULT_YAML, problems))
    problems += check_events(_read(EVENTS_DOC, problems))
    commands = [name for name in code if name]
    problems += check_readme(commands, _read(README, problems))

    for line in problems:
        print(line)
    if problems:
        print(f"check_spec_drift: {len(problems)} drift(s) between the docs and the code")
        return 1
    flags = sum(len(spec.flags) for spec in code.values())
    print(
        f"check_spec_drift: OK, {len(commands)} commands, {flags} flags, "
        f"{len(config_keys())} config keys, {len(code_events())} event kinds documented"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
