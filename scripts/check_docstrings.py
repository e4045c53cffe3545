#!/usr/bin/env python3
"""Documentation gate: every public module, class, function and method has a docstring.

Walks the code folders (game/, components/, systems/, web/, scripts/) with :mod:`ast`, so nothing
is imported. A name is public when it does not start with ``_``; ``__init__`` methods are exempt
(the class docstring describes construction), as are functions nested inside functions, members
of private classes, ``@overload`` stubs and property setters/deleters. A module is public when
its file name does not start with ``_`` (package ``__init__.py`` files count as public modules).

Prints each missing docstring as ``path:line: name`` and exits 1; otherwise prints one OK line
and exits 0. Usage: ``python scripts/check_docstrings.py [FOLDER ...]``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The folders the gate covers, relative to the repository root.
CODE_FOLDERS: tuple[str, ...] = ("game", "components", "systems", "web", "scripts")

_SKIP_DIRS = {"__pycache__", ".venv", "node_modules", "vendor", "static"}

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, slots=True)
class Missing:
    """One definition without a docstring."""

    path: str
    line: int
    name: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.name}"


def is_public(name: str) -> bool:
    """Tell whether ``name`` is public: it does not start with an underscore."""
    return not name.startswith("_")


def _decorator_names(node: FunctionNode) -> set[str]:
    """Collect the dotted names of ``node``'s decorators, e.g. ``{"overload", "x.setter"}``."""
    names: set[str] = set()
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        names.add(ast.unparse(target))
    return names


def _exempt_function(node: FunctionNode) -> bool:
    """Overload stubs and property setters/deleters share the documented getter's docstring."""
    for name in _decorator_names(node):
        if name in {"overload", "typing.overload"}:
            return True
        if name.endswith((".setter", ".deleter")):
            return True
    return False


def _walk_body(body: Sequence[ast.stmt], prefix: str, path: str) -> Iterator[Missing]:
    """Check the public definitions directly in ``body`` (a module's or a public class's)."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            if not is_public(node.name):
                continue
            qualname = f"{prefix}{node.name}"
            if ast.get_docstring(node) is None:
                yield Missing(path, node.lineno, qualname)
            yield from _walk_body(node.body, qualname + ".", path)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not is_public(node.name) or _exempt_function(node):
                continue
            if ast.get_docstring(node) is None:
                yield Missing(path, node.lineno, f"{prefix}{node.name}")
        elif isinstance(node, ast.If | ast.Try):
            # Definitions under ``if TYPE_CHECKING:`` or ``try: ... except ImportError:``.
            blocks: list[Sequence[ast.stmt]] = [node.body, node.orelse]
            if isinstance(node, ast.Try):
                blocks.append(node.finalbody)
                blocks.extend(handler.body for handler in node.handlers)
            for block in blocks:
                yield from _walk_body(block, prefix, path)


def check_source(source: str, path: str) -> list[Missing]:
    """Every missing docstring in one module's ``source``; ``path`` names it in the report."""
    tree = ast.parse(source, filename=path)
    missing: list[Missing] = []
    file = Path(path)
    is_package = file.name == "__init__.py"
    if (is_package or is_public(file.name)) and ast.get_docstring(tree) is None:
        kind, name = ("package", file.parent.name) if is_package else ("module", file.stem)
        missing.append(Missing(path, 1, f"{kind} {name}"))
    missing.extend(_walk_body(tree.body, "", path))
    return missing


def python_files(folders: Sequence[Path]) -> Iterator[Path]:
    """Yield the ``.py`` files under ``folders`` in order, skipping caches and vendored code."""
    for folder in folders:
        if folder.is_file() and folder.suffix == ".py":
            yield folder
            continue
        for file in sorted(folder.rglob("*.py")):
            if not _SKIP_DIRS.intersection(file.relative_to(folder).parts[:-1]):
                yield file


def _display(path: Path) -> str:
    """``path`` relative to the repository root when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Check the given folders (default :data:`CODE_FOLDERS`); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    folders = [Path(a) for a in args] if args else [ROOT / f for f in CODE_FOLDERS]
    absent = [f for f in folders if not f.exists()]
    if absent:
        for folder in absent:
            print(f"check_docstrings: {folder}: no such file or folder", file=sys.stderr)
        return 2
    missing: list[Missing] = []
    count = 0
    for file in python_files(folders):
        count += 1
        try:
            source = file.read_text(encoding="utf-8")
            missing.extend(check_source(source, _display(file)))
        except SyntaxError as err:
            print(f"{_display(file)}:{err.lineno}: cannot parse: {err.msg}")
            return 1
    for item in missing:
        print(item)
    if missing:
        print(f"check_docstrings: {len(missing)} missing docstring(s) in {count} files")
        return 1
    print(f"check_docstrings: OK, every public definition in {count} files has a docstring")
    return 0


if __name__ == "__main__":
    sys.exit(main())
