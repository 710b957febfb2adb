"""The simulator's translation of lgfapi query parameters (pure, no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from gruponos.simulator.query import BadQuery, decode_cursor, encode_cursor, parse, parse_detail
from gruponos.simulator.schema import SCHEMA

TZ = timedelta(hours=-3)
ALLOCATION, ORDER_DTL, ORDER_HDR = SCHEMA["allocation"], SCHEMA["order_dtl"], SCHEMA["order_hdr"]


def test_filter_with_lookup_and_negation_becomes_bound_sql() -> None:
    q = parse(ALLOCATION, {"status_id__in!": "90,99", "id__gte": "10"}, tz=TZ)
    where, params = q.where()
    assert where == "not coalesce(t.status_id in (?, ?), false) and t.id >= ?"
    assert params == [90, 99, 10]


def test_relation_traversal_becomes_nested_subqueries() -> None:
    q = parse(ORDER_DTL, {"order_id__facility_id__code": "DC01"}, tz=TZ)
    where, params = q.where()
    assert where == (
        "t.order_id in (select s.id from order_hdr s where "
        "s.facility_id in (select s.id from facility s where s.code = ?))"
    )
    assert params == ["DC01"]


def test_a_related_set_is_followed_backwards_and_tested_for_children() -> None:
    through = parse(ORDER_HDR, {"order_dtl_set__item_id": "7"}, tz=TZ).where()
    assert through == (
        "t.id in (select s.order_id from order_dtl s where s.order_id is not null and s.item_id = ?)",
        [7],
    )
    without = parse(ORDER_HDR, {"order_dtl_set__isnull": "true"}, tz=TZ).where()[0]
    with_children = parse(ORDER_HDR, {"order_dtl_set__isnull": "false"}, tz=TZ).where()[0]
    assert without == "t.id not in (select s.order_id from order_dtl s where s.order_id is not null)"
    assert with_children == "t.id in (select s.order_id from order_dtl s where s.order_id is not null)"


def test_timestamps_are_converted_to_utc_and_naive_ones_read_in_facility_time() -> None:
    q = parse(ALLOCATION, {"mod_ts__gte": "2026-11-01T10:00:00-03:00", "mod_ts__lt": "2026-11-01T12:00:00"}, tz=TZ)
    assert [f.value for f in q.filters] == [datetime(2026, 11, 1, 13, 0), datetime(2026, 11, 1, 15, 0)]


def test_fractional_seconds_in_a_timestamp_filter_are_truncated_to_whole_seconds() -> None:
    q = parse(ALLOCATION, {"mod_ts__gte": "2026-11-01T10:00:00.999999-03:00"}, tz=TZ)
    assert q.filters[0].value == datetime(2026, 11, 1, 13, 0, 0)


def test_date_parts_compare_in_facility_time_with_django_week_days() -> None:
    q = parse(
        ALLOCATION, {"mod_ts__week_day": "1", "mod_ts__hour__gte": "8", "create_ts__year__in": "2025,2026"}, tz=TZ
    )
    where, params = q.where()
    assert where == (
        "(dayofweek((t.mod_ts + to_minutes(-180))) + 1) = ? and hour((t.mod_ts + to_minutes(-180))) >= ? "
        "and year((t.create_ts + to_minutes(-180))) in (?, ?)"
    )
    assert params == [1, 8, 2025, 2026]
    dates = parse(ORDER_HDR, {"ord_date__month": "11"}, tz=TZ).where()
    assert dates == ("month(t.ord_date) = ?", [11])


def test_case_insensitive_prefix_and_suffix_lookups_escape_like_wildcards() -> None:
    where, params = parse(ORDER_HDR, {"order_nbr__istartswith": "so_1", "cust_name__iendswith": "5%"}, tz=TZ).where()
    assert where == (
        "cast(t.order_nbr as varchar) ilike ? escape '\\' and cast(t.cust_name as varchar) ilike ? escape '\\'"
    )
    assert params == ["so\\_1%", "%5\\%"]


@pytest.mark.parametrize(
    ("entity", "params", "message"),
    [
        ("allocation", {"page_size": "1251"}, "page_size must be between 1 and 1250"),
        ("allocation", {"nope": "1"}, "unknown field 'nope' for entity allocation"),
        ("allocation", {"pick_user__code": "x"}, "not a relation"),
        ("allocation", {"mod_ts__quarter": "1"}, "'quarter' is not a lookup the simulator supports"),
        ("allocation", {"pick_user__year": "2026"}, "applies to date, datetime or time fields"),
        ("order_hdr", {"ord_date__hour": "3"}, "applies to date, datetime or time fields"),
        ("allocation", {"alloc_uom_id__code": "X"}, "uom is not an entity of this tenant"),
        ("order_hdr", {"order_dtl_set": "5"}, "order_dtl_set is a related set"),
        ("order_hdr", {"order_dtl_set__gt": "5"}, "order_dtl_set is a related set"),
        ("allocation", {"ordering": "-bogus"}, "unknown field 'bogus'"),
        ("order_hdr", {"ordering": "order_dtl_set"}, "it is a related set"),
        ("history_activity", {"ordering": "id"}, "ordering is not supported for entity history_activity"),
        ("allocation", {"id__range": "5"}, "two values"),
        ("allocation", {"alloc_qty": "abc"}, "invalid value 'abc' for alloc_qty"),
        ("allocation", {"page_mode": "all"}, "page_mode"),
        ("allocation", {"limit": "0"}, "limit must be 1 or more"),
        ("allocation", {"format": "xml"}, "not supported by the simulator"),
        ("allocation", {"format": "csv"}, "format must be json or xml"),
        ("allocation", {"fields": "id", "values_list": "id"}, "either fields or values_list"),
        ("order_hdr", {"values_list": "order_dtl_set"}, "cannot include the related set"),
        ("order_dtl", {"values_list": "order_id:a'b"}, "must be letters, digits and underscores"),
        ("order_dtl", {"values_list": "order_id__nope"}, "unknown field 'nope' for entity order_hdr"),
        ("order_dtl", {"values_list": "id:x,seq_nbr:x"}, "names 'x' twice"),
        (
            "order_dtl",
            {"values_list": "order_id", "distinct": "true", "ordering": "seq_nbr"},
            "ordering must name values_list columns",
        ),
    ],
)
def test_bad_queries_name_the_problem(entity: str, params: dict[str, str], message: str) -> None:
    with pytest.raises(BadQuery, match=message):
        parse(SCHEMA[entity], params, tz=TZ)


def test_a_retrieve_takes_no_filters() -> None:
    with pytest.raises(BadQuery, match="filters are not allowed when retrieving one record by id: status_id"):
        parse_detail(ALLOCATION, {"status_id": "10", "fields": "id"}, tz=TZ)
    assert parse_detail(ALLOCATION, {"values_list": "id,order_dtl_id", "format": "json"}, tz=TZ).values


def test_distinct_counts_only_with_values_list_and_ordering_as_documented() -> None:
    base = {"values_list": "order_id,order_id__order_nbr:order_nbr", "distinct": "true"}
    assert not parse(ORDER_DTL, base, tz=TZ).distinct  # no ordering: ignored, as the docs say
    assert parse(ORDER_DTL, base | {"ordering": "order_nbr"}, tz=TZ).distinct
    assert not parse(ORDER_DTL, {"distinct": "true", "ordering": "id"}, tz=TZ).distinct


def test_id_only_queries_take_the_fast_path_and_others_do_not() -> None:
    assert parse(ALLOCATION, {"id__gt": "5", "ordering": "id"}, tz=TZ).id_only()
    assert not parse(ALLOCATION, {"id__gt": "5", "ordering": "mod_ts"}, tz=TZ).id_only()
    assert not parse(ALLOCATION, {"status_id": "10"}, tz=TZ).id_only()
    assert not parse(ALLOCATION, {"fields": "id"}, tz=TZ).id_only()
    assert not parse(ALLOCATION, {"limit": "5"}, tz=TZ).id_only()
    assert not parse(ALLOCATION, {"values_list": "id"}, tz=TZ).id_only()


def test_the_inventory_history_rule_wants_a_documented_filter_combination() -> None:
    rule = SCHEMA["inventory_history"].filter_rule
    codes = {"company_id__code": "CO01", "facility_id__code": "DC01"}
    assert not parse(SCHEMA["inventory_history"], codes, tz=TZ).satisfies(rule)
    assert parse(SCHEMA["inventory_history"], codes | {"group_nbr": "G00000001"}, tz=TZ).satisfies(rule)
    by_activity = codes | {"history_activity_id__in": "1,2", "status_id__gte": "0"}
    assert parse(SCHEMA["inventory_history"], by_activity, tz=TZ).satisfies(rule)
    negated = codes | {"group_nbr!": "G00000001"}
    assert not parse(SCHEMA["inventory_history"], negated, tz=TZ).satisfies(rule)


def test_cursor_round_trips_and_garbage_is_rejected() -> None:
    assert decode_cursor(encode_cursor("p=1400")) == ("p", 1400)
    assert encode_cursor("p=1400") == "cD0xNDAw"  # the shape seen on real tenants
    with pytest.raises(BadQuery, match="invalid cursor"):
        decode_cursor("garbage!")
