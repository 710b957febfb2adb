"""Contracts: split decoded pages into valid rows and quarantined ones, column-wise.

Rules: values that could be read as their field's kind (decode names the records whose value
could not: ``type:``, ``precision:``, ``encoding:``), required fields present, strings within
their length limits, foreign keys well-formed, and each entity's declared checks
(non-negative quantities, ``packed_qty <= alloc_qty``). Schema drift — a field the catalog
does not know, or one that vanished, from any record — is reported; the ``freeze`` policy
turns it into a failure, ``evolve`` keeps every new field's values as a text column named by
``entities.column_name``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import pyarrow as pa
import pyarrow.compute as pc
from returns.result import Failure, Result, Success

from gruponos.entities import Check, EntitySpec, Kind, column_name
from gruponos.errors import SyncError

__all__ = ["Checked", "DriftPolicy", "Rejection", "check", "new_columns"]

DriftPolicy = Literal["evolve", "freeze"]
_Flag = Callable[[pa.Array, str, str], None]
_WHY = {
    "type": "could not be read as {kind}",
    "precision": "has more precision than the warehouse keeps (sub-microsecond digits)",
    "encoding": "is not storable text (invalid UTF-8, a NUL or a lone surrogate)",
}


class Page(Protocol):
    """What the contract needs of a decoded page (``gruponos.wms.Page`` is one)."""

    @property
    def batch(self) -> pa.RecordBatch: ...
    @property
    def unknown_fields(self) -> frozenset[str]: ...
    @property
    def missing_fields(self) -> frozenset[str]: ...
    @property
    def invalid_rows(self) -> Mapping[str, tuple[int, ...]]: ...
    @property
    def extras(self) -> Mapping[str, pa.Array]: ...
    def raw_records(self, rows: Sequence[int]) -> list[bytes]: ...


@dataclass(frozen=True, slots=True)
class Rejection:
    """One quarantined record: which rule it broke and the record as the WMS sent it."""

    record_id: int | None
    rule: str
    message: str
    raw: bytes


@dataclass(slots=True)
class Checked:
    """Pages after the contract: the rows to load, the rows to quarantine, the drift seen.

    ``new_columns`` maps each new field to the text column that holds it.
    """

    batch: pa.RecordBatch
    rejections: list[Rejection] = field(default_factory=list)
    unknown_fields: frozenset[str] = frozenset()
    missing_fields: frozenset[str] = frozenset()
    new_columns: dict[str, str] = field(default_factory=dict)
    extracted: int = 0


def new_columns(spec: EntitySpec, fields: Iterable[str]) -> dict[str, str]:
    """The text column of each new field (sorted, so the same fields always get the same columns)."""
    taken = spec.taken()
    out: dict[str, str] = {}
    for name in sorted(fields):
        out[name] = column_name(name, taken)
        taken.add(out[name])
    return out


def check(spec: EntitySpec, pages: Sequence[Page], *, policy: DriftPolicy = "evolve") -> Result[Checked, SyncError]:
    """Apply the entity's contract to some pages at once (one pass over their rows)."""
    unknown = frozenset().union(*(p.unknown_fields for p in pages))
    missing = frozenset().union(*(p.missing_fields for p in pages))
    if policy == "freeze" and (unknown or missing):
        drift = [
            f"new fields {sorted(unknown)}" if unknown else "",
            f"vanished fields {sorted(missing)}" if missing else "",
        ]
        return Failure(
            SyncError(
                spec.name,
                "check",
                "schema drift with GRUPONOS_QUALITY__DRIFT_POLICY=freeze: " + "; ".join(d for d in drift if d),
                rule="schema_drift",
            )
        )
    batches = [p.batch for p in pages]
    starts = list(itertools.accumulate((b.num_rows for b in batches), initial=0))
    batch = _concat(spec, batches)
    invalid = {
        rule: tuple(
            start + row for page, start in zip(pages, starts, strict=False) for row in page.invalid_rows.get(rule, ())
        )
        for rule in {r for p in pages for r in p.invalid_rows}
    }
    columns = new_columns(spec, unknown) if policy == "evolve" else {}
    if columns:
        batch = _with_new_fields(batch, pages, columns)
    broken = _violations(spec, batch, invalid)
    rejections: list[Rejection] = []
    if broken:
        ids = batch.column("id").to_pylist()
        for index, page in enumerate(pages):
            local = [row - starts[index] for row in sorted(broken) if starts[index] <= row < starts[index + 1]]
            for row, raw in zip(local, page.raw_records(local), strict=True):
                rules = broken[row + starts[index]]
                record_id = ids[row + starts[index]]
                rejections.append(
                    Rejection(
                        record_id=record_id,
                        rule=rules[0][0],
                        message=f"{spec.name} id {record_id}: " + "; ".join(msg for _, msg in rules),
                        raw=raw,
                    )
                )
        batch = batch.filter(pa.array([i not in broken for i in range(batch.num_rows)]))
    return Success(
        Checked(
            batch=batch,
            rejections=rejections,
            unknown_fields=unknown,
            missing_fields=missing,
            new_columns=columns,
            extracted=starts[-1],
        )
    )


def _concat(spec: EntitySpec, batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if not batches:
        return pa.RecordBatch.from_pylist([], schema=spec.schema)
    if len(batches) == 1:
        return batches[0]
    # the system allocator gives the copy back when the batch is loaded (mimalloc kept it)
    table = pa.Table.from_batches(batches).combine_chunks(memory_pool=pa.system_memory_pool())
    return table.to_batches()[0] if table.num_rows else batches[0]


def _violations(
    spec: EntitySpec, batch: pa.RecordBatch, invalid_rows: Mapping[str, tuple[int, ...]]
) -> dict[int, list[tuple[str, str]]]:
    """Row position → [(rule, message)], computed column by column.

    Every rule's mask is computed once; only when some row breaks some rule are the rows
    and rules named (the common, clean page costs one pass and no Python per row).
    """
    broken: dict[int, list[tuple[str, str]]] = {}
    masks: list[tuple[pa.Array, str, str]] = []

    def flag(mask: pa.Array, rule: str, message: str) -> None:
        masks.append((mask, rule, message))

    for rule, rows in invalid_rows.items():
        what, _, name = rule.partition(":")
        kind = spec.field(name).kind.value if spec.has(name) else "text"
        message = f"{name} " + _WHY.get(what, "is invalid").format(kind=kind)
        for row in rows:
            broken.setdefault(row, []).append((rule, message))
    for f in spec.fields:
        if f.kind is Kind.SET:
            continue
        cols = spec.columns_of(f)
        main = batch.column(cols[0].name)
        if f.required and main.null_count:
            flag(pc.is_null(main), f"required:{f.name}", f"{f.name} is required but missing")
        if f.kind is Kind.STR and f.max_length:
            too_long = pc.greater(pc.utf8_length(main), f.max_length)
            flag(too_long, f"max_length:{f.name}", f"{f.name} is longer than {f.max_length} characters")
        if f.kind is Kind.FK:
            key = batch.column(cols[1].name)
            flag(pc.less_equal(main, 0), f"fk:{f.name}", f"{f.name} id is not a positive integer")
            if main.null_count > key.null_count:
                flag(pc.and_(pc.is_null(main), pc.is_valid(key)), f"fk:{f.name}", f"{f.name} has a key but no id")
            flag(pc.greater(pc.utf8_length(key), 255), f"fk:{f.name}", f"{f.name} key is longer than 255 characters")
    for c in spec.checks:
        _apply(c, batch, flag)
    if not masks:
        return broken
    combined = masks[0][0]
    for mask, _, _ in masks[1:]:
        combined = pc.or_kleene(combined, mask)
    if not pc.any(combined).as_py():  # nulls are "no violation"
        return broken
    for mask, rule, message in masks:
        mask = pc.fill_null(mask, False)
        if pc.any(mask).as_py():
            for row in pc.indices_nonzero(mask).to_pylist():
                broken.setdefault(row, []).append((rule, message))
    return broken


def _apply(c: Check, batch: pa.RecordBatch, flag: _Flag) -> None:
    if c.kind == "non_negative":
        for name in c.columns:
            flag(pc.less(batch.column(name), 0), c.name, f"{name} is negative")
    elif c.kind == "not_greater":
        left, right = c.columns
        flag(pc.greater(batch.column(left), batch.column(right)), c.name, f"{left} is greater than {right}")


def _with_new_fields(batch: pa.RecordBatch, pages: Sequence[Page], columns: dict[str, str]) -> pa.RecordBatch:
    """Append the new fields' text, page by page (null where a page did not have the field)."""
    for name, column in columns.items():
        parts = [p.extras.get(name, pa.nulls(p.batch.num_rows, pa.string())) for p in pages]
        values = pa.concat_arrays([pc.cast(v, pa.string()) for v in parts]) if parts else pa.array([], pa.string())
        batch = batch.append_column(pa.field(column, pa.string()), values)
    return batch
