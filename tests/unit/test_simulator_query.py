"""The simulator's translation of lgfapi query parameters (pure, no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from gruponos.simulator.legacy_catalog import entity
from gruponos.simulator.query import BadQuery, decode_cursor, encode_cursor, parse

TZ = timedelta(hours=-3)


def test_filter_with_lookup_and_negation_becomes_bound_sql() -> None:
    q = parse(entity("allocation"), {"status_id__in!": "90,99", "id__gte": "10"}, tz=TZ)
    where, params = q.where()
    assert where == "not coalesce(t.status_id in (?, ?), false) and t.id >= ?"
    assert params == [90, 99, 10]


def test_relation_traversal_becomes_nested_subqueries() -> None:
    q = parse(entity("order_dtl"), {"order_id__facility_id__code": "DC01"}, tz=TZ)
    where, params = q.where()
    assert where == (
        "t.order_id in (select s.id from order_hdr s where "
        "s.facility_id in (select s.id from facility s where s.code = ?))"
    )
    assert params == ["DC01"]


def test_timestamps_are_converted_to_utc_and_naive_ones_read_in_facility_time() -> None:
    q = parse(
        entity("allocation"), {"mod_ts__gte": "2026-11-01T10:00:00-03:00", "mod_ts__lt": "2026-11-01T12:00:00"}, tz=TZ
    )
    assert [f.value for f in q.filters] == [datetime(2026, 11, 1, 13, 0), datetime(2026, 11, 1, 15, 0)]


def test_fractional_seconds_in_a_timestamp_filter_are_rejected() -> None:
    with pytest.raises(BadQuery, match="whole seconds"):
        parse(entity("allocation"), {"mod_ts__gte": "2026-11-01T10:00:00.5-03:00"}, tz=TZ)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page_size": "1251"}, "page_size must be between 1 and 1250"),
        ({"nope": "1"}, "unknown field 'nope' for entity allocation"),
        ({"pick_user__code": "x"}, "not a relation"),
        ({"ordering": "-bogus"}, "unknown field 'bogus'"),
        ({"id__range": "5"}, "two values"),
        ({"alloc_qty": "abc"}, "invalid value 'abc' for alloc_qty"),
        ({"page_mode": "all"}, "page_mode"),
    ],
)
def test_bad_queries_name_the_problem(params: dict[str, str], message: str) -> None:
    with pytest.raises(BadQuery, match=message):
        parse(entity("allocation"), params, tz=TZ)


def test_id_only_queries_take_the_fast_path_and_others_do_not() -> None:
    assert parse(entity("allocation"), {"id__gt": "5", "ordering": "id"}, tz=TZ).id_only()
    assert not parse(entity("allocation"), {"id__gt": "5", "ordering": "mod_ts"}, tz=TZ).id_only()
    assert not parse(entity("allocation"), {"status_id": "10"}, tz=TZ).id_only()
    assert not parse(entity("allocation"), {"fields": "id"}, tz=TZ).id_only()


def test_cursor_round_trips_and_garbage_is_rejected() -> None:
    assert decode_cursor(encode_cursor("p=1400")) == ("p", 1400)
    assert encode_cursor("p=1400") == "cD0xNDAw"  # the shape seen on real tenants
    with pytest.raises(BadQuery, match="invalid cursor"):
        decode_cursor("garbage!")
