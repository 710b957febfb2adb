"""The dbt project against a real warehouse: a seeded simulator tenant synced into a DuckDB
file by the library's own sync, then ``dbt build`` (seeds, staging, marts, snapshots,
tests) through dbt's programmatic runner. Every mart number is checked against a value
computed here, in Python, from the simulator's own records and the seed CSVs — never from
the SQL's output. Broken data must make the build fail and name the test that caught it.
"""

from __future__ import annotations

import csv
import logging
import shutil
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
import yaml
from dbt.artifacts.schemas.freshness import FreshnessResult
from dbt.artifacts.schemas.run import RunExecutionResult
from dbt.cli.main import dbtRunnerResult
from returns.io import IOFailure
from returns.unsafe import unsafe_perform_io

from gruponos import dbt_runner
from gruponos import settings as settings_module
from gruponos.entities import EntitySpec
from gruponos.pipeline import Context, sync_entity
from gruponos.simulator import Simulator
from gruponos.warehouse import connect
from gruponos.wms import WmsClient
from tests.specs import read_by_dbt

pytestmark = pytest.mark.slow

SEEDS = dbt_runner.PROJECT_DIR / "seeds"
SCHEMA = "analytics"
# rows the WMS forgets after the first full sync: the second one marks them deleted
# (plus the location of inventory record 20, so stock points at a vanished location, and
# on the inbound side an ASN line and a container received for two purchase order lines)
FORGOTTEN = {
    "allocation": [3, 50, 51, 400],
    "inventory": [7, 8],
    "location": [],
    "ib_shipment_dtl": [],
    "container": [],
}
MODELS = [
    "stg_wms__allocation",
    "stg_wms__order_hdr",
    "stg_wms__order_dtl",
    "stg_wms__item",
    "stg_wms__location",
    "stg_wms__inventory",
    "stg_wms__facility",
    "stg_wms__purchase_order_hdr",
    "stg_wms__purchase_order_dtl",
    "stg_wms__ib_shipment",
    "stg_wms__ib_shipment_dtl",
    "stg_wms__ib_container",
    "stg_wms__container",
    "int_allocation_lifecycle",
    "int_order_lines_enriched",
    "fct_allocation_performance",
    "fct_order_fulfillment",
    "fct_inventory_position",
    "dim_items",
    "dim_locations",
    "fct_inbound_receipts",
]


@dataclass
class Built:
    """A synced and built warehouse, the tenant that fed it, and its dbt results."""

    sim: Simulator
    cfg: settings_module.Settings
    specs: dict[str, EntitySpec]  # every entity the models read
    root: Path
    build: dbtRunnerResult
    rows: dict[str, dict[int, dict[str, Any]]]  # the tenant's records at build time, by id

    def query(self, sql: str) -> list[dict[str, Any]]:
        with duckdb.connect(self.cfg.warehouse.path, read_only=True) as db:
            cur = db.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def sync_all(
    cfg: settings_module.Settings, specs: dict[str, EntitySpec], mode: str, names: list[str] | None = None
) -> None:
    wh = connect(cfg.warehouse)
    try:
        with WmsClient(cfg.wms) as wms:
            for name in names or list(specs):
                ctx = Context(settings=cfg, wms=wms, warehouse=wh)
                result = sync_entity(specs[name], mode, ctx)  # type: ignore[arg-type]
                assert not isinstance(result, IOFailure), unsafe_perform_io(result.failure())
    finally:
        wh.close()


def dbt(args: list[str], cfg: settings_module.Settings, workdir: Path) -> dbtRunnerResult:
    """Run dbt with its target/ and logs/ in ``workdir`` (never in the project)."""
    return dbt_runner.invoke(args, cfg, schema=SCHEMA, target_path=workdir / "target", log_path=workdir / "logs")


def copy_warehouse(b: Built, workdir: Path) -> settings_module.Settings:
    """Settings for a copy of the built warehouse, free to break."""
    path = workdir / "warehouse" / "wh.duckdb"  # same file name: the views name the catalog
    path.parent.mkdir()
    shutil.copy(b.cfg.warehouse.path, path)
    return settings_module.load(env="local", warehouse={"kind": "duckdb", "path": str(path)})


def log_a_run(db: duckdb.DuckDBPyConnection, entity: str) -> None:
    """A finished sync run of ``entity`` that updated a row, as the run log records it (what
    tells the production build that the entity's source changed)."""
    db.execute(
        "insert into wms_raw._sync_runs (run_id, entity, mode, started_at, finished_at, status, extracted, "
        "rejected, inserted, updated, deleted, restored) values (?, ?, 'incremental', now(), now(), 'ok', "
        "1, 0, 0, 1, 0, 0)",
        [uuid.uuid4().hex[:12], entity],
    )


def node_statuses(result: dbtRunnerResult) -> dict[str, str]:
    assert isinstance(result.result, RunExecutionResult), result.exception
    return {r.node.name: str(r.status) for r in result.result.results}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("dbt")
    path = root / "warehouse" / "wh.duckdb"
    with Simulator(scale=600, seed=11) as sim:
        cfg = settings_module.load(
            env="local",
            wms={"base_url": sim.base_url, "page_size": 500},
            warehouse={"kind": "duckdb", "path": str(path)},
        )
        with WmsClient(cfg.wms) as wms:
            specs = read_by_dbt(wms)
        sync_all(cfg, specs, "full")
        FORGOTTEN["location"] = [sim.tenant.rows("inventory", [20])[0]["location_id"]]
        received = sorted(
            (r for r in sim.tenant.rows("ib_shipment_dtl") if r["received_qty"] > 0), key=lambda r: r["po_dtl_id"]
        )
        FORGOTTEN["ib_shipment_dtl"] = [received[0]["id"]]
        FORGOTTEN["container"] = [
            c["id"]
            for c in sim.tenant.rows("container")
            if (c["rcvd_shipment_id"], c["container_nbr"]) == (received[1]["shipment_id"], received[1]["lpn_nbr"])
        ]
        for name, ids in FORGOTTEN.items():
            sim.delete(name, ids)
        sync_all(cfg, specs, "full", list(FORGOTTEN))
        result = dbt(["build"], cfg, root)
        rows = {name: {r["id"]: r for r in sim.tenant.rows(name)} for name in specs}
        yield Built(sim=sim, cfg=cfg, specs=specs, root=root, build=result, rows=rows)


# --- expectations, from the tenant's records and the seeds only --------------------------


def seed(name: str) -> dict[int, dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(newline="") as f:
        return {int(r["status_code"]): r for r in csv.DictReader(f)}


def flag(statuses: dict[int, dict[str, str]], code: int, name: str) -> bool:
    return statuses[code][name] == "1"


def close(a: float | None, b: float | None, tol: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


def allocation_view(b: Built) -> list[dict[str, Any]]:
    """Each current allocation with its order line, order and seed flags."""
    statuses = seed("wms_allocation_statuses")
    out = []
    for a in b.rows["allocation"].values():
        line = b.rows["order_dtl"].get(a["order_dtl_id"])
        order = b.rows["order_hdr"].get(line["order_id"]) if line else None
        picked = a["picked_ts"] is not None
        seconds = (a["picked_ts"] - a["create_ts"]).total_seconds() if picked else None
        closed = flag(statuses, a["status_id"], "is_closed")
        out.append(
            a
            | {
                "line": line,
                "order": order,
                "cancelled": flag(statuses, a["status_id"], "is_cancelled"),
                "picked": picked,
                "seconds": seconds,
                "within_1h": picked and seconds is not None and seconds <= 3600,
                "fully_packed": picked and a["packed_qty"] == a["alloc_qty"],
                "outstanding": Decimal(0) if closed else a["alloc_qty"] - (a["packed_qty"] or 0),
            }
        )
    return out


# --- the build ------------------------------------------------------------------------------


def test_build_runs_every_model_snapshot_seed_and_test(built: Built) -> None:
    assert built.build.success, built.build.exception
    statuses = node_statuses(built.build)
    assert set(MODELS) <= set(statuses)
    assert {"snap_wms__order_hdr_status", "snap_wms__allocation_status"} <= set(statuses)
    assert {"assert_packed_qty_not_above_allocated_qty", "assert_fill_rate_between_0_and_1"} <= set(statuses)
    bad = {name: s for name, s in statuses.items() if s not in ("success", "pass", "warn")}
    assert not bad, bad
    # the forgotten inventory, location and container leave dangling references: warnings, not errors
    warned = {name for name, s in statuses.items() if s == "warn"}
    assert any(n.startswith("relationships_where_stg_wms__allocation_from_inventory_id") for n in warned), warned
    assert any(n.startswith("relationships_where_stg_wms__inventory_location_id") for n in warned), warned
    assert any(n.startswith("relationships_where_stg_wms__ib_container_container_id") for n in warned), warned


def test_every_model_documents_exactly_its_columns(built: Built) -> None:
    manifest = orjson.loads((built.root / "target" / "manifest.json").read_bytes())
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "snapshot", "seed")]
    for node in nodes:
        if node["config"]["materialized"] == "ephemeral":  # no relation: its label columns are documented
            continue
        actual = [r["column_name"] for r in built.query(f"describe {SCHEMA}.{node['name']}")]
        documented = list(node["columns"])
        assert set(documented) == set(actual), (
            f"{node['name']}: undocumented {set(actual) - set(documented)}, gone {set(documented) - set(actual)}"
        )
    assert all(n["description"] for n in nodes)


def test_staging_keeps_soft_deleted_rows_and_the_marts_leave_them_out(built: Built) -> None:
    for name, ids in FORGOTTEN.items():
        key = f"{name}_id"
        staged = built.query(f"select {key}, deleted_at from {SCHEMA}.stg_wms__{name}")
        assert {r[key] for r in staged} == set(built.rows[name]) | set(ids), name
        assert {r[key] for r in staged if r["deleted_at"] is not None} == set(ids), name
    lifecycle = built.query(f"select allocation_id from {SCHEMA}.int_allocation_lifecycle")
    assert {r["allocation_id"] for r in lifecycle} == set(built.rows["allocation"])
    locations = {r["location_id"] for r in built.query(f"select location_id from {SCHEMA}.dim_locations")}
    assert locations == set(built.rows["location"])
    positions = built.query(f"select sum(inventory_record_count) as n from {SCHEMA}.fct_inventory_position")
    assert positions[0]["n"] == sum(1 for r in built.rows["inventory"].values() if r["location_id"] is not None)


def test_intermediates_label_statuses_from_the_seeds(built: Built) -> None:
    orders = {code: r["status_label"] for code, r in seed("wms_order_hdr_statuses").items()}
    fulfilled = built.query(f"select order_id, status_label from {SCHEMA}.fct_order_fulfillment")
    assert fulfilled and all(
        r["status_label"] == orders[built.rows["order_hdr"][r["order_id"]]["status_id"]] for r in fulfilled
    )
    allocations = {code: r["status_group"] for code, r in seed("wms_allocation_statuses").items()}
    lifecycle = built.query(f"select allocation_id, status_group from {SCHEMA}.int_allocation_lifecycle")
    assert all(
        r["status_group"] == allocations[built.rows["allocation"][r["allocation_id"]]["status_id"]] for r in lifecycle
    )
    staged = [r["column_name"] for r in built.query(f"describe {SCHEMA}.stg_wms__allocation")]
    assert "status_label" not in staged and "is_cancelled" not in staged  # staging renames and casts only


# --- the marts, against the tenant ----------------------------------------------------------


def test_allocation_performance_matches_the_wms_records(built: Built) -> None:
    groups: dict[tuple[date, int, int, str], list[dict[str, Any]]] = defaultdict(list)
    for a in allocation_view(built):
        if a["cancelled"] or a["line"] is None or a["order"] is None:
            continue
        key = (a["create_ts"].date(), a["order"]["facility_id"], a["line"]["item_id"], a["pick_user"] or "UNASSIGNED")
        groups[key].append(a)
    mart = {
        (r["allocation_date"], r["facility_id"], r["item_id"], r["pick_user"]): r
        for r in built.query(f"select * from {SCHEMA}.fct_allocation_performance")
    }
    assert set(mart) == set(groups)
    for key, allocs in groups.items():
        row = mart[key]
        picked = [a for a in allocs if a["picked"]]
        alloc_qty = sum(a["alloc_qty"] for a in allocs)
        packed_qty = sum(a["packed_qty"] for a in allocs)
        picked_alloc = sum(a["alloc_qty"] for a in picked)
        fulfillment = float(packed_qty / alloc_qty) if alloc_qty else None
        within = sum(a["within_1h"] for a in allocs) / len(allocs)
        quality = sum(a["fully_packed"] for a in picked) / len(picked) if picked else None
        assert row["allocation_count"] == len(allocs)
        assert row["picked_count"] == len(picked)
        assert row["allocated_qty"] == alloc_qty and row["packed_qty"] == packed_qty
        assert close(row["fulfillment_rate"], fulfillment)
        assert close(
            row["pack_efficiency"], float(sum(a["packed_qty"] for a in picked) / picked_alloc) if picked_alloc else None
        )
        assert close(row["picked_within_1h_share"], within)
        assert close(row["quality_rate"], quality)
        assert close(
            row["avg_pick_minutes"], sum(a["seconds"] for a in picked) / len(picked) / 60 if picked else None, 1e-6
        )
        score = 0.4 * (fulfillment or 0) + 0.3 * within + 0.3 * (quality or 0)
        assert close(row["efficiency_score"], score), key


def test_order_fulfillment_matches_the_wms_records(built: Built) -> None:
    packed_by_line: dict[int, Decimal] = defaultdict(Decimal)
    for a in allocation_view(built):
        if not a["cancelled"]:
            packed_by_line[a["order_dtl_id"]] += a["packed_qty"] or 0
    lines_by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in built.rows["order_dtl"].values():
        lines_by_order[line["order_id"]].append(line)
    mart = {r["order_id"]: r for r in built.query(f"select * from {SCHEMA}.fct_order_fulfillment")}
    assert set(mart) == set(built.rows["order_hdr"])
    shipped_orders = on_time_orders = 0
    for order_id, order in built.rows["order_hdr"].items():
        row, lines = mart[order_id], lines_by_order[order_id]
        ordered = sum(line["ord_qty"] for line in lines)
        shipped_ts: datetime | None = order["order_shipped_ts"]
        shipped = sum(min(packed_by_line[line["id"]], line["ord_qty"]) for line in lines) if shipped_ts else 0
        assert row["line_count"] == len(lines)
        assert row["ordered_qty"] == ordered
        assert row["allocated_qty"] == sum(line["alloc_qty"] for line in lines)
        assert row["shipped_qty"] == shipped
        assert row["is_shipped"] == (shipped_ts is not None)
        if shipped_ts is None:
            assert row["fill_rate"] is None and row["days_to_ship"] is None and row["is_on_time"] is None
            continue
        shipped_orders += 1
        assert close(row["fill_rate"], float(shipped / ordered) if ordered else None)
        assert row["days_to_ship"] == (shipped_ts.date() - order["ord_date"]).days
        assert row["is_on_time"] == int(shipped_ts.date() <= order["req_ship_date"])
        on_time_orders += row["is_on_time"]
    assert 0 < on_time_orders < shipped_orders  # the tenant has both kinds


def test_inventory_position_matches_the_inventory_records(built: Built) -> None:
    available = seed("wms_inventory_statuses")
    allocated_by_inventory: dict[int, Decimal] = defaultdict(Decimal)
    for a in allocation_view(built):
        if a["from_inventory_id"] is not None:
            allocated_by_inventory[a["from_inventory_id"]] += a["outstanding"]
    expected: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for inv in built.rows["inventory"].values():
        if inv["location_id"] is None:
            continue
        pos = expected[(inv["item_id"], inv["location_id"])]
        pos["on_hand"] += inv["curr_qty"]
        pos["held"] += 0 if flag(available, inv["status_id"], "is_available") else inv["curr_qty"]
        pos["allocated"] += allocated_by_inventory[inv["id"]]
    mart = {(r["item_id"], r["location_id"]): r for r in built.query(f"select * from {SCHEMA}.fct_inventory_position")}
    assert set(mart) == set(expected)
    for key, pos in expected.items():
        row = mart[key]
        assert (row["on_hand_qty"], row["held_qty"], row["allocated_qty"]) == (
            pos["on_hand"],
            pos["held"],
            pos["allocated"],
        )
        assert row["available_qty"] == pos["on_hand"] - pos["held"] - pos["allocated"]
        assert row["is_over_allocated"] == int(pos["allocated"] > pos["on_hand"] - pos["held"])


def test_item_velocity_classes_follow_the_last_90_days_of_allocations(built: Built) -> None:
    allocs = allocation_view(built)
    as_of = max(a["create_ts"] for a in allocs)
    counts: dict[int, int] = defaultdict(int)
    for a in allocs:
        if not a["cancelled"] and a["line"] is not None and as_of - timedelta(days=90) < a["create_ts"] <= as_of:
            counts[a["line"]["item_id"]] += 1
    active = list(counts.values())

    def velocity(item_id: int) -> str:
        if item_id not in counts:
            return "Dormant"
        share = sum(c >= counts[item_id] for c in active) / len(active)
        return "Fast" if share <= 0.2 else "Regular" if share <= 0.5 else "Slow"

    mart = {r["item_id"]: r for r in built.query(f"select * from {SCHEMA}.dim_items")}
    assert set(mart) == set(built.rows["item"])
    for item_id in built.rows["item"]:
        assert mart[item_id]["allocations_90d"] == counts.get(item_id, 0)
        assert mart[item_id]["velocity_class"] == velocity(item_id), item_id
    assert {"Fast", "Regular", "Slow"} <= {r["velocity_class"] for r in mart.values()}


def test_top_facilities_ranks_by_packed_over_allocated_units(built: Built) -> None:
    totals: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for a in allocation_view(built):
        if not a["cancelled"] and a["order"] is not None:
            totals[a["order"]["facility_id"]][0] += a["packed_qty"]
            totals[a["order"]["facility_id"]][1] += a["alloc_qty"]
    rates = sorted(((float(p / q), f) for f, (p, q) in totals.items()), key=lambda t: (-t[0], t[1]))
    top = dbt_runner.top_facilities(built.cfg.warehouse.path, schema=SCHEMA, limit=2)
    assert [(t.facility_id, t.facility_code) for t in top] == [(f, f"DC{f:02d}") for _, f in rates[:2]]
    assert all(close(t.fulfillment_rate, r) for t, (r, _) in zip(top, rates, strict=False))


def test_inbound_receipts_match_the_wms_records(built: Built) -> None:
    """Per purchase order line: ordered, shipped and received units over its ASN lines, and
    dock-to-stock from its received containers (the LPNs of its ASN lines received on their ASN)."""
    statuses = seed("wms_purchase_order_statuses")
    asn_lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in built.rows["ib_shipment_dtl"].values():
        if a["po_dtl_id"] is not None:
            asn_lines[a["po_dtl_id"]].append(a)
    received = {
        (c["rcvd_shipment_id"], c["container_nbr"]): c for c in built.rows["container"].values() if c["rcvd_ts"]
    }
    mart = {r["po_dtl_id"]: r for r in built.query(f"select * from {SCHEMA}.fct_inbound_receipts")}
    assert set(mart) == set(built.rows["purchase_order_dtl"])
    timed = waiting = 0
    for line_id, line in built.rows["purchase_order_dtl"].items():
        row, asns = mart[line_id], asn_lines[line_id]
        order = built.rows["purchase_order_hdr"][line["po_id"]]
        boxes = {c["id"]: c for a in asns if (c := received.get((a["shipment_id"], a["lpn_nbr"])))}
        put_away = [c["first_putaway_ts"] for c in boxes.values() if c["first_putaway_ts"] is not None]
        shipped, got = sum(a["shipped_qty"] for a in asns), sum(a["received_qty"] for a in asns)
        assert (row["facility_id"], row["vendor_id"], row["item_id"]) == (
            order["facility_id"],
            order["vendor_id"],
            line["item_id"],
        )
        assert row["status_label"] == statuses[line["status_id"]]["status_label"]
        assert row["is_cancelled"] == int(flag(statuses, line["status_id"], "is_cancelled"))
        assert (row["ordered_qty"], row["asn_line_count"], row["shipped_qty"], row["received_qty"]) == (
            line["ord_qty"],
            len(asns),
            shipped,
            got,
        )
        assert close(row["fill_rate"], float(got / line["ord_qty"]) if line["ord_qty"] else None)
        assert (row["received_container_count"], row["put_away_container_count"]) == (len(boxes), len(put_away))
        first = min((c["rcvd_ts"] for c in boxes.values()), default=None)
        assert (row["first_received_at"], row["last_put_away_at"]) == (first, max(put_away, default=None))
        if first is None or len(put_away) < len(boxes):
            assert row["dock_to_stock_hours"] is None, line_id
            waiting += got > 0  # received units whose container is gone or not put away
            continue
        timed += 1
        assert close(row["dock_to_stock_hours"], (max(put_away) - first).total_seconds() / 3600, 1e-6), line_id
    assert timed and waiting  # the tenant has both kinds (the forgotten container makes one wait)


# --- history, freshness, docs -----------------------------------------------------------------


def test_docs_generate_writes_the_catalog_of_every_model(built: Built, tmp_path: Path) -> None:
    shutil.copytree(built.root / "target", tmp_path / "target")  # reuse the parsed manifest
    result = dbt(["docs", "generate"], built.cfg, tmp_path)
    assert result.success, result.exception
    catalog = orjson.loads((tmp_path / "target" / "catalog.json").read_bytes())
    names = {n.split(".")[-1] for n in catalog["nodes"]}
    assert set(MODELS) <= names
    assert (tmp_path / "target" / "index.html").exists()


def test_source_freshness_reads_its_thresholds_from_the_project_vars(built: Built, tmp_path: Path) -> None:
    """The thresholds live once, as vars in dbt_project.yml (the health check reads them too)."""
    hours = yaml.safe_load((dbt_runner.PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert {k: v for k, v in hours.items() if k.startswith("freshness_")} == {
        "freshness_warn_hours_operational": 2,
        "freshness_error_hours_operational": 4,
        "freshness_warn_hours_master": 72,
        "freshness_error_hours_master": 192,
    }
    cfg = copy_warehouse(built, tmp_path)
    with duckdb.connect(cfg.warehouse.path) as db:  # age the loads: hours for orders, days for items
        db.execute("update wms_raw.order_hdr set _loaded_at = _loaded_at - interval 3 hour")
        db.execute("update wms_raw.allocation set _loaded_at = _loaded_at - interval 5 hour")
        db.execute("update wms_raw.item set _loaded_at = _loaded_at - interval 5 hour")
        db.execute("update wms_raw.location set _loaded_at = _loaded_at - interval 4 day")
        db.execute("update wms_raw.inventory set _loaded_at = _loaded_at - interval 9 day")
        db.execute("update wms_raw.purchase_order_dtl set _loaded_at = _loaded_at - interval 3 hour")
        db.execute("update wms_raw.container set _loaded_at = _loaded_at - interval 5 hour")

    def freshness(names: list[str], *args: str) -> dict[str, str]:
        selected = [f"source:wms.{name}" for name in names]
        result = dbt(["source", "freshness", "--select", *selected, *args], cfg, tmp_path)
        assert isinstance(result.result, FreshnessResult), result.exception
        assert not result.success
        # the project's on-run-start hook (incremental_marks) reports too: only the sources count
        return {r.node.name: str(r.status) for r in result.result.results if r.node.resource_type == "source"}

    # every synced source (the other sources' tables do not exist in this warehouse)
    assert freshness(list(built.specs)) == dict.fromkeys(built.specs, "pass") | {
        "order_hdr": "warn",  # operational: warn after 2 h, error after 4 h
        "allocation": "error",
        "purchase_order_dtl": "warn",
        "container": "error",
        "location": "warn",  # master data: warn after 72 h, error after 192 h
        "inventory": "error",
    }
    later = freshness(
        ["location", "inventory", "allocation"],
        "--vars",
        "{freshness_warn_hours_master: 100, freshness_error_hours_master: 300}",
    )
    assert (later["location"], later["inventory"], later["allocation"]) == ("pass", "warn", "error")


# --- the production build after a sync ----------------------------------------------------


def test_the_build_after_a_sync_tests_the_rows_it_changed_and_a_full_rebuild_tests_every_row(
    built: Built, tmp_path: Path
) -> None:
    cfg = copy_warehouse(built, tmp_path)

    def production(**kw: Any) -> dbtRunnerResult:
        return dbt_runner.production_build(
            cfg, schema=SCHEMA, target_path=tmp_path / "target", log_path=tmp_path / "logs", **kw
        )

    first = production()  # no window noted yet: every row tested, every seed and view built
    assert first.success, dbt_runner.failures(first)
    assert {"wms_allocation_statuses", "stg_wms__allocation"} <= set(node_statuses(first))
    assert isinstance(first.result, RunExecutionResult)
    assert not [r for r in first.result.results if r.node.resource_type == "unit_test"]  # CI runs them

    with duckdb.connect(cfg.warehouse.path) as db:  # an old row, not synced since: outside the window
        db.execute("update wms_raw.allocation set status_id = 77 where id = 11")
        log_a_run(db, "allocation")  # a sync of allocations since: the build runs what they feed
    after = production()
    statuses = node_statuses(after)
    assert after.success, dbt_runner.failures(after)
    assert not any(name.startswith("wms_") for name in statuses)  # seeds unchanged: left out with their own tests
    assert "stg_wms__allocation" not in statuses  # a view unchanged: left out, its tests run
    assert any(n.startswith("known_code_stg_wms__allocation_status_code") for n in statuses), statuses
    assert "int_allocation_lifecycle" in statuses

    full = production(full_refresh=True)  # every row: the old row fails its test
    assert not full.success
    failed = {name for name, status in node_statuses(full).items() if status == "fail"}
    assert any(n.startswith("known_code_stg_wms__allocation_status_code") for n in failed), failed

    with duckdb.connect(cfg.warehouse.path) as db:  # a row the next build reads (a full sync found it gone)
        db.execute("update wms_raw.allocation set status_id = 78, _deleted_at = now() where id = 12")
        log_a_run(db, "allocation")
    changed = production()
    assert not changed.success
    failed = {name for name, status in node_statuses(changed).items() if status == "fail"}
    assert any(n.startswith("known_code_stg_wms__allocation_status_code") for n in failed), failed


def test_a_warehouse_made_again_gets_every_seed_and_view_again(built: Built, tmp_path: Path) -> None:
    """The last build's state says the seeds and views are unchanged, but the file it built
    them in was deleted and synced again (as ``gruponos demo`` does): they are built again."""
    cfg = copy_warehouse(built, tmp_path)
    kw: dict[str, Any] = {"schema": SCHEMA, "target_path": tmp_path / "target", "log_path": tmp_path / "logs"}
    first = dbt_runner.production_build(cfg, **kw)
    assert first.success, dbt_runner.failures(first)
    with duckdb.connect(cfg.warehouse.path) as db:  # the analytics side gone, the raw tables kept
        db.execute(f"drop schema {SCHEMA} cascade")

    again = dbt_runner.production_build(cfg, **kw)

    assert again.success, dbt_runner.failures(again)
    assert {"wms_allocation_statuses", "stg_wms__allocation"} <= set(node_statuses(again))


def test_a_source_whose_raw_table_is_missing_is_left_out_and_named(
    built: Built, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An entity left out of the sync has no raw table: the build leaves out its staging and
    everything built on it, says which and why, and passes."""
    cfg = copy_warehouse(built, tmp_path)
    with duckdb.connect(cfg.warehouse.path) as db:
        db.execute("drop table wms_raw.ib_container")
    inbound = ["build", "--select", "source:wms.ib_container+", "source:wms.ib_shipment+"]
    unguarded = dbt_runner.invoke(
        inbound, cfg, schema=SCHEMA, target_path=tmp_path / "t", log_path=tmp_path / "l", exclude_missing=False
    )
    assert node_statuses(unguarded)["stg_wms__ib_container"] == "error"

    with caplog.at_level(logging.WARNING, logger="gruponos.dbt_runner"):
        result = dbt(inbound, cfg, tmp_path)
    assert result.success, dbt_runner.failures(result)
    statuses = node_statuses(result)
    assert "stg_wms__ib_shipment" in statuses
    assert not [name for name in statuses if "ib_container" in name]
    assert "source wms.ib_container and everything built on it skipped" in caplog.text
    assert '"wms_raw"."ib_container"' in caplog.text
    first_warned = {r.getMessage().split()[2] for r in caplog.records}
    assert len(first_warned) > 1  # no manifest yet: every missing declared source (lookups never synced)

    # with a manifest from the last run, a missing source nothing reads is no warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gruponos.dbt_runner"):
        again = dbt(inbound, cfg, tmp_path)
    assert again.success, dbt_runner.failures(again)
    warned = {r.getMessage().split()[2] for r in caplog.records}
    assert warned == {"wms.ib_container"}, warned


def test_snapshot_keeps_the_previous_status_of_changed_orders_and_closes_deleted_ones(
    built: Built, tmp_path: Path
) -> None:
    """Runs last in this module: it moves the tenant's clock (modifies only, so the row
    counts the other tests rely on stay), then deletes a few orders."""
    before = {i: r["status_id"] for i, r in built.rows["order_hdr"].items()}
    changes = built.sim.advance(minutes=60, modify=0.2, insert=0, entities=["order_hdr"])
    changed = changes.modified["order_hdr"]
    assert changed
    sync_all(built.cfg, built.specs, "incremental", ["order_hdr"])
    result = dbt(["snapshot", "--select", "snap_wms__order_hdr_status"], built.cfg, tmp_path)
    assert result.success, result.exception
    now = {r["id"]: r for r in built.sim.tenant.rows("order_hdr")}
    history = built.query(
        f"select order_id, status_code, modified_at, dbt_valid_from, dbt_valid_to "
        f"from {SCHEMA}.snap_wms__order_hdr_status order by order_id, dbt_valid_from"
    )
    versions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in history:
        versions[r["order_id"]].append(r)
    assert set(versions) == set(now)
    for order_id, vs in versions.items():
        if order_id not in changed:
            assert len(vs) == 1 and vs[0]["dbt_valid_to"] is None
            continue
        old, new = vs
        assert old["status_code"] == before[order_id] and new["status_code"] == now[order_id]["status_id"]
        assert old["dbt_valid_to"] == new["dbt_valid_from"] == now[order_id]["mod_ts"]
        assert new["dbt_valid_to"] is None

    # orders gone from the WMS: the full sync marks them deleted, the snapshot closes them
    gone = sorted(now)[:3]
    built.sim.delete("order_hdr", gone)
    sync_all(built.cfg, built.specs, "full", ["order_hdr"])
    result = dbt(["snapshot", "--select", "snap_wms__order_hdr_status"], built.cfg, tmp_path)
    assert result.success, result.exception
    deleted_at = {
        r["id"]: r["deleted_at"]
        for r in built.query(
            "select id, cast(timezone('UTC', _deleted_at) as timestamp) as deleted_at from wms_raw.order_hdr "
            "where _deleted_at is not null"
        )
    }
    assert set(deleted_at) == set(gone)
    current = built.query(
        f"select s.order_id, s.dbt_valid_to from {SCHEMA}.snap_wms__order_hdr_status s where s.dbt_valid_from = "
        f"(select max(v.dbt_valid_from) from {SCHEMA}.snap_wms__order_hdr_status v where v.order_id = s.order_id)"
    )
    closed = {r["order_id"]: r["dbt_valid_to"] for r in current if r["dbt_valid_to"] is not None}
    assert closed == deleted_at


# --- broken data fails the build --------------------------------------------------------------


def test_a_failing_data_test_fails_the_build_and_names_the_test(built: Built, tmp_path: Path) -> None:
    """Rows the sync's contract would quarantine can still reach the raw tables (loaded
    before a rule existed, or by another loader): dbt's tests are the second line."""
    cfg = copy_warehouse(built, tmp_path)
    with duckdb.connect(cfg.warehouse.path) as db:
        db.execute("update wms_raw.allocation set packed_qty = alloc_qty + 5 where id = 10")
        db.execute("update wms_raw.allocation set status_id = 77 where id = 11")  # not in the seed
    result = dbt(["build", "--select", "stg_wms__allocation"], cfg, tmp_path)
    assert not result.success
    failed = {name for name, status in node_statuses(result).items() if status == "fail"}
    assert "assert_packed_qty_not_above_allocated_qty" in failed
    assert any(n.startswith("known_code_stg_wms__allocation_status_code") for n in failed), failed
