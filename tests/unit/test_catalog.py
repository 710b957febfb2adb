"""Entities derived from describe answers written from the WMS documentation, and the selection."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from gruponos.catalog import UnknownEntity, select
from gruponos.entities import DECIMAL_TYPE, Kind, SyncClass, column_name, derive


def describe(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"parameters": list(fields), "fields": fields}


def typed(**types: str) -> dict[str, Any]:
    """A describe answer that gives each field its type and nothing else."""
    return describe({name: {"type": kind} for name, kind in types.items()})


CONTAINER = describe(
    {
        "id": {"type": "integer", "required": "Y"},
        "container_nbr": {"type": "string", "max_length": 50, "required": "X", "allow_blank": False},
        "facility_id": {"type": "relation", "required": "Y"},
        "curr_location_id": {"type": "relation", "required": "C"},
        "status_id": {"type": "integer", "required": "N"},
        "weight": {"type": "decimal", "required": "N"},
        "is_pallet_flg": {"type": "boolean", "required": "N"},
        "priority_date": {"type": "date", "required": "N"},
        "pick_time": {"type": "time", "required": "N"},
        "inventory_set": {"type": "related set"},
        "create_ts": {"type": "datetime"},
        "mod_ts": {"type": "datetime", "required": "Y"},
    }
)


def test_a_describe_answer_becomes_an_incremental_entity_with_flattened_columns() -> None:
    spec = derive("container", CONTAINER, names=["container", "facility", "location"])
    assert spec.sync_class is SyncClass.OPERATIONAL and spec.incremental
    assert (spec.primary_key, spec.replication_key) == ("id", "mod_ts")
    kinds = {f.name: f.kind for f in spec.fields}
    assert kinds == {
        "id": Kind.INT,
        "container_nbr": Kind.STR,
        "facility_id": Kind.FK,
        "curr_location_id": Kind.FK,
        "status_id": Kind.STATUS,
        "weight": Kind.DECIMAL,
        "is_pallet_flg": Kind.FLG,
        "priority_date": Kind.DATE,
        "pick_time": Kind.TIME,
        "inventory_set": Kind.SET,
        "create_ts": Kind.TS,
        "mod_ts": Kind.TS,
    }
    columns = {c.name: c.type for c in spec.columns}
    assert columns["facility_id"] == pa.int64() and columns["facility_key"] == pa.string()
    assert columns["inventory_count"] == pa.int64() and columns["weight"] == DECIMAL_TYPE
    assert spec.field("container_nbr").max_length == 50
    assert spec.field("facility_id").target == "facility"
    assert spec.field("curr_location_id").target is None  # "curr_location" is no entity of the tenant
    # the documented X/Y/N/C flags are kept; the contract enforces the keys
    assert {f.name: f.wms_required for f in spec.fields}["curr_location_id"] == "C"
    assert {f.name for f in spec.fields if f.required} == {"id", "mod_ts"}


def test_an_entity_without_mod_ts_is_a_lookup_read_in_full() -> None:
    spec = derive("order_status", typed(id="integer", description="string"))
    assert spec.sync_class is SyncClass.LOOKUP
    assert spec.replication_key is None and not spec.incremental


def test_unknown_type_names_fall_back_on_the_documented_suffixes_then_text() -> None:
    spec = derive("x", typed(id="pk", done_flg="weird", shipped_ts="???", note="hologram", mod_ts="DateTime"))
    kinds = {f.name: f.kind for f in spec.fields}
    assert kinds == {"id": Kind.INT, "done_flg": Kind.FLG, "shipped_ts": Kind.TS, "note": Kind.STR, "mod_ts": Kind.TS}


def test_a_describe_without_id_cannot_make_an_entity() -> None:
    with pytest.raises(ValueError, match="no 'id'"):
        derive("broken", typed(code="string"))


def test_overlays_keep_their_business_rules_on_derived_fields() -> None:
    answer = typed(id="integer", alloc_qty="decimal", packed_qty="decimal", order_dtl_id="relation", mod_ts="datetime")
    spec = derive("allocation", answer)
    assert {c.name for c in spec.checks} == {"non_negative:alloc_qty,packed_qty", "packed_qty_le_alloc_qty"}
    assert spec.field("order_dtl_id").required and spec.field("order_dtl_id").target == "order_dtl"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("order_dtl_id", "order_dtl_id"), ("cust_field_1", "cust_field_1")],
)
def test_safe_names_are_their_own_columns(name: str, expected: str) -> None:
    assert column_name(name) == expected


def test_other_names_become_safe_distinct_stable_columns() -> None:
    names = ["Mod_TS", "mod-ts", "mod ts", "1st", "_run_id", 'a"; drop table t', "é" * 3, "x" * 200]
    columns = [column_name(n) for n in names]
    assert len(set(columns)) == len(names)
    for column in columns:
        assert column[0].isalpha() and column == column.lower() and len(column) <= 60
        assert all(ch.isalnum() or ch == "_" for ch in column) and column.isascii()
    assert columns == [column_name(n) for n in names]
    assert column_name("mod_ts", taken={"mod_ts"}) != "mod_ts"


TENANT = ["allocation", "order_dtl", "order_hdr", "order_status", "purchase_order_dtl", "purchase_order_hdr"]


def test_selection_by_names_and_globs_minus_exclusions_in_tenant_order() -> None:
    assert select(TENANT, ["order_*", "allocation"], ["order_status"]) == ["order_dtl", "order_hdr", "allocation"]
    assert select(TENANT, ["*purchase*"]) == ["purchase_order_dtl", "purchase_order_hdr"]


def test_an_unknown_name_fails_naming_the_close_matches() -> None:
    with pytest.raises(UnknownEntity) as raised:
        select(TENANT, ["order_hdrr"])
    assert "order_hdrr" in str(raised.value) and "order_hdr" in str(raised.value).split("mean")[1]


def test_the_lenient_default_skips_what_the_tenant_does_not_serve() -> None:
    assert select(TENANT, ["allocation", "vendor"], strict=False) == ["allocation"]
