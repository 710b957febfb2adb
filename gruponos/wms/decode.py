"""WMS page bodies → Arrow record batches with exactly ``EntitySpec.schema``.

The body is parsed once with orjson; the records are then converted in bulk through a
*wire* struct type derived from the catalog (FK objects as ``struct<id, key>``, child sets
as ``struct<result_count>``, decimals/timestamps/dates as strings) and flattened and cast
column by column. Values that cannot be typed (a decimal with too many places, a timestamp
without an offset, a string where a number belongs) become null and are counted in
``Page.invalid_values``; fields the catalog does not know are ignored and reported in
``Page.unknown_fields`` (all but the records' own ``url`` link), so a quality layer can flag
schema drift.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from gruponos.entities import DECIMAL_TYPE, EntitySpec, Kind
from gruponos.entities import Field as EntityField

__all__ = ["Page", "PageDecodeError", "decode_page", "decode_records"]

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_FK_WIRE = pa.struct([("id", pa.int64()), ("key", pa.string())])
_SET_WIRE = pa.struct([("result_count", pa.int64())])
_WIRE: dict[Kind, pa.DataType] = {
    Kind.INT: pa.int64(),
    Kind.STATUS: pa.int64(),
    Kind.STR: pa.string(),
    Kind.DECIMAL: pa.string(),
    Kind.TS: pa.string(),
    Kind.DATE: pa.string(),
    Kind.FLG: pa.bool_(),
    Kind.FK: _FK_WIRE,
    Kind.SET: _SET_WIRE,
}
_CAST: dict[Kind, pa.DataType] = {
    Kind.DECIMAL: DECIMAL_TYPE,
    Kind.TS: _TIMESTAMP,
    Kind.DATE: pa.date32(),
}
_EXACT = decimal.Context(prec=60)
# Decoding allocates (the parser's short-lived buffers, the flattened and cast columns) from
# the system allocator: on the fetching threads, pyarrow's default (mimalloc) kept memory per
# thread resident for no speed gain (parser: ~90 MB; columns: ~20 MB at 1M rows).
_POOL = pa.system_memory_pool()
# Members every record carries that the catalog deliberately does not store (the self link).
_IGNORED = frozenset({"url"})


class PageDecodeError(ValueError):
    """The body is not a WMS page: truncated or undecodable JSON, or the wrong shape."""


@dataclass(frozen=True, slots=True)
class Page:
    """One decoded page: its rows as a record batch plus the envelope and drift report."""

    batch: pa.RecordBatch
    next_page: str | None = None
    result_count: int | None = None
    page_count: int | None = None
    page_nbr: int | None = None
    unknown_fields: frozenset[str] = frozenset()
    missing_fields: frozenset[str] = frozenset()
    invalid_values: Mapping[str, int] = field(default_factory=dict)
    invalid_rows: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # field → row positions
    body: bytes = b""  # the raw page, so rejected rows can be quarantined as the WMS sent them

    def raw_records(self, rows: list[int]) -> list[bytes]:
        """The JSON of the records at these positions, as the WMS sent them."""
        if not rows:
            return []
        results = orjson.loads(self.body)["results"]
        return [orjson.dumps(results[i]) for i in rows]


def decode_page(spec: EntitySpec, body: bytes) -> Page:
    """Decode one list page (paged or sequenced envelope); raises ``PageDecodeError``.

    The common case (a one-line body of well-typed records with no unknown members) is
    parsed straight into Arrow by pyarrow's C++ JSON reader; anything else takes the
    orjson path below, which reports drift and types value by value.
    """
    fast = _decode_fast(spec, body)
    if fast is not None:
        return fast
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PageDecodeError(f"undecodable JSON ({len(body)} bytes): {exc}") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("results"), list):
        raise PageDecodeError("not a WMS list page: no 'results' list")
    next_page = envelope.get("next_page")
    if next_page is not None and not isinstance(next_page, str):
        raise PageDecodeError("'next_page' is neither a URL nor null")
    batch, unknown, missing, invalid = decode_records(spec, envelope["results"])
    return Page(
        batch=batch,
        next_page=next_page or None,
        result_count=_optional_int(envelope, "result_count"),
        page_count=_optional_int(envelope, "page_count"),
        page_nbr=_optional_int(envelope, "page_nbr"),
        unknown_fields=unknown,
        missing_fields=missing,
        invalid_values={k: len(v) for k, v in invalid.items()},
        invalid_rows={k: tuple(v) for k, v in invalid.items()},
        body=body,
    )


def decode_records(
    spec: EntitySpec, records: Sequence[Any]
) -> tuple[pa.RecordBatch, frozenset[str], frozenset[str], dict[str, list[int]]]:
    """Records (parsed JSON objects) → (batch, unknown fields, missing fields, invalid rows)."""
    if not records:
        return _empty_batch(spec), frozenset(), frozenset(), {}
    invalid: dict[str, list[int]] = {}
    try:
        wire = pa.array(records, type=_wire_type(spec))
        if wire.null_count:
            raise PageDecodeError("a record in 'results' is null")
        columns = [wire.field(i) for i in range(len(spec.fields))]
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if not all(isinstance(r, dict) for r in records):
            raise PageDecodeError("a record in 'results' is not a JSON object") from None
        columns = [_wire_column(f, [r.get(f.name) for r in records], invalid) for f in spec.fields]
    arrays: list[pa.Array] = []
    for spec_field, column in zip(spec.fields, columns, strict=True):
        arrays.extend(_table_columns(spec_field, column, invalid))
    seen: set[str] = set().union(*records)
    known = _known_names(spec)
    batch = pa.RecordBatch.from_arrays(arrays, schema=spec.schema)
    return batch, frozenset(seen - known - _IGNORED), frozenset(known - seen), invalid


def _decode_fast(spec: EntitySpec, body: bytes) -> Page | None:
    """pyarrow.json over the whole body; None when anything is unusual (then: slow path).

    Members the schema does not name (record and FK ``url`` links, unknown fields) are
    skipped by the parser; drift is read off the first record's keys instead, which every
    record of one entity shares.
    """
    if b"\n" in body[:-1]:
        return None
    try:
        table = pa_json.read_json(
            pa.BufferReader(body),
            read_options=pa_json.ReadOptions(block_size=len(body) + 1, use_threads=False),
            memory_pool=_POOL,
            parse_options=pa_json.ParseOptions(explicit_schema=_fast_schema(spec), unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != 1 or table.column("results").null_count:
        return None
    records = table.column("results").chunk(0).flatten()
    if records.null_count:
        return None
    keys = _first_record_keys(body) if len(records) else None
    if len(records) and keys is None:
        return None
    invalid: dict[str, list[int]] = {}
    arrays: list[pa.Array] = []
    for f, column in zip(spec.fields, records.flatten(memory_pool=_POOL), strict=True):
        arrays.extend(_table_columns(f, column, invalid))
    envelope = table.drop_columns(["results"]).to_pylist()[0]
    known = _known_names(spec)
    return Page(
        batch=pa.RecordBatch.from_arrays(arrays, schema=spec.schema),
        next_page=envelope.get("next_page") or None,
        result_count=envelope.get("result_count"),
        page_count=envelope.get("page_count"),
        page_nbr=envelope.get("page_nbr"),
        unknown_fields=frozenset(keys - known - _IGNORED) if keys else frozenset(),
        missing_fields=frozenset(known - keys) if keys else frozenset(),
        invalid_values={k: len(v) for k, v in invalid.items()},
        invalid_rows={k: tuple(v) for k, v in invalid.items()},
        body=body,
    )


_RESULTS = b'"results":['
_DECODER = json.JSONDecoder()


def _first_record_keys(body: bytes) -> frozenset[str] | None:
    """The member names of the first record in ``results`` (parsing only that record)."""
    start = body.find(_RESULTS)
    if start < 0:
        return None
    start += len(_RESULTS)
    for window in (1 << 16, len(body)):
        text = body[start : start + window].decode("utf-8", errors="ignore")
        try:
            record, _ = _DECODER.raw_decode(text)
        except ValueError:
            continue
        return frozenset(record) if isinstance(record, dict) else None
    return None


@functools.cache
def _fast_schema(spec: EntitySpec) -> pa.Schema:
    """The page as pyarrow.json should read it: the envelope and the catalog's fields only."""
    return pa.schema(
        [
            ("result_count", pa.int64()),
            ("page_count", pa.int64()),
            ("page_nbr", pa.int64()),
            ("next_page", pa.string()),
            ("results", pa.list_(_wire_type(spec))),
        ]
    )


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
    if isinstance(value, bool) or not isinstance(value, int):
        raise PageDecodeError(f"envelope member {key!r} is not an integer")
    return int(value)


def _table_columns(f: EntityField, wire: pa.Array, invalid: dict[str, list[int]]) -> list[pa.Array]:
    """One wire column → its table column(s): flatten FKs and sets, cast strings."""
    if f.kind is Kind.FK:
        ids, keys = wire.flatten(memory_pool=_POOL)[:2]
        return [ids, keys]
    if f.kind is Kind.SET:
        return [wire.flatten(memory_pool=_POOL)[0]]
    target = _CAST.get(f.kind)
    if target is None:
        return [wire]
    try:
        return [pc.cast(wire, target, memory_pool=_POOL)]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        typed, bad = _convert_each(wire.to_pylist(), _PARSE[f.kind], target)
        if bad:
            invalid.setdefault(f.name, []).extend(bad)
        return [typed]


def _wire_column(f: EntityField, values: list[Any], invalid: dict[str, list[int]]) -> pa.Array:
    """Slow path for one field when the bulk conversion failed: type each value or null it."""
    wire_type = _WIRE[f.kind]
    try:
        return pa.array(values, type=wire_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        typed, bad = _convert_each(values, _WIRE_PARSE[f.kind], wire_type)
        if bad:
            invalid.setdefault(f.name, []).extend(bad)
        return typed


def _convert_each(values: list[Any], parse: Callable[[Any], Any], target: pa.DataType) -> tuple[pa.Array, list[int]]:
    """Apply ``parse`` to each value; values it rejects become null, their positions listed."""
    out: list[Any] = []
    bad: list[int] = []
    for row, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(parse(value))
        except (ValueError, TypeError, ArithmeticError):
            out.append(None)
            bad.append(row)
    return pa.array(out, type=target), bad


def _parse_decimal(value: Any) -> decimal.Decimal:
    """A decimal string (or JSON number) that fits decimal(28, 8) without rounding."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError("not a decimal")
    exact = _EXACT.create_decimal(str(value))
    scaled = exact.quantize(decimal.Decimal("1e-8"), context=_EXACT)
    if scaled != exact or len(scaled.as_tuple().digits) > 28:
        raise ValueError("does not fit decimal(28, 8) exactly")
    return scaled


def _parse_timestamp(value: Any) -> dt.datetime:
    """An ISO-8601 datetime with an offset, as UTC (naive values are rejected)."""
    parsed = dt.datetime.fromisoformat(value)
    if parsed.utcoffset() is None:
        raise ValueError("timestamp without a UTC offset")
    return parsed.astimezone(dt.UTC)


def _parse_int(value: Any) -> int:
    """An integer, or a string holding one."""
    if isinstance(value, bool):
        raise TypeError("boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value)
    raise TypeError("not an integer")


def _parse_str(value: Any) -> str:
    """Text; numbers are kept as their JSON spelling."""
    if isinstance(value, dict | list):
        raise TypeError("not text")
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _parse_flag(value: Any) -> bool:
    """A boolean (``"Y"``/``"N"``/``"true"``/``"false"`` are accepted too)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"y", "true", "1"}:
        return True
    if text in {"n", "false", "0"}:
        return False
    raise ValueError("not a flag")


def _parse_fk(value: Any) -> dict[str, Any]:
    """An FK object ``{id, key, url}`` (a bare integer id is accepted)."""
    if isinstance(value, dict):
        key = value.get("key")
        return {"id": _parse_int(value.get("id")), "key": None if key is None else str(key)}
    return {"id": _parse_int(value), "key": None}


def _parse_set(value: Any) -> dict[str, Any]:
    """A child set ``{result_count, url}``."""
    if not isinstance(value, dict):
        raise TypeError("not a child set")
    return {"result_count": _parse_int(value.get("result_count"))}


def _parse_text(value: Any) -> str:
    """A string value that is cast later (decimal, timestamp, date)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError("not text")
    return str(value)


_PARSE: dict[Kind, Callable[[Any], Any]] = {
    Kind.DECIMAL: _parse_decimal,
    Kind.TS: _parse_timestamp,
    Kind.DATE: dt.date.fromisoformat,
}
_WIRE_PARSE: dict[Kind, Callable[[Any], Any]] = {
    Kind.INT: _parse_int,
    Kind.STATUS: _parse_int,
    Kind.STR: _parse_str,
    Kind.DECIMAL: _parse_text,
    Kind.TS: _parse_text,
    Kind.DATE: _parse_text,
    Kind.FLG: _parse_flag,
    Kind.FK: _parse_fk,
    Kind.SET: _parse_set,
}
