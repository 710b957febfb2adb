"""WMS page bodies → Arrow record batches with exactly ``EntitySpec.schema``, nothing lost.

The common page is read straight into Arrow by pyarrow's C++ JSON reader against the catalog's
*wire* schema (FK objects as ``struct<id, key>``, child sets as ``struct<result_count>``,
decimals/timestamps/dates as strings), then flattened and cast column by column. Fields the
catalog does not know are *inferred* by the same reader, so schema drift is the union over
every record of the page and each new field's values arrive (as text) for every record.

Anything unusual takes the slow path, which types value by value. A value is stored as sent
or its record is rejected with a rule, never coerced:

- ``type:<field>``: the value is not of the field's kind (a float or a numeric string in an
  integer field, an out-of-range integer, a decimal that does not fit ``decimal(28, 8)``, a
  timestamp without an offset, ...);
- ``precision:<field>``: a timestamp with non-zero digits beyond microseconds (the warehouses
  store microseconds; nanoseconds would be cut);
- ``encoding:<field>``: text that is not valid UTF-8, holds a NUL, or a lone surrogate.

A rejected record is kept out of the batch's valid values (its bad value is null) and named in
``Page.invalid_rows``; the quality layer quarantines it with its raw JSON. Only a body that is
not a WMS page at all (truncated, not JSON) raises ``PageDecodeError`` (a retry may help).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from gruponos.entities import DECIMAL_TYPE, TIMESTAMP_TYPE, EntitySpec, Kind
from gruponos.entities import Field as EntityField
from gruponos.wms.values import BAD_TEXT, PARSE, TIME_PATTERN, WIRE_CHECK, Encoding, Precision

__all__ = ["Page", "PageDecodeError", "decode_page", "decode_records"]

_FK_WIRE = pa.struct([("id", pa.int64()), ("key", pa.string())])
_SET_WIRE = pa.struct([("result_count", pa.int64())])
_WIRE: dict[Kind, pa.DataType] = {
    Kind.INT: pa.int64(),
    Kind.STATUS: pa.int64(),
    Kind.STR: pa.string(),
    Kind.TIME: pa.string(),
    Kind.DECIMAL: pa.string(),
    Kind.TS: pa.string(),
    Kind.DATE: pa.string(),
    Kind.FLG: pa.bool_(),
    Kind.FK: _FK_WIRE,
    Kind.SET: _SET_WIRE,
}
_CAST: dict[Kind, pa.DataType] = {Kind.DECIMAL: DECIMAL_TYPE, Kind.TS: TIMESTAMP_TYPE, Kind.DATE: pa.date32()}
# Decoding allocates (the parser's short-lived buffers, the flattened and cast columns) from
# the system allocator: on the fetching threads, pyarrow's default (mimalloc) kept memory per
# thread resident for no speed gain (bench_extract measures the difference).
_POOL = pa.system_memory_pool()
# Members every record carries that the catalog deliberately does not store (the self link).
_IGNORED = frozenset({"url"})
Rows = dict[str, list[int]]  # rule → row positions


class PageDecodeError(ValueError):
    """The body is not a WMS page: truncated or undecodable JSON, or the wrong shape."""


@dataclass(frozen=True, slots=True)
class Page:
    """One decoded page: its rows as a record batch plus the envelope and what did not fit.

    ``invalid_rows`` maps a rule (``type:<field>``, ``precision:<field>``, ``encoding:<field>``)
    to the batch rows that broke it; ``extras`` holds the values of fields the catalog does not
    know, as text aligned with the batch; ``positions`` maps batch rows to the records of
    ``body`` once rows were dropped (None: row i is record i).
    """

    batch: pa.RecordBatch
    next_page: str | None = None
    result_count: int | None = None
    page_count: int | None = None
    page_nbr: int | None = None
    unknown_fields: frozenset[str] = frozenset()
    missing_fields: frozenset[str] = frozenset()
    invalid_rows: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    extras: Mapping[str, pa.Array] = field(default_factory=dict)
    body: bytes = b""  # the raw page, so rejected rows can be quarantined as the WMS sent them
    sent: int = 0  # records the WMS sent on this page
    positions: tuple[int, ...] | None = None

    @property
    def invalid_values(self) -> dict[str, int]:
        """Rule → how many records of the page broke it."""
        return {rule: len(rows) for rule, rows in self.invalid_rows.items()}

    def raw_records(self, rows: Sequence[int]) -> list[bytes]:
        """The JSON of the records at these batch rows, as the WMS sent them (escaped if not UTF-8)."""
        if not rows:
            return []
        results = _parse(self.body)["results"]
        index = [self.positions[r] if self.positions is not None else r for r in rows]
        return [_dump(results[i]) for i in index]

    def select(self, keep: pa.BooleanArray) -> Page:
        """The page with only the rows where ``keep`` is true (rules and extras follow the rows)."""
        kept = pc.indices_nonzero(keep).to_pylist()
        new_position = {old: new for new, old in enumerate(kept)}
        invalid = {
            rule: tuple(new_position[r] for r in rows if r in new_position) for rule, rows in self.invalid_rows.items()
        }
        base = self.positions
        return replace(
            self,
            batch=self.batch.filter(keep),
            invalid_rows={rule: rows for rule, rows in invalid.items() if rows},
            extras={name: values.filter(keep) for name, values in self.extras.items()},
            positions=tuple(base[i] if base is not None else i for i in kept),
        )


def decode_page(spec: EntitySpec, body: bytes) -> Page:
    """Decode one list page (paged or sequenced envelope); raises ``PageDecodeError``."""
    fast = _decode_fast(spec, body)
    if fast is not None:
        return fast
    envelope = _parse(body)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("results"), list):
        raise PageDecodeError("not a WMS list page: no 'results' list")
    next_page = envelope.get("next_page")
    if next_page is not None and not isinstance(next_page, str):
        raise PageDecodeError("'next_page' is neither a URL nor null")
    records = envelope["results"]
    batch, unknown, missing, invalid, extras = decode_records(spec, records)
    return Page(
        batch=batch,
        next_page=next_page or None,
        result_count=_optional_int(envelope, "result_count"),
        page_count=_optional_int(envelope, "page_count"),
        page_nbr=_optional_int(envelope, "page_nbr"),
        unknown_fields=unknown,
        missing_fields=missing,
        invalid_rows={k: tuple(v) for k, v in invalid.items()},
        extras=extras,
        body=body,
        sent=len(records),
    )


def decode_records(
    spec: EntitySpec, records: Sequence[Any]
) -> tuple[pa.RecordBatch, frozenset[str], frozenset[str], Rows, dict[str, pa.Array]]:
    """Records (parsed JSON objects) → (batch, new fields, vanished fields, invalid rows, new fields' text)."""
    if not all(isinstance(r, dict) for r in records):
        raise PageDecodeError("a record in 'results' is not a JSON object")
    if not records:
        return _empty_batch(spec), frozenset(), frozenset(), {}, {}
    invalid: Rows = {}
    arrays: list[pa.Array] = []
    for f in spec.fields:
        values = [r.get(f.name) for r in records]
        arrays.extend(_columns(f, _typed(f, values, invalid), invalid))
    seen: set[str] = set().union(*records)
    known = _known_names(spec)
    unknown = sorted(seen - known - _IGNORED)
    extras = {name: _text_column(name, [r.get(name) for r in records], invalid) for name in unknown}
    batch = pa.RecordBatch.from_arrays(arrays, schema=spec.schema)
    return batch, frozenset(unknown), frozenset(known - seen), invalid, extras


# --- the fast path ---------------------------------------------------------------------


def _decode_fast(spec: EntitySpec, body: bytes) -> Page | None:
    """pyarrow.json over the whole body; None when anything is unusual (then: slow path)."""
    if b"\n" in body[:-1]:
        return None
    try:
        table = pa_json.read_json(
            pa.BufferReader(body),
            read_options=pa_json.ReadOptions(block_size=len(body) + 1, use_threads=False),
            memory_pool=_POOL,
            parse_options=pa_json.ParseOptions(explicit_schema=_fast_schema(spec), unexpected_field_behavior="infer"),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != 1 or table.column("results").null_count:
        return None
    chunk = table.column("results").chunk(0)
    records = chunk.flatten()
    if records.null_count:
        return None
    record_type: pa.StructType = records.type
    names = [record_type.field(i).name for i in range(record_type.num_fields)]
    children = records.flatten(memory_pool=_POOL)
    invalid: Rows = {}
    arrays: list[pa.Array] = []
    try:
        for f, column in zip(spec.fields, children, strict=False):
            if not _clean_text(column):
                return None
            arrays.extend(_columns(f, column, invalid))
        known = _known_names(spec)
        extras: dict[str, pa.Array] = {}
        for name, column in zip(names[len(spec.fields) :], children[len(spec.fields) :], strict=True):
            if name in _IGNORED:
                continue
            if not _clean_text(column):
                return None
            extras[name] = _as_text(name, column, invalid)
    except _SlowPath:
        return None
    envelope = table.drop_columns(["results"]).to_pylist()[0]
    missing = _vanished(spec, body, children, known)
    return Page(
        batch=pa.RecordBatch.from_arrays(arrays, schema=spec.schema),
        next_page=envelope.get("next_page") or None,
        result_count=envelope.get("result_count"),
        page_count=envelope.get("page_count"),
        page_nbr=envelope.get("page_nbr"),
        unknown_fields=frozenset(extras),
        missing_fields=missing,
        invalid_rows={k: tuple(v) for k, v in invalid.items()},
        extras=extras,
        body=body,
        sent=len(records),
    )


class _SlowPath(Exception):
    """This page needs the value-by-value path (internal signal)."""


def _clean_text(column: pa.Array) -> bool:
    """Whether the column's text can be stored as it is: valid UTF-8 without NULs (else: slow path)."""
    for text in _text_children(column):
        try:
            text.validate(full=True)
        except pa.ArrowInvalid:
            return False
        if pc.any(pc.match_substring(text, "\x00")).as_py():
            return False
    return True


def _text_children(column: pa.Array) -> list[pa.Array]:
    """The string arrays inside a column (itself, or its struct children)."""
    if pa.types.is_string(column.type):
        return [column]
    if pa.types.is_struct(column.type):
        return [c for c in column.flatten(memory_pool=_POOL) if pa.types.is_string(c.type)]
    return []


def _vanished(spec: EntitySpec, body: bytes, children: list[pa.Array], known: frozenset[str]) -> frozenset[str]:
    """Catalog fields absent from every record: all null, and their name never appears as a key."""
    gone = []
    for f, column in zip(spec.fields, children, strict=False):
        if column.null_count == len(column) and len(column) and f'"{f.name}":'.encode() not in body:
            gone.append(f.name)
    return frozenset(gone) & known


@functools.cache
def _fast_schema(spec: EntitySpec) -> pa.Schema:
    """The page as pyarrow.json should read it: the envelope and the catalog's fields first."""
    return pa.schema(
        [
            ("result_count", pa.int64()),
            ("page_count", pa.int64()),
            ("page_nbr", pa.int64()),
            ("next_page", pa.string()),
            ("results", pa.list_(_wire_type(spec))),
        ]
    )


# --- typing, column by column -------------------------------------------------------------


def _columns(f: EntityField, wire: pa.Array, invalid: Rows) -> list[pa.Array]:
    """One wire column → its table column(s): flatten FKs and sets, cast text to its type."""
    if f.kind is Kind.FK:
        ids, keys = wire.flatten(memory_pool=_POOL)[:2]
        return [ids, keys]
    if f.kind is Kind.SET:
        return [wire.flatten(memory_pool=_POOL)[0]]
    if f.kind is Kind.TIME:
        bad = pc.invert(pc.fill_null(pc.match_substring_regex(wire, TIME_PATTERN.pattern), True))
        if pc.any(bad).as_py():
            rows = pc.indices_nonzero(bad).to_pylist()
            invalid.setdefault(f"type:{f.name}", []).extend(rows)
            wire = pc.if_else(bad, pa.scalar(None, pa.string()), wire)
        return [wire]
    target = _CAST.get(f.kind)
    if target is None:
        return [wire]
    try:
        return [pc.cast(wire, target, memory_pool=_POOL)]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = _each(wire.to_pylist(), PARSE[f.kind], f.name, invalid, own=(Precision, "precision"))
        return [pa.array(out, type=target)]


def _typed(f: EntityField, values: list[Any], invalid: Rows) -> pa.Array:
    """Slow path: one field's Python values → its wire array; what does not fit is null + a rule."""
    out = _each(values, WIRE_CHECK[f.kind], f.name, invalid, own=(Encoding, "encoding"))
    return pa.array(out, type=_WIRE[f.kind])


def _each(
    values: list[Any], convert: Callable[[Any], Any], name: str, invalid: Rows, *, own: tuple[type[Exception], str]
) -> list[Any]:
    """``convert`` of each non-null value; a value it refuses becomes null, its row listed under a rule:
    ``own``'s rule for ``own``'s exception, ``type`` for any other ValueError, TypeError or ArithmeticError."""
    special, special_rule = own
    out: list[Any] = []
    for row, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(convert(value))
        except (special, ValueError, TypeError, ArithmeticError) as exc:
            out.append(None)
            rule = special_rule if isinstance(exc, special) else "type"
            invalid.setdefault(f"{rule}:{name}", []).append(row)
    return out


def _text_column(name: str, values: list[Any], invalid: Rows) -> pa.Array:
    """A new field's values as text: strings as sent, other JSON as its JSON spelling."""
    out: list[str | None] = []
    for row, value in enumerate(values):
        if value is None:
            out.append(None)
        elif isinstance(value, str):
            if BAD_TEXT.search(value):
                invalid.setdefault(f"encoding:{name}", []).append(row)
                out.append(None)
            else:
                out.append(value)
        else:
            out.append(_dump(value).decode())
    return pa.array(out, type=pa.string())


def _as_text(name: str, column: pa.Array, invalid: Rows) -> pa.Array:
    """A new field's inferred Arrow column as text (JSON for numbers, booleans, objects, lists)."""
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    if pa.types.is_integer(column.type) or pa.types.is_boolean(column.type):
        return pc.cast(column, pa.string())
    return _text_column(name, column.to_pylist(), invalid)


# --- JSON -----------------------------------------------------------------------------


def _parse(body: bytes) -> Any:
    """The page as Python objects; lone surrogates and invalid UTF-8 survive (as surrogates)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body.decode("utf-8", "surrogateescape"), strict=False)
    except ValueError as exc:
        raise PageDecodeError(f"undecodable JSON ({len(body)} bytes): {exc}") from None


def _dump(record: Any) -> bytes:
    """A record's JSON; with escapes where its text is not valid UTF-8."""
    try:
        return orjson.dumps(record)
    except TypeError:
        return json.dumps(record, ensure_ascii=True).encode()


def _empty_batch(spec: EntitySpec) -> pa.RecordBatch:
    """A record batch of ``spec.schema`` with no rows."""
    return pa.RecordBatch.from_pylist([], schema=spec.schema)


@functools.cache
def _wire_type(spec: EntitySpec) -> pa.DataType:
    """The struct type the API sends for one record of ``spec`` (catalog fields only)."""
    return pa.struct([(f.name, _WIRE[f.kind]) for f in spec.fields])


@functools.cache
def _known_names(spec: EntitySpec) -> frozenset[str]:
    """The wire field names the catalog declares for ``spec``."""
    return frozenset(f.name for f in spec.fields)


def _optional_int(envelope: dict[str, Any], key: str) -> int | None:
    """An integer envelope member, or None when absent (sequenced mode)."""
    value = envelope.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise PageDecodeError(f"envelope member {key!r} is not an integer")
    return int(value)
