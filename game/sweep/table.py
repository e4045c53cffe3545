"""A sweep's table on disk: ``runs.csv`` appended run by run, ``runs.parquet`` rewritten from it.

Each finished run is appended to ``runs.csv`` at once (flushed and synced); ``runs.parquet`` is
rewritten from it at checkpoints and at the end. Beside them, ``sweep.json`` says what the table
holds and ``spec.yaml`` is the spec it came from. ``--resume`` and the report read them back.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from game.errors import BadInput
from game.files import read_bytes
from game.sweep.spec import Plan

Report = dict[str, Any]


CSV_NAME = "runs.csv"
PARQUET_NAME = "runs.parquet"
META_NAME = "sweep.json"
SPEC_NAME = "spec.yaml"

Row = dict[str, Any]


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "bool":
        return "true" if value else "false"
    if kind == "float":
        return repr(float(value))  # repr round-trips every float exactly
    return str(value)


def _parse(text: str, kind: str) -> Any:
    if kind == "str":
        return text
    if text == "":
        return None
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if text not in ("true", "false"):
        raise ValueError(f"expected true or false, got {text!r}")
    return text == "true"


def csv_line(row: Row, columns: list[tuple[str, str]]) -> str:
    """One row as a CSV line (with its newline), as :func:`read_csv` reads it back."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_cell(row.get(c), k) for c, k in columns])
    return buf.getvalue()


def read_csv(path: Path, columns: list[tuple[str, str]], repair: bool = False) -> list[Row]:
    """The rows of a table's CSV; a partial last line (a killed writer's) is left out.

    With ``repair`` that partial line is also cut from the file, so appending goes on cleanly.
    """
    data = path.read_bytes() if path.exists() else b""
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        print(f"cybermesh sweep: {path}: a partial last row ({len(data) - keep} bytes) is "
              "dropped; its run runs again", file=sys.stderr)
        data = data[:keep]
        if repair:
            with path.open("r+b") as f:
                f.truncate(keep)
    lines = data.decode("utf-8").splitlines(keepends=True)
    reader = csv.reader(lines)
    header = next(reader, None)
    names = [c for c, _ in columns]
    if header is None:
        return []
    if header != names:
        raise BadInput(f"{path}: its columns are not this spec's ({', '.join(header[:6])}, ...)")
    rows = []
    for number, cells in enumerate(reader, start=2):
        try:
            if len(cells) != len(columns):
                raise ValueError(f"{len(cells)} cells, expected {len(columns)}")
            rows.append({c: _parse(t, k) for (c, k), t in zip(columns, cells, strict=True)})
        except ValueError as err:
            raise BadInput(f"{path}: line {number}: {err}") from None
    return rows


def latest(rows: list[Row]) -> list[Row]:
    """One row per run, the last written (a rerun replaces a failed row), in run order."""
    by_id = {r["run_id"]: r for r in rows}
    return sorted(by_id.values(), key=lambda r: r["run"])


def write_parquet(path: Path, rows: list[Row], columns: list[tuple[str, str]]) -> None:
    """Write ``rows`` as Parquet, atomically (a reader never sees half a file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}
    schema = pa.schema([(c, types[k]) for c, k in columns])
    table = pa.table({c: [r.get(c) for r in rows] for c, _ in columns}, schema=schema)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file: a reader never sees half."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_meta(folder: Path) -> Report:
    """A sweep folder's ``sweep.json``; BadInput when there is none or it is unreadable."""
    path = folder / META_NAME
    try:
        meta: Report = json.loads(read_bytes(path, "a sweep's sweep.json"))
    except json.JSONDecodeError as err:
        raise BadInput(f"{path}: not valid JSON: {err}") from None
    meta["columns"] = [tuple(c) for c in meta["columns"]]
    return meta


class Table:
    """A sweep's table in ``out``: ``runs.csv`` appended run by run, ``runs.parquet`` from it.

    Opening it without ``resume`` refuses a folder that already holds a sweep; with ``resume``
    it reads the rows there (they must be runs of ``plan``) and appends after them.
    """

    #: Rewrite runs.parquet after this many new rows or seconds, whichever comes first.
    CHECKPOINT_ROWS = 50
    CHECKPOINT_S = 30.0

    def __init__(self, out: Path, plan: Plan, resume: bool) -> None:
        self.out = out
        self.columns = plan.columns
        self.csv = out / CSV_NAME
        self.parquet = out / PARQUET_NAME
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise BadInput(f"--out {out}: cannot create it: {err.strerror or err}") from None
        rows = self._existing(plan, resume)
        self.rows: dict[str, Row] = {r["run_id"]: r for r in latest(rows)}
        meta = {"version": 1, "scenario": plan.scenario.name, "spec": plan.source,
                "runs": len(plan.runs), "columns": self.columns,
                "params": [c for c, _ in plan.params], "metrics": list(plan.scenario.metrics),
                "plot": plan.plot, "retries": plan.spec.retries}
        try:
            write_atomic(out / META_NAME, json.dumps(meta, indent=1) + "\n")
            write_atomic(out / SPEC_NAME, plan.text)
            self._file = self.csv.open("a", encoding="utf-8", newline="")
        except OSError as err:
            raise BadInput(f"--out {out}: cannot write the table there: "
                           f"{err.strerror or err}") from None
        if not rows and self._file.tell() == 0:
            self._file.write(",".join(c for c, _ in self.columns) + "\n")
            self._file.flush()
        self._since, self._last = 0, time.monotonic()

    def _existing(self, plan: Plan, resume: bool) -> list[Row]:
        if not (self.out / META_NAME).exists() and not self.csv.exists():
            return []
        rows = read_csv(self.csv, self.columns, repair=resume) if self.csv.exists() else []
        if not resume:
            raise BadInput(f"--out {self.out}: holds a sweep already ({len(latest(rows))} runs):"
                           " add --resume to complete it, or choose another --out")
        meta = read_meta(self.out) if (self.out / META_NAME).exists() else None
        if meta is not None and (meta["scenario"], meta["columns"]) != (
                plan.scenario.name, self.columns):
            raise BadInput(f"--out {self.out}: holds a sweep of another spec (scenario "
                           f"{meta['scenario']}, other columns): choose another --out")
        ids = {r.run_id for r in plan.runs}
        strangers = {r["run_id"] for r in rows} - ids
        if strangers:
            raise BadInput(f"--out {self.out}: {len(strangers)} runs in its table are not runs "
                           "of this spec (its config, seeds or grid changed?): choose another "
                           "--out")
        return rows

    @property
    def finished(self) -> set[str]:
        """Run ids with a successful row."""
        return {i for i, r in self.rows.items() if r["status"] == "ok"}

    def append(self, row: Row) -> None:
        """Add one run's row now: written, flushed and synced before this returns."""
        self._file.write(csv_line(row, self.columns))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.rows[row["run_id"]] = row
        self._since += 1
        if self._since >= self.CHECKPOINT_ROWS or time.monotonic() - self._last > self.CHECKPOINT_S:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Rewrite runs.parquet from every row so far."""
        write_parquet(self.parquet, latest(list(self.rows.values())), self.columns)
        self._since, self._last = 0, time.monotonic()

    def close(self) -> None:
        """Write runs.parquet, and runs.csv compacted to the same rows in run order."""
        self._file.close()
        rows = latest(list(self.rows.values()))
        write_parquet(self.parquet, rows, self.columns)
        header = ",".join(c for c, _ in self.columns) + "\n"
        write_atomic(self.csv, header + "".join(csv_line(r, self.columns) for r in rows))
