"""Values between Arrow and python-oracledb: what the staging insert binds, what the database
refused, and what ``rows()`` reads back.

The batch is array-inserted from Python tuples built column by column (typed with
``setinputsizes``): flags become 0/1 and zoned timestamps naive UTC in Arrow first, because
the driver drops ``tzinfo`` (the SQL turns them back with ``FROM_TZ(…, '+00:00')``). Rows the
database refuses in that insert (``cursor.getbatcherrors()``: a value too large for its
column, …) become ``Rejection``s with rule ``oracle:ORA-nnnnn``. python-oracledb can also
ingest Arrow data frames in ``executemany``; it is not used because booleans and zoned
timestamps would reach ``NUMBER(1)``/``TIMESTAMP WITH TIME ZONE`` columns through implicit
conversions we cannot pin without a live database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import oracledb
import orjson
import pyarrow as pa

from gruponos.entities import EntitySpec
from gruponos.quality import Rejection
from gruponos.redact import redact

__all__ = ["batch_rejections", "fetch_decimals", "naive", "read_value", "stage_binds", "stage_rows"]


def stage_binds(schema: pa.Schema) -> tuple[list[str], list[Any]]:
    """The timestamp columns, and the input type of every column, for the staging insert."""
    timestamps, types = [], []
    for f in schema:
        if pa.types.is_timestamp(f.type):
            timestamps.append(f.name)
            types.append(oracledb.DB_TYPE_TIMESTAMP)
        elif pa.types.is_date(f.type):
            types.append(oracledb.DB_TYPE_DATE)
        elif pa.types.is_integer(f.type) or pa.types.is_boolean(f.type) or pa.types.is_decimal(f.type):
            types.append(oracledb.DB_TYPE_NUMBER)
        else:
            types.append(None)  # strings: sized from the data
    return timestamps, types


def stage_rows(batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
    """The batch as bind tuples, built column-wise: flags as 0/1, timestamps as naive UTC."""
    columns = []
    for f, col in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_boolean(f.type):
            col = col.cast(pa.int8())
        elif pa.types.is_timestamp(f.type):
            col = col.cast(pa.timestamp("us"))  # drops the zone, keeps the UTC wall clock
        columns.append(col.to_pylist())
    return list(zip(*columns, strict=True))


def naive(value: object) -> object:
    """A zoned datetime as the naive UTC wall clock the SQL binds; anything else unchanged."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError


def batch_rejections(spec: EntitySpec, batch: pa.RecordBatch, errors: Sequence[Any]) -> list[Rejection]:
    """Rows the database refused in the array insert (``cursor.getbatcherrors()``)."""
    out = []
    ids = batch.column(spec.primary_key)
    for err in errors:
        row = batch.slice(err.offset, 1).to_pylist()[0]
        record_id = ids[err.offset].as_py()
        code = err.full_code or f"ORA-{err.code:05d}"
        out.append(
            Rejection(
                record_id=record_id,
                rule=f"oracle:{code}",
                message=f"{spec.name} id {record_id}: Oracle refused the row: {redact(err.message)}",
                raw=orjson.dumps(row, default=_json_default),
            )
        )
    return out


def fetch_decimals(cursor: oracledb.Cursor, metadata: oracledb.FetchInfo) -> oracledb.Var | None:
    """NUMBER(p,s) with a scale comes back as Decimal, not float."""
    if metadata.type_code is oracledb.DB_TYPE_NUMBER and (metadata.scale or 0) > 0:
        return cursor.var(Decimal, arraysize=cursor.arraysize)
    return None


def read_value(value: object, data_type: str, precision: int | None, scale: int | None) -> object:
    """A fetched value typed like the other adapters give it (zoned UTC, date, bool)."""
    if value is None:
        return None
    if "TIME ZONE" in data_type and isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    if data_type == "DATE" and isinstance(value, datetime):
        return value.date()
    if data_type == "NUMBER" and precision == 1 and not scale and isinstance(value, int | Decimal):
        return bool(value)
    return value
