"""The simulator answers like the real lgfapi v10 API (shared/reference/wms-api.md), over loopback."""

from __future__ import annotations

import re
import ssl
import threading
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gruponos.simulator import Faults, Simulator, Workload
from gruponos.simulator.documents import record_sql
from gruponos.simulator.process import admin_url
from gruponos.simulator.schema import SCHEMA, Kind

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$")


def walk(client: httpx.Client, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Follow next_page exactly as given; collect every record."""
    out: list[dict[str, Any]] = []
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        out += body["results"]
        if body["next_page"] is None:
            return out
        assert body["next_page"].startswith("http://127.0.0.1:")
        response = client.get(body["next_page"])


def test_entity_list_names_every_served_entity_sorted(sim: Simulator, http: httpx.Client) -> None:
    body = http.get(sim.base_url + "entity/").json()
    assert list(body) == sorted(SCHEMA)
    assert body["allocation"] == sim.base_url + "entity/allocation/"


def test_bad_credentials_get_401_with_the_error_envelope(sim: Simulator) -> None:
    r = httpx.get(sim.base_url + "entity/allocation/", auth=(sim.username, "wrong"))
    assert r.status_code == 401
    assert set(r.json()) == {"reference", "code", "message", "details"}


def test_bearer_token_is_accepted_when_configured() -> None:
    with Simulator(scale=50, token="t0ken") as s:
        ok = httpx.get(s.base_url + "entity/company/", headers={"Authorization": "Bearer t0ken"})
        bad = httpx.get(s.base_url + "entity/company/", headers={"Authorization": "Bearer nope"})
    assert (ok.status_code, bad.status_code) == (200, 401)


def test_filter_matching_nothing_answers_404_not_an_empty_page(sim: Simulator, http: httpx.Client) -> None:
    r = http.get(sim.base_url + "entity/allocation/", params={"id__gt": 10**9})
    assert r.status_code == 404
    assert r.json()["code"] == "NOT_FOUND"


def test_page_size_above_1250_is_a_400_with_a_clear_message(sim: Simulator, http: httpx.Client) -> None:
    r = http.get(sim.base_url + "entity/allocation/", params={"page_size": 1251})
    assert r.status_code == 400
    assert "1250" in r.json()["message"]


def test_paged_mode_envelope_and_walk_returns_every_id_once(sim: Simulator, http: httpx.Client) -> None:
    first = http.get(sim.base_url + "entity/allocation/", params={"page_size": 300}).json()
    assert set(first) == {"result_count", "page_count", "page_nbr", "next_page", "previous_page", "results"}
    assert (first["result_count"], first["page_count"], first["page_nbr"]) == (2000, 7, 1)
    rows = walk(http, sim.base_url + "entity/allocation/", {"page_size": 300, "page_mode": "paged"})
    assert [r["id"] for r in rows] == sim.tenant.ids("allocation")


def test_sequenced_mode_envelope_and_cursor_walk_returns_every_id_once(sim: Simulator, http: httpx.Client) -> None:
    first = http.get(sim.base_url + "entity/order_dtl/", params={"page_size": 100, "page_mode": "sequenced"}).json()
    assert set(first) == {"next_page", "previous_page", "results"}
    assert "cursor=" in first["next_page"]
    rows = walk(http, sim.base_url + "entity/order_dtl/", {"page_size": 100, "page_mode": "sequenced"})
    assert [r["id"] for r in rows] == sim.tenant.ids("order_dtl")


def test_sequenced_walk_in_mod_ts_order_returns_every_id_once(sim: Simulator, http: httpx.Client) -> None:
    rows = walk(
        http, sim.base_url + "entity/order_hdr/", {"page_size": 37, "page_mode": "sequenced", "ordering": "mod_ts"}
    )
    assert sorted(r["id"] for r in rows) == sim.tenant.ids("order_hdr")
    stamps = [datetime.fromisoformat(r["mod_ts"]) for r in rows]
    assert stamps == sorted(stamps)


# inventory_history answers only filtered lists (a documented combination)
HISTORY_FILTER = {
    "company_id__code": "CO01",
    "facility_id__code": "DC01",
    "history_activity_id__gte": "1",
    "status_id__gte": "0",
}


def test_records_have_the_real_api_shapes(sim: Simulator, http: httpx.Client) -> None:
    for name, spec in SCHEMA.items():
        params: dict[str, Any] = {"page_size": 50} | (HISTORY_FILTER if name == "inventory_history" else {})
        rows = http.get(sim.base_url + f"entity/{name}/", params=params).json()["results"]
        assert rows, name
        for row in rows:
            assert row["url"] == sim.base_url + f"entity/{name}/{row['id']}/"
            assert list(row) == ["id", "url", *[f.name for f in spec.fields if f.name != "id"]]
            for f in spec.fields:
                v = row[f.name]
                if v is None:
                    assert not f.mandatory, (name, f.name)
                    continue
                match f.kind:
                    case Kind.FK:
                        assert set(v) == {"id", "key", "url"} and isinstance(v["id"], int)
                        # the url is blank when the related resource is not an entity the tenant serves
                        want = sim.base_url + f"entity/{f.target}/{v['id']}/" if f.target in SCHEMA else ""
                        assert v["url"] == want, (name, f.name)
                    case Kind.SET:
                        assert set(v) == {"result_count", "url"} and isinstance(v["result_count"], int)
                    case Kind.STATUS | Kind.INT:
                        assert isinstance(v, int) and not isinstance(v, bool)
                    case Kind.DECIMAL:
                        assert isinstance(v, str) and re.fullmatch(r"-?\d+\.\d{4}", v)
                    case Kind.TS:
                        assert TS.match(v), v
                    case Kind.DATE:
                        assert re.fullmatch(r"\d{4}-\d\d-\d\d", v)
                    case Kind.TIME:
                        assert re.fullmatch(r"\d\d:\d\d:\d\d", v)
                    case Kind.FLG:
                        assert isinstance(v, bool)
                    case Kind.STR:
                        assert isinstance(v, str) and len(v) <= (f.max_length or 10**6), (name, f.name, v)


def test_set_counts_and_foreign_keys_are_consistent(sim: Simulator, http: httpx.Client) -> None:
    lines = walk(http, sim.base_url + "entity/order_dtl/", {"page_size": 1000})
    orders = walk(http, sim.base_url + "entity/order_hdr/", {"page_size": 1000})
    per_order: dict[int, int] = {}
    for line in lines:
        per_order[line["order_id"]["id"]] = per_order.get(line["order_id"]["id"], 0) + 1
    assert {o["id"]: o["order_dtl_set"]["result_count"] for o in orders if per_order.get(o["id"])} == per_order
    order_ids = {o["id"] for o in orders}
    assert all(line["order_id"]["id"] in order_ids for line in lines)
    keys = {o["id"]: o["order_nbr"] for o in orders}
    assert all(line["order_id"]["key"] == keys[line["order_id"]["id"]] for line in lines)


def test_mod_ts_window_filter_matches_an_independent_computation(sim: Simulator, http: httpx.Client) -> None:
    lo, hi = "2026-10-20T00:00:00-03:00", "2026-10-25T00:00:00-03:00"
    rows = walk(http, sim.base_url + "entity/allocation/", {"mod_ts__gte": lo, "mod_ts__lt": hi, "page_size": 500})
    want = {
        i for i, ts in sim.tenant.mod_ts("allocation").items()
        if datetime.fromisoformat(lo) <= ts < datetime.fromisoformat(hi)
    }  # fmt: skip
    assert want and {r["id"] for r in rows} == want


def test_traversal_and_negated_in_filters(sim: Simulator, http: httpx.Client) -> None:
    params = {"order_id__facility_id__code": "DC02", "status_id__in!": "90,99", "page_size": 1000}
    got = {r["id"] for r in walk(http, sim.base_url + "entity/order_dtl/", params)}
    orders = {o["id"]: o for o in sim.tenant.rows("order_hdr")}
    want = {
        r["id"] for r in sim.tenant.rows("order_dtl")
        if orders[r["order_id"]]["_k_facility_id"] == "DC02" and r["status_id"] not in (90, 99)
    }  # fmt: skip
    assert want and got == want


def test_fields_projection_and_detail_and_describe(sim: Simulator, http: httpx.Client) -> None:
    page = http.get(sim.base_url + "entity/allocation/", params={"fields": "status_id,mod_ts", "page_size": 3}).json()
    assert [list(r) for r in page["results"]] == [["id", "status_id", "mod_ts"]] * 3
    one = http.get(sim.base_url + "entity/allocation/5/").json()
    assert one["id"] == 5
    assert http.get(sim.base_url + "entity/allocation/999999/").status_code == 404
    describe = http.get(sim.base_url + "entity/allocation/describe/").json()
    assert "mod_ts" in describe["parameters"]
    assert describe["fields"]["pick_user"]["max_length"] == 255


def test_same_seed_same_tenant_other_seed_other_tenant() -> None:
    def first_page(seed: int) -> bytes:
        with Simulator(scale=200, seed=seed, port=0) as s:
            body = httpx.get(s.base_url + "entity/allocation/", auth=(s.username, s.password)).content
            return body.replace(s.base_url.encode(), b"")

    assert first_page(1) == first_page(1)
    assert first_page(1) != first_page(2)


def test_advancing_the_clock_modifies_inserts_and_serves_the_new_versions(fresh_sim: Simulator) -> None:
    s = fresh_sim
    before = s.tenant.mod_ts("allocation")
    changes = s.advance(minutes=120, modify=0.05, insert=0.01)
    after = s.tenant.mod_ts("allocation")
    modified, inserted = changes.modified["allocation"], changes.inserted["allocation"]
    assert len(modified) == 50 and len(inserted) == 10
    assert all(after[i] > before[i] for i in modified)
    assert all(i not in before for i in inserted)
    with httpx.Client(auth=(s.username, s.password)) as c:
        since = c.get(
            s.base_url + "entity/allocation/",
            params={"mod_ts__gte": "2026-10-31T21:00:00-03:00", "page_size": 1000},  # = the old clock, UTC midnight
        ).json()["results"]
    assert {r["id"] for r in since} == set(modified) | set(inserted)
    served = {r["id"]: datetime.fromisoformat(r["mod_ts"]) for r in since}
    assert all(served[i] == after[i] for i in served)
    assert s.tenant.now == datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def test_deleted_rows_vanish_without_notice(fresh_sim: Simulator) -> None:
    s = fresh_sim
    s.delete("allocation", [2, 3, 500])
    with httpx.Client(auth=(s.username, s.password)) as c:
        rows = walk(c, s.base_url + "entity/allocation/", {"page_size": 333, "page_mode": "sequenced"})
        assert c.get(s.base_url + "entity/allocation/3/").status_code == 404
    ids = [r["id"] for r in rows]
    assert len(ids) == 997 and not {2, 3, 500} & set(ids)


def test_admin_endpoint_advances_the_clock_and_sets_faults(fresh_sim: Simulator) -> None:
    s = fresh_sim
    with httpx.Client(auth=(s.username, s.password)) as c:
        r = c.post(s.base_url.split("/local/")[0] + "/_sim/advance", params={"minutes": 30, "modify": 0.01})
        assert r.status_code == 200 and r.json()["modified"]["allocation"] == 10
        r = c.post(s.base_url.split("/local/")[0] + "/_sim/faults", content=orjson.dumps({"rate_limit_every": 1}))
        assert r.status_code == 200
        assert c.get(s.base_url + "entity/allocation/").status_code == 429
        bad = c.post(s.base_url.split("/local/")[0] + "/_sim/faults", content=b'{"nope": 1}')
        assert bad.status_code == 400 and "nope" in bad.json()["message"]


# --- faults ---------------------------------------------------------------------------


def statuses(s: Simulator, n: int, **params: Any) -> list[int]:
    with httpx.Client(auth=(s.username, s.password)) as c:
        return [c.get(s.base_url + "entity/item/", params=params).status_code for _ in range(n)]


def test_rate_limit_fault_answers_429_with_retry_after(fresh_sim: Simulator) -> None:
    fresh_sim.set_faults(Faults(rate_limit_every=3, retry_after_s=2))
    assert statuses(fresh_sim, 6) == [200, 200, 429, 200, 200, 429]
    with httpx.Client(auth=(fresh_sim.username, fresh_sim.password)) as c:
        c.get(fresh_sim.base_url + "entity/item/")
        c.get(fresh_sim.base_url + "entity/item/")
        r = c.get(fresh_sim.base_url + "entity/item/")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"


def test_error_burst_fault_answers_5xx_for_the_burst(fresh_sim: Simulator) -> None:
    fresh_sim.set_faults(Faults(error_every=5, error_burst=2, error_status=500))
    assert statuses(fresh_sim, 10) == [200, 200, 200, 200, 500, 500, 200, 200, 200, 500]


def test_truncated_body_fault_sends_invalid_json(fresh_sim: Simulator) -> None:
    fresh_sim.set_faults(Faults(truncate_every=2))
    with httpx.Client(auth=(fresh_sim.username, fresh_sim.password)) as c:
        ok = c.get(fresh_sim.base_url + "entity/item/")
        cut = c.get(fresh_sim.base_url + "entity/item/")
    orjson.loads(ok.content)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(cut.content)


def test_large_page_timeout_fault_hangs_only_large_pages(fresh_sim: Simulator) -> None:
    fresh_sim.set_faults(Faults(timeout_above_page_size=100, timeout_s=3))
    with httpx.Client(auth=(fresh_sim.username, fresh_sim.password), timeout=0.5) as c:
        assert c.get(fresh_sim.base_url + "entity/item/", params={"page_size": 100}).status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            c.get(fresh_sim.base_url + "entity/item/", params={"page_size": 101})


def test_phantom_page_is_announced_then_answers_500(fresh_sim: Simulator) -> None:
    fresh_sim.set_faults(Faults(phantom_page=True))
    with httpx.Client(auth=(fresh_sim.username, fresh_sim.password)) as c:
        first = c.get(fresh_sim.base_url + "entity/allocation/", params={"page_size": 500}).json()
        assert first["page_count"] == 3  # 1000 rows: 2 real pages + the phantom
        last = c.get(fresh_sim.base_url + "entity/allocation/", params={"page_size": 500, "page": 2}).json()
        assert last["next_page"] is not None
        assert c.get(last["next_page"]).status_code == 500


def test_shrinking_page_count_ends_the_scan_early(fresh_sim: Simulator) -> None:
    fresh_sim.set_faults(Faults(shrink_page_count=True))
    with httpx.Client(auth=(fresh_sim.username, fresh_sim.password)) as c:
        rows = walk(c, fresh_sim.base_url + "entity/allocation/", {"page_size": 100})
    assert len(rows) == 200  # a naive client stops here and loses 800 rows


# --- one consistent tenant --------------------------------------------------------------


@pytest.mark.parametrize("grown", [False, True], ids=["generated", "after inserts into every entity"])
def test_every_foreign_key_to_a_served_entity_points_at_a_row_with_that_key(
    sim: Simulator, fresh_sim: Simulator, grown: bool
) -> None:
    if grown:
        sim = fresh_sim
        inserted = sim.advance(minutes=30, modify=0.05, insert=0.05).inserted
        assert {n for n, ids in inserted.items() if ids} == {n for n, s in SCHEMA.items() if s.tracked} - {
            "company",
            "facility",
        }
    rows = {name: {r["id"]: r for r in sim.tenant.rows(name)} for name in SCHEMA}
    for name, spec in SCHEMA.items():
        for f in spec.fks:
            if f.target not in SCHEMA:
                continue
            key_field, prefix = SCHEMA[f.target].key, SCHEMA[f.target].key_prefix
            for row in rows[name].values():
                if row[f.name] is None:
                    continue
                target = rows[f.target].get(row[f.name])
                assert target is not None, (name, row["id"], f.name, row[f.name])
                assert row[f"_k_{f.name}"] == prefix + str(target[key_field]), (name, row["id"], f.name)


def test_purchase_orders_ship_on_asns_whose_lines_are_received_as_containers(sim: Simulator) -> None:
    t = sim.tenant
    pos = {r["id"]: r for r in t.rows("purchase_order_hdr")}
    po_lines = {r["id"]: r for r in t.rows("purchase_order_dtl")}
    asns = {r["id"]: r for r in t.rows("ib_shipment")}
    containers = {r["container_nbr"]: r for r in t.rows("container")}
    received_on = {r["container_nbr"]: r for r in t.rows("ib_container")}
    lines = t.rows("ib_shipment_dtl")
    assert len(lines) == len(po_lines) == len(received_on)
    for line in lines:
        po_line = po_lines[line["po_dtl_id"]]
        asn, po = asns[line["shipment_id"]], pos[line["po_id"]]
        assert po_line["po_id"] == po["id"] and line["item_id"] == po_line["item_id"]
        assert asn["_k_vendor_id"] == po["_k_vendor_id"] and asn["facility_id"] == po["facility_id"]
        assert line["received_qty"] <= line["shipped_qty"] <= po_line["ord_qty"]
        assert (line["shipped_qty"], line["received_qty"]) == (po_line["shipped_qty"], po_line["received_qty"])
        lpn = containers[line["lpn_nbr"]]
        assert lpn["rcvd_shipment_id"] == asn["id"] and lpn["facility_id"] == po["facility_id"]
        assert lpn["ref_po_nbr"] == po["po_nbr"] and lpn["ref_shipment_nbr"] == asn["shipment_nbr"]
        ib = received_on[line["lpn_nbr"]]
        assert (ib["shipment_id"], ib["container_id"], ib["rcvd_ts"]) == (asn["id"], lpn["id"], lpn["rcvd_ts"])
        if line["received_qty"] > 0:
            assert asn["checkin_ts"] <= lpn["rcvd_ts"] <= lpn["first_putaway_ts"]
        else:
            assert lpn["rcvd_ts"] is None


def test_containers_hold_inventory_of_their_facility_in_their_location(sim: Simulator) -> None:
    t = sim.tenant
    containers = {r["id"]: r for r in t.rows("container")}
    item_received = {r["lpn_nbr"]: r["item_id"] for r in t.rows("ib_shipment_dtl")}
    boxed = [r for r in t.rows("inventory") if r["container_id"] is not None]
    assert boxed
    for inv in boxed:
        box = containers[inv["container_id"]]
        assert (inv["facility_id"], inv["location_id"]) == (box["facility_id"], box["curr_location_id"])
        if box["container_nbr"] in item_received:
            assert inv["item_id"] == item_received[box["container_nbr"]]


# --- a tenant that lives ----------------------------------------------------------------


def test_the_realtime_clock_follows_the_wall_clock_and_stamps_changes_now() -> None:
    with Simulator(scale=300, seed=4, clock="realtime") as s, httpx.Client(auth=(s.username, s.password)) as c:
        served = parsedate_to_datetime(c.get(s.base_url + "entity/company/").headers["Date"])
        assert abs((served - datetime.now(UTC)).total_seconds()) < 2
        assert max(s.tenant.mod_ts("allocation").values()) < s.tenant.epoch <= datetime.now(UTC)
        before = datetime.now(UTC)
        r = c.post(admin_url(s.base_url) + "/advance", params={"minutes": 60, "modify": 0.05, "insert": 0.01})
        after = datetime.now(UTC)
        assert r.status_code == 200 and r.json()["modified"]["allocation"] == 15
        stamps = s.tenant.mod_ts("allocation")
        changed = [stamps[i] for i in range(1, 400) if i in stamps and stamps[i] >= before]
        assert len(changed) == 15 + 3  # modified and inserted: stamped now, never back-dated
        assert all(before <= ts <= after for ts in changed)
        new = s.tenant.rows("allocation", [301])[0]
        assert new["create_ts"] == new["mod_ts"] and before <= new["create_ts"].replace(tzinfo=UTC) <= after


def test_the_churn_writer_changes_records_between_the_pages_of_a_scan() -> None:
    workload = Workload(rate=200, entities=("allocation",))
    with Simulator(scale=2_000, seed=4, clock="realtime", workload=workload, faults=Faults(latency_s=0.05)) as s:
        started = datetime.now(UTC)
        with httpx.Client(auth=(s.username, s.password)) as c:
            rows = walk(c, s.base_url + "entity/allocation/", {"page_size": 100, "page_mode": "sequenced"})
        stamps = [datetime.fromisoformat(r["mod_ts"]) for r in rows]
    # pages later in the scan carry changes made after it began
    assert any(ts > started for ts in stamps[1000:])
    assert s.status()["changes"]["modified"] > 100


def test_a_late_commit_keeps_its_mod_ts_and_becomes_visible_late_s_later() -> None:
    workload = Workload(late_share=1.0, late_s=1.5)
    with Simulator(scale=300, seed=4, clock="realtime", workload=workload) as s:
        before = s.tenant.mod_ts("allocation")
        changes = s.advance(modify=0.02, insert=0)
        late = changes.late["allocation"]
        assert len(late) == 6 and not changes.modified["allocation"]
        assert s.tenant.mod_ts("allocation") == before  # not visible yet
        s.settle(timeout=10)
        visible_at = datetime.now(UTC)
        after = s.tenant.mod_ts("allocation")
    for i in late:
        assert after[i] > before[i]
        assert timedelta(seconds=1.4) < visible_at - after[i] < timedelta(seconds=4)


def test_https_with_the_self_signed_certificate_it_writes(tmp_path: Path) -> None:
    with Simulator(scale=50, tls=True, data_dir=tmp_path) as s:
        assert s.base_url.startswith("https://127.0.0.1:") and s.ca_bundle == tmp_path / "simulator-cert.pem"
        with httpx.Client(auth=(s.username, s.password), verify=ssl.create_default_context(cafile=s.ca_bundle)) as c:
            assert c.get(s.base_url + "entity/company/").status_code == 200
        with pytest.raises(httpx.ConnectError):  # an untrusting client refuses it
            httpx.get(s.base_url + "entity/company/", auth=(s.username, s.password))
        first = s.ca_bundle.read_bytes()
    with Simulator(scale=50, tls=True, data_dir=tmp_path) as again:
        assert again.ca_bundle is not None and again.ca_bundle.read_bytes() == first  # kept while valid


def test_the_admin_door_sets_the_workload_of_a_realtime_tenant(fresh_sim: Simulator) -> None:
    with Simulator(scale=200, seed=4, clock="realtime") as s, httpx.Client(auth=(s.username, s.password)) as c:
        door = admin_url(s.base_url)
        r = c.post(door + "/workload", content=orjson.dumps({"rate": 40, "entities": ["allocation"]}))
        assert r.status_code == 200 and r.json()["rate"] == 40
        status = c.get(door + "/status").json()
        assert status["clock"] == "realtime" and status["workload"]["entities"] == ["allocation"]
        assert c.post(door + "/workload", content=b'{"nope": 1}').status_code == 400
        assert "do not churn" in c.post(door + "/workload", content=b'{"entities": ["order_status"]}').json()["message"]
    with httpx.Client(auth=(fresh_sim.username, fresh_sim.password)) as c:
        refused = c.post(admin_url(fresh_sim.base_url) + "/workload", content=b'{"rate": 5}')
    assert refused.status_code == 400 and "needs the realtime clock" in refused.json()["message"]


def test_a_page_mixing_new_unrendered_rows_in_any_order_is_served_whole(fresh_sim: Simulator) -> None:
    s = fresh_sim
    assert s.prerendered.wait(30)
    inserted = s.advance(minutes=10, modify=0, insert=0.05, entities=["allocation"]).inserted["allocation"]
    with httpx.Client(auth=(s.username, s.password)) as c:
        rows = walk(c, s.base_url + "entity/allocation/", {"ordering": "status_id", "page_size": 1000})
    got = [r["id"] for r in rows]
    assert sorted(got) == s.tenant.ids("allocation") and set(inserted) <= set(got)
    assert [r["status_id"] for r in rows] == sorted(r["status_id"] for r in rows)


def test_a_page_serves_the_rows_its_ids_were_chosen_with_even_if_one_is_deleted_meanwhile(
    fresh_sim: Simulator,
) -> None:
    s = fresh_sim
    assert s.prerendered.wait(30)
    chosen = s.tenant.ids("allocation")[:50]  # a page's ids, as the server selects them…
    s.tenant.set_values("allocation", [7], {"pick_user": "changed.meanwhile"})
    s.delete("allocation", [9, 10])  # …then rows change and vanish before it is rendered
    page = orjson.loads(b"[" + s.documents.page("allocation", chosen) + b"]")
    assert [r["id"] for r in page] == chosen  # one consistent page: never short while rows follow
    assert page[6]["pick_user"] == "changed.meanwhile"


def test_compaction_keeps_every_page_whole_while_readers_read(fresh_sim: Simulator) -> None:
    s = fresh_sim
    assert s.prerendered.wait(30)
    docs = s.documents
    ids = s.tenant.ids("allocation")
    for round_ in range(5):  # the same rows rendered again and again: most of the file goes dead
        s.tenant.set_values("allocation", ids, {"pick_user": f"round.{round_}"})
        docs.refresh()
    s.delete("allocation", [3, 4])
    before = docs.size_bytes
    failures: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            got = [r["id"] for r in orjson.loads(b"[" + docs.page("allocation", ids[:200]) + b"]")]
            if got != ids[:200]:
                failures.append(f"{len(got)} rows")

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    docs.compact()
    stop.set()
    for t in readers:
        t.join()
    assert not failures
    assert docs.size_bytes < before / 3
    served = orjson.loads(b"[" + docs.page("allocation", ids) + b"]")
    assert [r["id"] for r in served] == ids  # 3 and 4, deleted after their ids were chosen: as last rendered
    assert all(r["pick_user"] == "round.4" for r in served)
    sql = record_sql(SCHEMA["allocation"], s.base_url, s.tz) + " where t.id in (select unnest($1::bigint[]))"
    want = {i: orjson.loads(doc) for i, doc in s.tenant.cursor().execute(sql, [ids]).fetchall()}
    assert {r["id"]: r for r in served if r["id"] in want} == want and set(want) == set(ids) - {3, 4}
