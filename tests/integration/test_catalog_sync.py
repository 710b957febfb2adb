"""The tenant's catalog, end to end: what ``GET entity/`` and ``describe`` say decides what is
synced and how, from the simulator into a real DuckDB file and this machine's PostgreSQL.

The truth each test holds the warehouse to is the simulator's own: its schema
(``gruponos.simulator.schema.SCHEMA``) and its rows (``simulator.tenant``), never gruponos's
output. One sync class per test: incremental (operational), full table (lookup without
``mod_ts``), filter-required (``inventory_history``), ordering-refused (``history_activity``);
then a field only ``describe`` announces, an unknown ``--entity``, and the README's entity table.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from gruponos import settings as settings_module
from gruponos.catalog import discover
from gruponos.entities import SyncClass
from gruponos.errors import SyncError
from gruponos.pipeline import EntityReport
from gruponos.runs import sync_many
from gruponos.simulator import SCHEMA, Simulator
from gruponos.simulator.schema import Kind
from gruponos.warehouse import connect
from gruponos.wms import WmsClient
from tests.integration._sync import ok, stored
from tests.integration._warehouse import KINDS, fresh_target
from tests.integration.proxy import Mutation, Proxy, proxy
from tests.local import tenant

README = Path(__file__).resolve().parents[2] / "README.md"

# The 26 entities a distributor's analysts read (issue 13, Fivetran's default list), written
# down here rather than read from the settings the code uses.
DEFAULT_26 = {
    *("order_dtl", "inventory", "container", "container_lock_xref", "order_hdr", "allocation"),
    *("inventory_attribute", "item", "batch_number", "purchase_order_dtl", "ib_shipment", "ib_shipment_dtl"),
    *("purchase_order_hdr", "inventory_lock", "location", "item_metric", "ib_container", "history_activity"),
    *("putaway_type", "order_type", "purchase_order_status", "order_status", "inventory_status", "vendor"),
    *("company", "facility"),
}


# One tenant for the module: each test reads what it changes from it, never a stale copy.
simulator = tenant(scale=1_000, seed=11, scope="module")


@pytest.fixture(params=KINDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Warehouse settings for a fresh DuckDB file, or a fresh PostgreSQL schema dropped after."""
    with fresh_target(request.param, tmp_path) as settings:
        yield settings


def config(base_url: str, target: dict[str, Any], page_size: int = 50, **sync: Any) -> settings_module.Settings:
    """Settings for one test; no overlap, so an incremental reads exactly what changed."""
    wms = {"base_url": base_url, "page_size": page_size, "overlap_minutes": 0, "backoff_base_s": 0.01, "max_retries": 1}
    return settings_module.load(env="local", wms=wms, warehouse=target, sync=sync)


@contextmanager
def proxied(
    simulator: Simulator, target: dict[str, Any], **options: Any
) -> Iterator[tuple[Proxy, settings_module.Settings]]:
    """A proxy in front of the simulator (it records every request) and settings that read through it."""
    with proxy(simulator.base_url) as p:
        yield p, config(p.base_url(simulator.base_url), target, **options)


def run(cfg: settings_module.Settings, kind: str, name: str) -> EntityReport | SyncError:
    """``sync_many`` (what ``gruponos sync`` runs without Prefect) for one named entity."""
    [outcome] = sync_many(cfg, kind, [name])
    return outcome


def assert_mirrors(simulator: Simulator, cfg: settings_module.Settings, name: str, columns: dict[str, str]) -> None:
    """The live rows are the tenant's rows: same ids, same ``mod_ts`` (when it has one) and the
    same values in ``columns`` (warehouse column → the simulator's column)."""
    rows = {i: r for i, r in stored(cfg, name).items() if r["_deleted_at"] is None}
    truth = {r["id"]: r for r in simulator.tenant.rows(name)}
    assert sorted(rows) == sorted(truth), f"{name}: missing {sorted(set(truth) - set(rows))[:5]}"
    tracked = SCHEMA[name].tracked
    for i, want in truth.items():
        got = rows[i]
        if tracked:
            assert got["mod_ts"].astimezone(UTC).replace(tzinfo=None) == want["mod_ts"], (name, i)
        else:
            assert "mod_ts" not in got
        for column, source in columns.items():
            value = got[column]
            expected = want[source]
            if isinstance(expected, Decimal) and value is not None:
                value = Decimal(value)
            assert value == expected, (name, i, column)


# --- discovery --------------------------------------------------------------------------


def test_discovery_lists_the_tenant_selects_the_26_and_derives_specs_from_describe(simulator: Simulator) -> None:
    cfg = config(simulator.base_url, {"kind": "duckdb", "path": ":memory:"})
    with WmsClient(cfg.wms) as wms:
        assert wms.entity_names() == sorted(SCHEMA)
        default = discover(wms, cfg.sync)
        chosen = discover(
            wms,
            settings_module.SyncSettings(entities=["purchase_order_*", "ib_*", "order_status"], exclude=["*_status"]),
        )
        everything = discover(wms, cfg.sync, ["*"])
    assert set(default.selected) == DEFAULT_26 and len(default.selected) == 26
    assert set(default.describes) == DEFAULT_26  # one describe per selected entity, kept for the run
    assert "inventory_history" not in default.specs
    assert set(chosen.selected) == {"purchase_order_hdr", "purchase_order_dtl", "ib_shipment", "ib_shipment_dtl",
                                    "ib_container"}  # fmt: skip
    assert set(everything.selected) == set(SCHEMA)

    for name in ("container", "ib_shipment", "purchase_order_dtl", "order_type", "history_activity",
                 "inventory_history"):  # fmt: skip
        ours, spec = SCHEMA[name], everything.spec(name)
        expected: list[str] = []
        for f in ours.fields:
            base = f.name.removesuffix("_id").removesuffix("_set")
            if f.kind is Kind.FK:  # flattened to the related id and key
                expected += [f"{base}_id", f"{base}_key"]
                assert spec.field(f.name).target == (f.target if f.target in SCHEMA else None), (name, f.name)
            elif f.kind is Kind.SET:  # a child set becomes its count
                expected.append(f"{base}_count")
            else:
                expected.append(f.name)
            if f.kind is Kind.STR:
                assert spec.field(f.name).max_length == f.max_length, (name, f.name)
            assert spec.field(f.name).wms_required == f.required, (name, f.name)
        assert [c.name for c in spec.columns] == expected, name
        assert spec.sync_class is (SyncClass.OPERATIONAL if ours.tracked else SyncClass.LOOKUP), name
        assert spec.replication_key == ("mod_ts" if ours.tracked else None), name
        assert spec.required_filters == ours.filter_rule, name


# --- one sync class per test ------------------------------------------------------------


def test_an_operational_entity_is_synced_in_full_then_incrementally(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    name = "purchase_order_dtl"
    columns = {"received_qty": "received_qty", "ord_qty": "ord_qty", "status_id": "status_id",
               "po_id": "po_id", "item_key": "_k_item_id"}  # fmt: skip
    cfg = config(simulator.base_url, target)
    full = ok(run(cfg, "full", name))
    assert (full.mode, full.extracted, full.inserted) == ("full", simulator.tenant.count(name), full.extracted)
    assert_mirrors(simulator, cfg, name, columns)

    changes = simulator.advance(entities=[name], minutes=60, modify=0.1, insert=0.05)
    modified, inserted = changes.modified[name], changes.inserted[name]
    assert modified and inserted
    incremental = ok(run(cfg, "incremental", name))
    assert incremental.mode == "incremental" and incremental.window_start == full.watermark_after
    assert (incremental.extracted, incremental.inserted, incremental.updated) == (
        len(modified) + len(inserted),
        len(inserted),
        len(modified),
    )
    assert_mirrors(simulator, cfg, name, columns)


def test_a_lookup_without_mod_ts_is_read_whole_with_changes_and_soft_deletes(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    name = "order_type"
    columns = {"code": "code", "description": "description", "company_id": "company_id"}
    cfg = config(simulator.base_url, target)
    first = ok(run(cfg, "master", name))
    assert first.extracted == first.inserted == simulator.tenant.count(name)
    assert_mirrors(simulator, cfg, name, columns)

    changed, gone = simulator.tenant.ids(name)[:2]
    text = f"renamed {uuid.uuid4().hex[:8]}"
    simulator.tenant.set_values(name, [changed], {"description": text})
    second = ok(run(cfg, "full", name))
    assert (second.inserted, second.updated, second.deleted) == (0, 1, 0)
    assert stored(cfg, name)[changed]["description"] == text
    assert_mirrors(simulator, cfg, name, columns)

    simulator.delete(name, [gone])
    third = ok(run(cfg, "full", name))
    assert (third.extracted, third.inserted, third.updated, third.deleted) == (simulator.tenant.count(name), 0, 0, 1)
    rows = stored(cfg, name)
    assert rows[gone]["_deleted_at"] is not None and rows[gone]["description"] is not None  # kept, marked
    assert [i for i, r in rows.items() if r["_deleted_at"] is not None] == [gone]
    assert_mirrors(simulator, cfg, name, columns)


def test_inventory_history_needs_a_documented_filter_set_and_reads_only_what_it_selects(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    name = "inventory_history"
    with proxied(simulator, target) as (p, bare):
        failed = run(bare, "full", name)
        listed = [path for path, _ in p.requests if f"/entity/{name}/" in path and "/describe/" not in path]
    assert isinstance(failed, SyncError) and failed.step == "plan"
    for combination in SCHEMA[name].filter_rule:  # every documented set is named
        assert " + ".join(combination) in failed.message
    assert "GRUPONOS_SYNC__FILTERS" in failed.message
    assert listed == []  # failed before asking for a record

    rows = simulator.tenant.rows(name)
    company, facility = rows[0]["_k_company_id"], rows[0]["_k_facility_id"]
    lowest = min(r["status_id"] for r in rows)
    filters = {"company_id__code": company, "facility_id__code": facility,
               "history_activity_id__gte": "1", "status_id__gte": str(lowest)}  # fmt: skip
    cfg = config(simulator.base_url, target, filters={name: filters})
    report = ok(run(cfg, "full", name))
    want = {
        r["id"]: r
        for r in rows
        if (r["_k_company_id"], r["_k_facility_id"]) == (company, facility)
        and r["history_activity_id"] >= 1
        and r["status_id"] >= lowest
    }
    assert 0 < len(want) < len(rows)  # the filter selects, and selects something
    got = stored(cfg, name)
    assert report.inserted == report.extracted == len(want) and sorted(got) == sorted(want)
    for i, r in want.items():
        assert got[i]["mod_ts"].astimezone(UTC).replace(tzinfo=None) == r["mod_ts"]
        assert (got[i]["company_key"], got[i]["facility_key"]) == (company, facility)
        assert Decimal(got[i]["adj_qty"]) == r["adj_qty"] and got[i]["item_code"] == r["item_code"]


def test_an_entity_that_refuses_ordering_is_read_whole_in_id_order(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    name = "history_activity"
    assert not SCHEMA[name].ordering
    with proxied(simulator, target, page_size=4) as (p, cfg):  # 18 rows: several ranges, a page each
        with WmsClient(cfg.wms) as wms:
            spec = discover(wms, cfg.sync, [name]).spec(name)
            ids = [i for page in wms.pages(spec) for i in page.batch.column("id").to_pylist()]
        report = ok(run(cfg, "full", name))
        pages = [path for path, _ in p.requests if f"/entity/{name}/?page_size=4&" in path]
    assert ids == simulator.tenant.ids(name)  # complete, ascending, no repeats
    ranges = [path for path in pages if "id__gte=" in path and "id__lt=" in path]
    assert len(ranges) >= 2 * len(ids) // 4  # each id range read in one page, once by each reader
    assert not any("ordering" in path for path in ranges)
    assert report.extracted == report.inserted == len(ids)
    assert_mirrors(simulator, cfg, name, {"description": "description"})


# --- what describe says, without a code change ---------------------------------------


def _announce(entity: str) -> Mutation:
    """A proxy mutation: ``describe`` of ``entity`` gains two fields and its records carry them."""

    def apply(path: str, body: bytes) -> bytes:
        if f"/entity/{entity}/" not in path:
            return body
        answer = orjson.loads(body)
        if path.rstrip("/").endswith("/describe"):
            answer["fields"]["credit_limit"] = {"type": "decimal", "required": "N", "max_length": None}
            answer["fields"]["carrier_code"] = {"type": "string", "required": "N", "max_length": 25}
            answer["parameters"] += ["credit_limit", "carrier_code"]
        else:
            for r in answer.get("results", []):
                r["credit_limit"], r["carrier_code"] = f"{r['id'] * 100}.2500", f"CC{r['id']:03d}"
        return orjson.dumps(answer)

    return apply


def _column_types(cfg: settings_module.Settings, table: str) -> dict[str, str]:
    wh = connect(cfg.warehouse)
    bind = "?" if cfg.warehouse.kind == "duckdb" else "%s"
    try:
        found = wh.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = {bind} AND table_name = {bind}",
            [cfg.warehouse.db_schema, table],
        )
    finally:
        wh.close()
    return {str(n): str(t).lower() for n, t in found}


def test_a_field_added_to_describe_becomes_a_typed_column_on_the_next_sync(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    name = "vendor"
    with proxied(simulator, target) as (p, cfg):
        ok(run(cfg, "full", name))
        assert not {"credit_limit", "carrier_code"} & set(_column_types(cfg, name))
        p.mutate = _announce(name)
        report = ok(run(cfg, "full", name))
    types = _column_types(cfg, name)
    assert types["credit_limit"].startswith(("decimal", "numeric")) and types["carrier_code"].startswith(
        ("varchar", "character varying", "text")
    )
    assert report.new_fields == ()  # declared by describe, not drift met in the records
    rows = stored(cfg, name)
    assert sorted(rows) == simulator.tenant.ids(name)
    for i, row in rows.items():
        assert (row["credit_limit"], row["carrier_code"]) == (Decimal(f"{i * 100}.25"), f"CC{i:03d}")


# --- the command line -----------------------------------------------------------------


def _cli(*args: str, base_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``gruponos …`` in a child process, configured only by GRUPONOS_* variables, no Prefect."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRUPONOS_", "PREFECT_"))}
    env |= {
        "GRUPONOS_ENV": "local",
        "GRUPONOS_WMS__BASE_URL": base_url,
        "GRUPONOS_WAREHOUSE__PATH": str(tmp_path / "wh.duckdb"),
        "GRUPONOS_FLOWS__LANDING_PATH": str(tmp_path / "landing"),
        "GRUPONOS_FLOWS__RESULTS_PATH": str(tmp_path / "results"),
    }
    return subprocess.run(
        [sys.executable, "-m", "gruponos.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("typed", "named"), [("nosuch", "gruponos entities"), ("purchase_order_dtls", "purchase_order_dtl")]
)
def test_sync_of_an_unknown_entity_fails_at_once_naming_close_matches(
    simulator: Simulator, tmp_path: Path, typed: str, named: str
) -> None:
    with proxy(simulator.base_url) as p:
        done = _cli("sync", "full", "--entity", typed, base_url=p.base_url(simulator.base_url), tmp_path=tmp_path)
        paths = [path for path, _ in p.requests]
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and len(errors[0]) < 200, done.stderr
    assert f"'{typed}'" in errors[0] and named in errors[0]
    assert "Traceback" not in done.stderr and done.stdout.strip() == ""
    assert all(re.search(r"/entity/$", path) for path in paths), paths  # the list of entities, no records
    assert not (tmp_path / "wh.duckdb").exists()


def test_the_readme_entity_table_is_the_catalogs_own(simulator: Simulator, tmp_path: Path) -> None:
    done = _cli("entities", "*", "--markdown", base_url=simulator.base_url, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    generated = done.stdout.splitlines()
    names = [line.split("|")[1].strip() for line in generated[2:]]
    assert names == sorted(SCHEMA)  # one row per entity the tenant serves
    text = README.read_text()
    start, end = text.index("<!-- entities:start -->"), text.index("<!-- entities:end -->")
    copy = [line for line in text[start:end].splitlines() if line.startswith("|")]
    assert copy == generated, (
        "README.md's entity table differs from the catalog's: regenerate it with "
        "`uv run gruponos entities '*' --markdown` against `uv run gruponos simulator serve`"
    )
