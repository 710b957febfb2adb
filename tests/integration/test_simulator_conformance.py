"""Every documented lgfapi query form, over loopback: the documented answer, or a 400 that says
the simulator does not support it. Expectations are computed from the tenant's own rows in Python."""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gruponos.simulator import Simulator
from gruponos.simulator.schema import SCHEMA, Kind
from tests.integration.test_simulator_api import walk

TZ = timedelta(hours=-3)  # the simulator's facility time zone


def ids(http: httpx.Client, sim: Simulator, entity: str, **params: Any) -> set[int]:
    response = http.get(sim.base_url + f"entity/{entity}/", params={"page_size": 1000} | params)
    if response.status_code == 404:
        return set()
    return {r["id"] for r in walk(http, sim.base_url + f"entity/{entity}/", {"page_size": 1000} | params)}


def refused(http: httpx.Client, url: str, params: dict[str, Any] | None = None) -> str:
    response = http.get(url, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    return str(body["message"])


def local(ts: datetime) -> datetime:
    return ts + TZ  # tenant rows hold naive UTC


def django_week_day(d: datetime) -> int:
    return d.isoweekday() % 7 + 1  # 1 is Sunday


@pytest.fixture(scope="module")
def orders(sim: Simulator) -> list[dict[str, Any]]:
    return sim.tenant.rows("order_hdr")


# --- lookups ------------------------------------------------------------------------------

TEXT_LOOKUPS: dict[str, Callable[[str], bool]] = {
    "exact": lambda v: v == "SO000000042",
    "iexact": lambda v: v.lower() == "so000000042",
    "contains": lambda v: "0004" in v,
    "icontains": lambda v: "so00000004" in v.lower(),
    "startswith": lambda v: v.startswith("SO0000001"),
    "istartswith": lambda v: v.lower().startswith("so0000001"),
    "endswith": lambda v: v.endswith("7"),
    "iendswith": lambda v: v.lower().endswith("07"),
}
TEXT_VALUES = {
    "exact": "SO000000042",
    "iexact": "so000000042",
    "contains": "0004",
    "icontains": "so00000004",
    "startswith": "SO0000001",
    "istartswith": "so0000001",
    "endswith": "7",
    "iendswith": "07",
}


@pytest.mark.parametrize("lookup", sorted(TEXT_LOOKUPS))
def test_text_lookups_match_an_independent_filter(
    sim: Simulator, http: httpx.Client, orders: list[dict[str, Any]], lookup: str
) -> None:
    want = {o["id"] for o in orders if TEXT_LOOKUPS[lookup](o["order_nbr"])}
    assert want
    assert ids(http, sim, "order_hdr", **{f"order_nbr__{lookup}": TEXT_VALUES[lookup]}) == want


def test_comparison_in_range_and_isnull_lookups(
    sim: Simulator, http: httpx.Client, orders: list[dict[str, Any]]
) -> None:
    assert ids(http, sim, "order_hdr", priority__gt=3) == {o["id"] for o in orders if o["priority"] > 3}
    assert ids(http, sim, "order_hdr", priority__lte=2) == {o["id"] for o in orders if o["priority"] <= 2}
    assert ids(http, sim, "order_hdr", status_id__in="10,90") == {o["id"] for o in orders if o["status_id"] in (10, 90)}
    assert ids(http, sim, "order_hdr", id__range="5,9") == set(range(5, 10))
    shipped = {o["id"] for o in orders if o["order_shipped_ts"] is None}
    assert ids(http, sim, "order_hdr", order_shipped_ts__isnull="true") == shipped
    assert ids(http, sim, "order_hdr", **{"status_id__in!": "10,90"}) == {
        o["id"] for o in orders if o["status_id"] not in (10, 90)
    }


# --- date parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "of"),
    [
        ("year", lambda d: d.year),
        ("month", lambda d: d.month),
        ("day", lambda d: d.day),
        ("week_day", django_week_day),
        ("hour", lambda d: d.hour),
        ("minute", lambda d: d.minute),
    ],
)
def test_date_part_lookups_on_a_datetime_read_facility_time(
    sim: Simulator, http: httpx.Client, orders: list[dict[str, Any]], part: str, of: Callable[[datetime], int]
) -> None:
    value = of(local(orders[0]["mod_ts"]))
    for probe in (value, value + 1):
        want = {o["id"] for o in orders if of(local(o["mod_ts"])) == probe}
        assert ids(http, sim, "order_hdr", **{f"mod_ts__{part}": probe}) == want
    assert {o["id"] for o in orders if of(local(o["mod_ts"])) == value}


def test_date_parts_on_a_date_and_chained_with_a_comparison(
    sim: Simulator, http: httpx.Client, orders: list[dict[str, Any]]
) -> None:
    assert ids(http, sim, "order_hdr", ord_date__month=10) == {o["id"] for o in orders if o["ord_date"].month == 10}
    assert ids(http, sim, "order_hdr", ord_date__week_day=1) == {
        o["id"] for o in orders if o["ord_date"].isoweekday() == 7
    }
    assert ids(http, sim, "order_hdr", mod_ts__hour__gte=20) == {
        o["id"] for o in orders if local(o["mod_ts"]).hour >= 20
    }
    assert "applies to date, datetime or time fields" in refused(
        http, sim.base_url + "entity/order_hdr/", {"ord_date__hour": 3}
    )


def test_sub_second_mod_ts_filters_are_truncated_to_whole_seconds(sim: Simulator, http: httpx.Client) -> None:
    whole = ids(http, sim, "allocation", mod_ts__gte="2026-10-20T00:00:00-03:00")
    assert whole
    assert ids(http, sim, "allocation", mod_ts__gte="2026-10-20T00:00:00.987654-03:00") == whole


# --- relations and related sets -----------------------------------------------------------


def test_reverse_set_isnull_finds_rows_with_and_without_children(fresh_sim: Simulator) -> None:
    s = fresh_sim
    s.delete("order_dtl", [line["id"] for line in s.tenant.rows("order_dtl") if line["order_id"] in (3, 5)])
    parents = {line["order_id"] for line in s.tenant.rows("order_dtl")}
    with httpx.Client(auth=(s.username, s.password)) as http:
        assert ids(http, s, "order_hdr", order_dtl_set__isnull="true") == {3, 5}
        assert ids(http, s, "order_hdr", order_dtl_set__isnull="false") == parents
        shown = http.get(s.base_url + "entity/order_hdr/3/").json()["order_dtl_set"]
    assert shown["result_count"] == 0  # the parent's set count follows its children


def test_a_related_set_is_followed_backwards(sim: Simulator, http: httpx.Client) -> None:
    lines = sim.tenant.rows("order_dtl")
    item = lines[0]["item_id"]
    want = {line["order_id"] for line in lines if line["item_id"] == item}
    assert ids(http, sim, "order_hdr", order_dtl_set__item_id=item) == want


def test_a_filter_on_a_set_itself_is_refused_with_what_to_do_instead(sim: Simulator, http: httpx.Client) -> None:
    message = refused(http, sim.base_url + "entity/order_hdr/", {"order_dtl_set": "5"})
    assert "order_dtl_set is a related set" in message and "__isnull" in message


# --- limit, values_list, distinct, format ------------------------------------------------


def test_limit_caps_the_whole_result_in_both_page_modes(sim: Simulator, http: httpx.Client) -> None:
    first = http.get(sim.base_url + "entity/allocation/", params={"limit": 250, "page_size": 100}).json()
    assert (first["result_count"], first["page_count"]) == (250, 3)
    paged = walk(http, sim.base_url + "entity/allocation/", {"limit": 250, "page_size": 100, "ordering": "id"})
    sequenced = walk(
        http, sim.base_url + "entity/allocation/", {"limit": 250, "page_size": 100, "page_mode": "sequenced"}
    )
    assert [r["id"] for r in paged] == [r["id"] for r in sequenced] == sim.tenant.ids("allocation")[:250]


def test_values_list_sends_fks_as_bare_ids_and_follows_relations_under_aliases(
    sim: Simulator, http: httpx.Client
) -> None:
    rows = walk(
        http,
        sim.base_url + "entity/order_dtl/",
        {"values_list": "id,order_id,order_id__order_nbr:order_nbr,ord_qty", "page_size": 500},
    )
    orders = {o["id"]: o["order_nbr"] for o in sim.tenant.rows("order_hdr")}
    lines = {line["id"]: line for line in sim.tenant.rows("order_dtl")}
    assert len(rows) == len(lines)
    for row in rows:
        line = lines[row["id"]]
        assert list(row) == ["id", "order_id", "order_nbr", "ord_qty"]
        assert row["order_id"] == line["order_id"] and isinstance(row["order_id"], int)
        assert row["order_nbr"] == orders[line["order_id"]]
        assert row["ord_qty"] == f"{line['ord_qty']:.4f}"
    message = refused(http, sim.base_url + "entity/order_hdr/", {"values_list": "id,order_dtl_set"})
    assert "related set" in message


def test_distinct_with_ordering_removes_duplicates_and_without_ordering_is_ignored(
    sim: Simulator, http: httpx.Client
) -> None:
    lines = sim.tenant.rows("order_dtl")
    params = {"values_list": "order_id__order_nbr:order_nbr", "distinct": "true", "page_size": 1000}
    distinct = walk(http, sim.base_url + "entity/order_dtl/", params | {"ordering": "-order_nbr"})
    orders = {o["id"]: o["order_nbr"] for o in sim.tenant.rows("order_hdr")}
    want = sorted({orders[line["order_id"]] for line in lines}, reverse=True)
    assert [r["order_nbr"] for r in distinct] == want
    ignored = walk(http, sim.base_url + "entity/order_dtl/", params)  # documented: no ordering, no distinct
    assert len(ignored) == len(lines)


def test_values_list_on_a_retrieve(sim: Simulator, http: httpx.Client) -> None:
    one = http.get(sim.base_url + "entity/allocation/7/", params={"values_list": "id,order_dtl_id"}).json()
    assert one == {"id": 7, "order_dtl_id": sim.tenant.rows("allocation", [7])[0]["order_dtl_id"]}


def test_format_json_is_the_default_and_xml_is_refused(sim: Simulator, http: httpx.Client) -> None:
    url = sim.base_url + "entity/item/"
    plain = http.get(url, params={"page_size": 5}).json()["results"]
    assert http.get(url, params={"page_size": 5, "format": "json"}).json()["results"] == plain
    assert "not supported by the simulator" in refused(http, url, {"format": "xml"})


def test_a_retrieve_refuses_filters(sim: Simulator, http: httpx.Client) -> None:
    message = refused(http, sim.base_url + "entity/allocation/7/", {"status_id": "10"})
    assert "filters are not allowed when retrieving one record by id" in message


# --- HEAD, Last-Modified, If-Modified-Since ----------------------------------------------


def test_head_tells_existence_without_a_body(sim: Simulator, http: httpx.Client) -> None:
    some = http.head(sim.base_url + "entity/allocation/", params={"status_id": 10})
    none = http.head(sim.base_url + "entity/allocation/", params={"id__gt": 10**9})
    one = http.head(sim.base_url + "entity/allocation/7/")
    gone = http.head(sim.base_url + "entity/allocation/9999999/")
    assert (some.status_code, none.status_code, one.status_code, gone.status_code) == (200, 404, 200, 404)
    assert some.content == b"" and one.content == b""


def test_a_retrieve_sends_last_modified_and_head_answers_if_modified_since(sim: Simulator, http: httpx.Client) -> None:
    mod_ts = sim.tenant.mod_ts("allocation")[7]
    got = http.get(sim.base_url + "entity/allocation/7/")
    last = datetime.fromisoformat(got.headers["Last-Modified"])
    assert last == mod_ts and last.utcoffset() == TZ  # ISO-8601 in the facility's time zone
    url = sim.base_url + "entity/allocation/7/"
    assert http.head(url, headers={"If-Modified-Since": got.headers["Last-Modified"]}).status_code == 304
    before = (mod_ts - timedelta(seconds=1)).isoformat()
    assert http.head(url, headers={"If-Modified-Since": before}).status_code == 200
    after = (mod_ts + timedelta(days=1)).astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert http.head(url, headers={"If-Modified-Since": after}).status_code == 304  # an HTTP date works too
    listed = http.head(sim.base_url + "entity/allocation/", headers={"If-Modified-Since": before})
    assert listed.status_code == 400
    untracked = http.get(sim.base_url + "entity/order_status/10/")
    assert untracked.status_code == 200 and "Last-Modified" not in untracked.headers


# --- describe, lookups, ordering refusal, filter-required entity --------------------------


def test_describe_speaks_the_documented_vocabulary_for_every_entity(sim: Simulator, http: httpx.Client) -> None:
    vocabulary = {"integer", "string", "decimal", "datetime", "date", "time", "boolean", "relation", "related set"}
    for name, spec in SCHEMA.items():
        body = http.get(sim.base_url + f"entity/{name}/describe/").json()
        assert list(body["fields"]) == [f.name for f in spec.fields], name
        assert set(body["parameters"]) == {f.name for f in spec.fields if f.kind is not Kind.SET}
        for field_name, meta in body["fields"].items():
            extra = {"related_entity", "related_field"}
            assert set(meta) - extra == {"type", "allow_blank", "max_length", "required", "default"}
            assert meta["type"] in vocabulary, (name, field_name)
            assert meta["required"] in ("X", "Y", "N", "C"), (name, field_name)
            target = spec.field(field_name).target
            if meta["type"] in ("relation", "related set"):
                assert meta.get("related_entity") == (target if target in SCHEMA else None), (name, field_name)
            if meta["type"] == "related set":
                assert meta["related_field"] == spec.field(field_name).via
            if meta["type"] == "string":
                assert isinstance(meta["max_length"], int)
    allocation = http.get(sim.base_url + "entity/allocation/describe/").json()["fields"]
    assert allocation["id"]["required"] == "X" and allocation["order_dtl_id"]["required"] == "Y"
    assert allocation["alloc_uom_id"] == {
        "type": "relation",
        "allow_blank": False,
        "max_length": None,
        "required": "N",
        "default": None,
    }
    inventory = http.get(sim.base_url + "entity/inventory/describe/").json()["fields"]
    assert inventory["container_id"]["required"] == "C"
    assert inventory["status_id"]["type"] == "integer"


def test_lookup_entities_have_no_mod_ts(sim: Simulator, http: httpx.Client) -> None:
    for name in ("order_status", "inventory_status", "purchase_order_status", "order_type", "putaway_type"):
        fields = http.get(sim.base_url + f"entity/{name}/describe/").json()["fields"]
        assert "mod_ts" not in fields and "create_ts" not in fields, name
        assert "unknown field 'mod_ts'" in refused(
            http, sim.base_url + f"entity/{name}/", {"mod_ts__gte": "2026-01-01"}
        )
    statuses = walk(http, sim.base_url + "entity/order_status/", {})
    assert {r["id"]: r["description"] for r in statuses}[90] == "Shipped"


def test_an_entity_refusing_ordering_is_still_readable_without_it(sim: Simulator, http: httpx.Client) -> None:
    url = sim.base_url + "entity/history_activity/"
    assert "ordering is not supported for entity history_activity" in refused(http, url, {"ordering": "id"})
    for mode in ("paged", "sequenced"):
        rows = walk(http, url, {"page_size": 5, "page_mode": mode})
        assert [r["id"] for r in rows] == sim.tenant.ids("history_activity")


def test_inventory_history_answers_only_a_documented_filter_combination(sim: Simulator, http: httpx.Client) -> None:
    url = sim.base_url + "entity/inventory_history/"
    assert "filter on one of these combinations" in refused(http, url)
    codes = {"company_id__code": "CO01", "facility_id__code": "DC01"}
    assert "company_id__code + facility_id__code + group_nbr" in refused(http, url, codes)
    assert http.head(url, params=codes).status_code == 400
    history = sim.tenant.rows("inventory_history")
    group = history[0]["group_nbr"]
    facility = {f["id"]: f["code"] for f in sim.tenant.rows("facility")}
    company = {c["id"]: c["code"] for c in sim.tenant.rows("company")}
    row = history[0]
    params = {"company_id__code": company[row["company_id"]], "facility_id__code": facility[row["facility_id"]]}
    want = {
        h["id"]
        for h in history
        if h["group_nbr"] == group
        and company[h["company_id"]] == params["company_id__code"]
        and facility[h["facility_id"]] == params["facility_id__code"]
    }
    assert ids(http, sim, "inventory_history", **params, group_nbr=group) == want
    assert http.get(url + f"{row['id']}/").json()["group_nbr"] == group  # a retrieve needs no filter


# --- input nobody here wrote (issue 10, item 11) -----------------------------------------


def test_non_ascii_basic_credentials_are_compared_as_bytes() -> None:
    with Simulator(scale=50, username="usuário", password="sénha-ção") as s:
        url = s.base_url + "entity/company/"

        def basic(user: str, password: str) -> dict[str, str]:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}

        assert httpx.get(url, headers=basic("usuário", "sénha-ção")).status_code == 200
        assert httpx.get(url, headers=basic("usuário", "senha-cao")).status_code == 401
        assert httpx.get(url, headers=basic("ünknown", "ñ")).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Basic ***not base64***"}).status_code == 401


def test_a_garbage_content_length_on_the_admin_door_is_a_400(sim: Simulator) -> None:
    token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
    request = (
        f"POST /_sim/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {token}\r\n"
        "Content-Length: abc\r\nConnection: close\r\n\r\n{}"
    )
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as sock:
        sock.sendall(request.encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert b"Content-Length must be a byte count" in reply
