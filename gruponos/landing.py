"""Landings: an entity's extraction, then its validated parts, as Parquet files on disk.

The flows run extract, validate and load as separate tasks (each retried and cached on its
own); a landing is what passes between them, so a failed load is retried from disk without
asking the WMS again. Everything is Parquet, so a landing can be inspected with DuckDB::

    select * from 'data/landing/allocation/<run id>/parts/part-00001.parquet'

Layout of ``<landing path>/<entity>/<run id>/``:

- ``pages.parquet``: the decoded pages, one row group per page (the catalog's columns);
- ``bodies.parquet``: per page, the raw body (to quarantine a record as the WMS sent it) and
  what decode found (rejected values, new fields and their text, the resume point);
- ``parts/part-NNNNN.parquet`` and ``part-NNNNN.rejected.parquet``: the valid rows of one load
  transaction (with ``_resume_after``) and the records it quarantines;
- ``extracted.json`` / ``validated.json``: written last (by rename): a step is complete only
  when its marker exists, so a crash never leaves a landing that looks finished.

Landings of runs that died are removed by the next run of the same entity (which holds the
entity's lock), and a landing is removed once it is loaded.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

from gruponos.entities import EntitySpec
from gruponos.pipeline import Part
from gruponos.quality import Rejection
from gruponos.wms import Page

__all__ = [
    "Landed",
    "PageWriter",
    "Validated",
    "clear_stale",
    "folder",
    "read_pages",
    "read_parts",
    "remove",
    "write_parts",
]

_BODIES = pa.schema([("body", pa.binary()), ("meta", pa.string())])
_REJECTED = pa.schema(
    [("record_id", pa.int64()), ("rule", pa.string()), ("message", pa.string()), ("raw", pa.binary())]
)
_RESUME = "_resume_after"


def folder(root: Path | str, entity: str, run_id: str) -> Path:
    """Where one run of one entity lands."""
    return Path(root) / entity / run_id


def clear_stale(root: Path | str, entity: str, run_id: str) -> list[Path]:
    """Remove the landings of other runs of ``entity`` (runs that died); call holding its lock."""
    removed = []
    base = Path(root) / entity
    if base.is_dir():
        for old in base.iterdir():
            if old.name != run_id:
                shutil.rmtree(old, ignore_errors=True)
                removed.append(old)
    return removed


@dataclass(frozen=True, slots=True)
class Landed:
    """An extraction on disk: where, how much, and the API's own count."""

    path: Path
    pages: int
    rows: int
    sent: int
    result_count: int | None


@dataclass(frozen=True, slots=True)
class Validated:
    """Validated parts on disk, waiting for ``load``."""

    path: Path
    parts: int
    extracted: int
    rejected: int


class PageWriter:
    """Append decoded pages to a landing (``pages.parquet`` + ``bodies.parquet``)."""

    def __init__(self, path: Path, spec: EntitySpec) -> None:
        self.path = path
        self.pages = self.rows = self.sent = 0
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        self._spec = spec
        self._rows = pq.ParquetWriter(path / "pages.parquet", spec.schema, compression="lz4")
        self._bodies = pq.ParquetWriter(path / "bodies.parquet", _BODIES, compression="lz4")

    def write(self, page: Page, resume_after: int | None) -> None:
        self._rows.write_batch(page.batch)
        meta = {
            "resume_after": resume_after,
            "result_count": page.result_count,
            "sent": page.sent,
            "invalid_rows": {k: list(v) for k, v in page.invalid_rows.items()},
            "unknown": sorted(page.unknown_fields),
            "missing": sorted(page.missing_fields),
            "extras": {k: v.to_pylist() for k, v in page.extras.items()},
            "positions": list(page.positions) if page.positions is not None else None,
        }
        self._bodies.write_batch(pa.record_batch([[page.body], [json.dumps(meta)]], schema=_BODIES))
        self.pages += 1
        self.rows += page.batch.num_rows
        self.sent += page.sent

    def close(self, result_count: int | None) -> Landed:
        """Close the files and write the marker: from now on the extraction is complete."""
        self._rows.close()
        self._bodies.close()
        landed = Landed(self.path, self.pages, self.rows, self.sent, result_count)
        summary = {"pages": self.pages, "rows": self.rows, "sent": self.sent, "result_count": result_count}
        _mark(self.path / "extracted.json", summary)
        return landed

    def abort(self) -> None:
        self._rows.close()
        self._bodies.close()

    def __enter__(self) -> PageWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is not None:
            self.abort()


def read_pages(landed: Landed) -> Iterator[tuple[Page, int | None]]:
    """The landed pages in order, each with the resume point recorded beside it."""
    if not (landed.path / "extracted.json").exists():
        raise FileNotFoundError(f"{landed.path} holds no complete extraction")
    rows = pq.ParquetFile(landed.path / "pages.parquet")
    bodies = pq.ParquetFile(landed.path / "bodies.parquet")
    for index in range(rows.num_row_groups):
        batch = rows.read_row_group(index).combine_chunks().to_batches()
        body = bodies.read_row_group(index).to_pylist()[0]
        meta = json.loads(body["meta"])
        page = Page(
            batch=batch[0] if batch else pa.RecordBatch.from_pylist([], schema=rows.schema_arrow),
            result_count=meta["result_count"],
            unknown_fields=frozenset(meta["unknown"]),
            missing_fields=frozenset(meta["missing"]),
            invalid_rows={k: tuple(v) for k, v in meta["invalid_rows"].items()},
            extras={k: pa.array(v, type=pa.string()) for k, v in meta["extras"].items()},
            body=body["body"],
            sent=meta["sent"],
            positions=tuple(meta["positions"]) if meta["positions"] is not None else None,
        )
        yield page, meta["resume_after"]


def write_parts(path: Path, parts: Iterator[Part]) -> Validated:
    """Write validated parts under ``path/parts`` and the marker; returns what was written."""
    target = path / "parts"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    count = extracted = rejected = 0
    columns: dict[str, str] = {}
    unknown: set[str] = set()
    missing: set[str] = set()
    for part in parts:
        count += 1
        extracted += part.extracted
        rejected += len(part.rejections)
        columns |= part.new_columns
        unknown |= part.unknown_fields
        missing |= part.missing_fields
        resume = pa.array([part.resume_after] * part.batch.num_rows, type=pa.int64())
        table = pa.Table.from_batches([part.batch]).append_column(_RESUME, resume)
        pq.write_table(table, target / f"part-{count:05d}.parquet", compression="lz4")
        refused = pa.table(
            [
                pa.array([r.record_id for r in part.rejections], pa.int64()),
                pa.array([r.rule for r in part.rejections], pa.string()),
                pa.array([r.message for r in part.rejections], pa.string()),
                pa.array([r.raw for r in part.rejections], pa.binary()),
            ],
            schema=_REJECTED,
        )
        pq.write_table(refused, target / f"part-{count:05d}.rejected.parquet", compression="lz4")
        meta = {
            "extracted": part.extracted,
            "resume_after": part.resume_after,
            "columns": part.new_columns,
            "unknown": sorted(part.unknown_fields),
            "missing": sorted(part.missing_fields),
        }
        (target / f"part-{count:05d}.json").write_text(json.dumps(meta))
    _mark(path / "validated.json", {"parts": count, "extracted": extracted, "rejected": rejected, "columns": columns})
    return Validated(path, count, extracted, rejected)


def read_parts(validated: Validated, spec: EntitySpec) -> Iterator[Part]:
    """The validated parts in order (one load transaction each)."""
    if not (validated.path / "validated.json").exists():
        raise FileNotFoundError(f"{validated.path} holds no complete validation")
    target = validated.path / "parts"
    for index in range(1, validated.parts + 1):
        meta = json.loads((target / f"part-{index:05d}.json").read_text())
        table = pq.read_table(target / f"part-{index:05d}.parquet").drop_columns([_RESUME])
        batches = table.combine_chunks().to_batches()
        batch = batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)
        refused = pq.read_table(target / f"part-{index:05d}.rejected.parquet").to_pylist()
        yield Part(
            batch=batch,
            rejections=[Rejection(r["record_id"], r["rule"], r["message"], r["raw"]) for r in refused],
            extracted=meta["extracted"],
            resume_after=meta["resume_after"],
            new_columns=meta["columns"],
            unknown_fields=frozenset(meta["unknown"]),
            missing_fields=frozenset(meta["missing"]),
        )


def remove(path: Path) -> None:
    """Remove a landing once it is loaded."""
    shutil.rmtree(path, ignore_errors=True)


def _mark(marker: Path, content: Mapping[str, object]) -> None:
    """Write a completion marker atomically (synced, then renamed into place)."""
    partial = marker.with_name(marker.name + ".partial")
    with partial.open("w") as out:
        json.dump(content, out)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(marker)
