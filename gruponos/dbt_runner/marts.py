"""One read of the built marts, for the demo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from gruponos.dbt_runner.project import DEFAULT_SCHEMA

__all__ = ["FacilityFulfillment", "top_facilities"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class FacilityFulfillment:
    """One facility's allocation fulfillment, summed over ``fct_allocation_performance``."""

    facility_id: int
    facility_code: str | None
    allocation_count: int
    allocated_qty: Decimal
    packed_qty: Decimal
    fulfillment_rate: float | None  # packed_qty / allocated_qty


def top_facilities(path: str | Path, *, schema: str = DEFAULT_SCHEMA, limit: int = 5) -> list[FacilityFulfillment]:
    """The facilities with the highest fulfillment rate (packed / allocated units, every
    allocation not cancelled) in a built DuckDB warehouse, best first; read-only."""
    if not _IDENTIFIER.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    sql = f"""
        select
            facility_id,
            max(facility_code),
            cast(sum(allocation_count) as bigint),
            sum(allocated_qty),
            sum(packed_qty),
            cast(sum(packed_qty) as double) / nullif(cast(sum(allocated_qty) as double), 0) as fulfillment_rate
        from "{schema}".fct_allocation_performance
        group by facility_id
        order by fulfillment_rate desc nulls last, facility_id
        limit ?
    """
    with duckdb.connect(str(path), read_only=True) as db:
        rows = db.execute(sql, [limit]).fetchall()
    return [FacilityFulfillment(int(r[0]), r[1], int(r[2]), r[3], r[4], r[5]) for r in rows]
