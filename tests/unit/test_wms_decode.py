"""Page JSON → Arrow: every Kind, nulls, exact decimals, offsets to UTC, drift reported."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pytest

from gruponos.entities import EntitySpec, Field, Kind, SyncClass
from gruponos.wms import PageDecodeError, decode_page, decode_records
from tests.specs import spec as entity

EVERY_KIND = EntitySpec(
    name="every_kind",
    sync_class=SyncClass.OPERATIONAL,
    fields=(
        Field("id", Kind.INT, required=True),
        Field("code", Kind.STR, 25),
        Field("qty", Kind.DECIMAL),
        Field("mod_ts", Kind.TS, required=True),
        Field("ord_date", Kind.DATE),
        Field("active_flg", Kind.FLG),
        Field("status_id", Kind.STATUS),
        Field("facility_id", Kind.FK, target="facility"),
        Field("order_dtl_set", Kind.SET, target="order_dtl", via="order_id"),
    ),
)

FULL = {
    "id": 7,
    "url": "https://wms.test/prod/wms/lgfapi/v10/entity/every_kind/7/",
    "code": "A-1",
    "qty": "12.5000",
    "mod_ts": "2014-04-10T12:01:48.391494+05:30",
    "ord_date": "2024-02-29",
    "active_flg": True,
    "status_id": 30,
    "facility_id": {"id": 647, "key": "DC01", "url": "https://wms.test/entity/facility/647"},
    "order_dtl_set": {"result_count": 2, "url": "https://wms.test/entity/order_dtl/?order_id=7"},
}
NULLS = {
    "id": 8,
    "code": None,
    "qty": None,
    "mod_ts": "2014-04-10T00:00:00Z",
    "ord_date": None,
    "active_flg": None,
    "status_id": None,
    "facility_id": None,
    "order_dtl_set": None,
}


def page(*records: dict[str, Any], **envelope: Any) -> bytes:
    """A sequenced-mode page body (plus any paged-mode envelope members)."""
    return orjson.dumps({"next_page": None, "previous_page": None, **envelope, "results": records})


def test_every_kind_is_flattened_to_the_catalog_schema() -> None:
    decoded = decode_page(EVERY_KIND, page(FULL))
    assert decoded.batch.schema == EVERY_KIND.schema
    assert decoded.batch.to_pylist() == [
        {
            "id": 7,
            "code": "A-1",
            "qty": Decimal("12.5"),
            "mod_ts": dt.datetime(2014, 4, 10, 6, 31, 48, 391494, tzinfo=dt.UTC),
            "ord_date": dt.date(2024, 2, 29),
            "active_flg": True,
            "status_id": 30,
            "facility_id": 647,
            "facility_key": "DC01",
            "order_dtl_count": 2,
        }
    ]


def test_null_fk_set_and_scalars_become_nulls_in_every_flattened_column() -> None:
    row = decode_page(EVERY_KIND, page(FULL, NULLS)).batch.to_pylist()[1]
    assert row["facility_id"] is None
    assert row["facility_key"] is None
    assert row["order_dtl_count"] is None
    assert [row[c] for c in ("code", "qty", "ord_date", "active_flg", "status_id")] == [None] * 5


def test_decimals_are_exact_without_passing_through_float() -> None:
    values = ["12345678901234567890.12345678", "0.10000000", "-0.00000001", "3"]
    records = [{**FULL, "id": i, "qty": v} for i, v in enumerate(values)]
    decoded = decode_page(EVERY_KIND, page(*records))
    assert decoded.batch.column("qty").to_pylist() == [Decimal(v) for v in values]
    assert decoded.invalid_values == {}


def test_decimal_that_would_be_rounded_is_nulled_and_counted() -> None:
    records = [{**FULL, "qty": "0.123456789"}, {**FULL, "id": 9, "qty": "1.5"}]
    decoded = decode_page(EVERY_KIND, page(*records))
    assert decoded.batch.column("qty").to_pylist() == [None, Decimal("1.5")]
    assert decoded.invalid_values == {"type:qty": 1}


@pytest.mark.parametrize(
    ("wire", "utc"),
    [
        ("2014-04-10T12:01:48.391494+05:30", dt.datetime(2014, 4, 10, 6, 31, 48, 391494)),
        ("2014-04-10T12:01:48Z", dt.datetime(2014, 4, 10, 12, 1, 48)),
        ("2014-04-10T22:01:48-03:00", dt.datetime(2014, 4, 11, 1, 1, 48)),
    ],
)
def test_timestamps_with_offsets_become_utc(wire: str, utc: dt.datetime) -> None:
    decoded = decode_page(EVERY_KIND, page({**FULL, "mod_ts": wire}))
    assert decoded.batch.column("mod_ts").to_pylist() == [utc.replace(tzinfo=dt.UTC)]


def test_timestamp_without_offset_is_nulled_and_counted_not_guessed() -> None:
    decoded = decode_page(EVERY_KIND, page({**FULL, "mod_ts": "2014-04-10T12:01:48"}))
    assert decoded.batch.column("mod_ts").to_pylist() == [None]
    assert decoded.invalid_values == {"type:mod_ts": 1}


def test_fields_the_catalog_does_not_know_are_reported_with_their_values() -> None:
    decoded = decode_page(EVERY_KIND, page({**FULL, "new_wms_field": "x", "other": 2}, {**NULLS, "other": 1}))
    assert decoded.batch.schema == EVERY_KIND.schema
    assert decoded.unknown_fields == {"new_wms_field", "other"}  # not the self link "url"
    assert decoded.missing_fields == frozenset()
    assert decoded.extras["new_wms_field"].to_pylist() == ["x", None]
    assert decoded.extras["other"].to_pylist() == ["2", "1"]


@pytest.mark.parametrize("position", [0, 1, 500, 999])
def test_a_field_first_seen_anywhere_on_the_page_is_drift_with_every_value(position: int) -> None:
    records = [{**FULL, "id": i} for i in range(1000)]
    records[position] = {**records[position], "late_field": f"v{position}"}
    records[-1] = {**records[-1], "late_field": "last"} if position != 999 else records[-1]
    decoded = decode_page(EVERY_KIND, page(*records))
    assert decoded.unknown_fields == {"late_field"}
    values = decoded.extras["late_field"].to_pylist()
    assert values[position] == f"v{position}"
    assert sum(v is not None for v in values) == (1 if position == 999 else 2)


def test_catalog_fields_absent_from_every_record_are_reported_missing() -> None:
    record = {k: v for k, v in FULL.items() if k != "ord_date"}
    decoded = decode_page(EVERY_KIND, page(record))
    assert decoded.missing_fields == {"ord_date"}
    assert decoded.batch.column("ord_date").to_pylist() == [None]


def test_wrongly_typed_values_are_nulled_and_counted_while_the_rest_decodes() -> None:
    records = [
        {**FULL, "id": 1, "status_id": "not a number"},
        {**FULL, "id": 2, "status_id": 10, "facility_id": 647},  # values_list-style bare FK
    ]
    decoded = decode_page(EVERY_KIND, page(*records))
    assert decoded.batch.column("status_id").to_pylist() == [None, 10]
    assert decoded.batch.column("facility_id").to_pylist() == [647, 647]
    assert decoded.batch.column("facility_key").to_pylist() == ["DC01", None]
    assert decoded.invalid_values == {"type:status_id": 1}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 6.9),
        ("id", 7.0),
        ("id", "123"),
        ("id", 2**63),
        ("id", True),
        ("status_id", 30.5),
        ("status_id", "30"),
    ],
)
def test_a_non_integer_in_an_integer_field_is_a_type_rejection_never_truncated(field: str, value: Any) -> None:
    records = [{**FULL, "id": 1}, {**FULL, "id": 2, field: value}, {**FULL, "id": 3}]
    decoded = decode_page(EVERY_KIND, page(*records))
    assert decoded.invalid_rows == {f"type:{field}": (1,)}
    assert decoded.batch.column(field).to_pylist()[1] is None
    assert decoded.batch.column("id").to_pylist()[0::2] == [1, 3]


def test_a_float_in_an_fk_id_is_rejected_not_truncated() -> None:
    bad = {**FULL, "id": 2, "facility_id": {"id": 647.9, "key": "DC01", "url": "u"}}
    decoded = decode_page(EVERY_KIND, page(FULL, bad))
    assert decoded.invalid_rows == {"type:facility_id": (1,)}
    assert decoded.batch.column("facility_id").to_pylist() == [647, None]


@pytest.mark.parametrize(
    ("text", "raw_text"),
    [
        (r"nul\u0000inside", r"nul\u0000inside"),
        (r"lone \ud800 surrogate", r"lone \ud800 surrogate"),
        ("raw\x00byte", r"raw\u0000byte"),
    ],
)
def test_text_that_cannot_be_stored_rejects_only_its_record(text: str, raw_text: str) -> None:
    body = page(FULL, {**FULL, "id": 2, "code": "PLACEHOLDER"}, {**FULL, "id": 3})
    body = body.replace(b"PLACEHOLDER", text.encode())
    decoded = decode_page(EVERY_KIND, body)
    assert decoded.invalid_rows == {"encoding:code": (1,)}
    assert decoded.batch.column("code").to_pylist() == ["A-1", None, "A-1"]
    assert decoded.batch.column("id").to_pylist() == [7, 2, 3]
    raw = decoded.raw_records([1])[0].decode("ascii")
    assert raw_text in raw


def test_invalid_utf8_rejects_only_its_record_and_keeps_its_bytes_escaped() -> None:
    body = page(FULL, {**FULL, "id": 2, "code": "PLACEHOLDER"}).replace(b"PLACEHOLDER", b"caf\xe9")
    decoded = decode_page(EVERY_KIND, body)
    assert decoded.invalid_rows == {"encoding:code": (1,)}
    assert decoded.batch.column("id").to_pylist() == [7, 2]
    assert r"caf\udce9" in decoded.raw_records([1])[0].decode("ascii")


def test_nanoseconds_are_rejected_unless_they_are_zeros() -> None:
    records = [
        {**FULL, "id": 1, "mod_ts": "2026-11-01T10:00:00.123456789+00:00"},
        {**FULL, "id": 2, "mod_ts": "2026-11-01T10:00:00.123456000+00:00"},
    ]
    decoded = decode_page(EVERY_KIND, page(*records))
    assert decoded.invalid_rows == {"precision:mod_ts": (0,)}
    assert decoded.batch.column("mod_ts").to_pylist() == [
        None,
        dt.datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=dt.UTC),
    ]


def test_paged_envelope_members_are_read() -> None:
    body = page(FULL, result_count=3, page_count=2, page_nbr=1, next_page="https://wms.test/x/?page=2")
    decoded = decode_page(EVERY_KIND, body)
    assert (decoded.result_count, decoded.page_count, decoded.page_nbr) == (3, 2, 1)
    assert decoded.next_page == "https://wms.test/x/?page=2"


def test_sequenced_envelope_has_no_counts() -> None:
    decoded = decode_page(EVERY_KIND, page(FULL))
    assert (decoded.result_count, decoded.page_count, decoded.page_nbr) == (None, None, None)


def test_empty_results_give_an_empty_batch_of_the_schema() -> None:
    decoded = decode_page(EVERY_KIND, page())
    assert decoded.batch.num_rows == 0
    assert decoded.batch.schema == EVERY_KIND.schema


@pytest.mark.parametrize(
    "body",
    [
        page(FULL)[:-7],  # truncated in transit
        b"<html>502 Bad Gateway</html>",
        b'{"next_page": null}',
        b'{"results": [null]}',
        b'{"results": ["x"]}',
        b'{"results": [], "next_page": 5}',
    ],
)
def test_bodies_that_are_not_pages_raise_page_decode_error(body: bytes) -> None:
    with pytest.raises(PageDecodeError):
        decode_page(EVERY_KIND, body)


def test_allocation_record_decodes_to_its_catalog_schema() -> None:
    spec = entity("allocation")
    record: dict[str, Any] = {f.name: None for f in spec.fields}
    record.update(
        id=1,
        alloc_qty="4.0000",
        order_dtl_id={"id": 5, "key": "ORD-1-1", "url": "u"},
        is_picking_flg=False,
        status_id=30,
        mod_ts="2026-11-01T08:00:00-06:00",
    )
    batch, unknown, missing, invalid, extras = decode_records(spec, [record])
    assert batch.schema == spec.schema
    assert batch.column("order_dtl_id").to_pylist() == [5]
    assert batch.column("mod_ts").type == pa.timestamp("us", tz="UTC")
    assert (unknown, missing, invalid, extras) == (frozenset(), frozenset(), {}, {})
