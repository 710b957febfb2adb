"""Syncs against a tenant that lives: its clock is the wall clock, a writer changes records while
they are read (also between the pages of a scan), and some changes commit late. After a quiet
period one more sync must leave the warehouse equal to the simulator — ids, mod_ts and content —
with nothing marked deleted that exists, in both page modes; over HTTPS too; and through the tap.

The overlap a late commit needs is measured on the fixed clock (a 10-minute schedule, simulated):
the default 30-minute overlap loses nothing up to a 30-minute delay and loses rows beyond it.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from returns.io import IOFailure
from returns.unsafe import unsafe_perform_io

from gruponos import settings as settings_module
from gruponos.catalog import discover
from gruponos.entities import EntitySpec, Kind
from gruponos.pipeline import Context, EntityReport, sync_entity
from gruponos.simulator import Faults, Simulator, Workload
from gruponos.tap import TapOracleWMS
from gruponos.warehouse import connect
from gruponos.wms import WmsClient

ENTITIES = ("allocation", "order_dtl")


@contextlib.contextmanager
def living(workload: Workload, **kwargs: Any) -> Iterator[Simulator]:
    with Simulator(scale=1_000, seed=8, clock="realtime", workload=workload, **kwargs) as sim:
        sim.prerendered.wait(30)
        yield sim


def config(sim: Simulator, tmp_path: Path, page_mode: str = "sequenced", **wms: Any) -> settings_module.Settings:
    wms_cfg = {
        "base_url": sim.base_url,
        "page_size": 100,
        "page_mode": page_mode,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
    } | wms
    target = {"kind": "duckdb", "path": str(tmp_path / "wh.duckdb"), "merge_batch_rows": 400}
    return settings_module.load(env="local", wms=wms_cfg, warehouse=target)


def spec(cfg: settings_module.Settings, name: str) -> EntitySpec:
    """The spec gruponos derives from the tenant's own describe (as a run does)."""
    with WmsClient(cfg.wms) as wms:
        return discover(wms, cfg.sync, [name]).spec(name)


def sync(cfg: settings_module.Settings, mode: str, name: str) -> EntityReport:
    wh = connect(cfg.warehouse)
    try:
        with WmsClient(cfg.wms) as wms:
            entity = discover(wms, cfg.sync, [name]).spec(name)
            result = sync_entity(entity, mode, Context(settings=cfg, wms=wms, warehouse=wh))  # type: ignore[arg-type]
    finally:
        wh.close()
    assert not isinstance(result, IOFailure), unsafe_perform_io(result.failure())
    report: EntityReport = unsafe_perform_io(result.unwrap())
    return report


def stored(cfg: settings_module.Settings, name: str) -> list[dict[str, Any]]:
    wh = connect(cfg.warehouse)
    try:
        return list(wh.rows(name))
    finally:
        wh.close()


def falsely_deleted(sim: Simulator, cfg: settings_module.Settings, name: str) -> set[int]:
    """Rows the warehouse marks deleted that the tenant still has (ids are never reused)."""
    gone = {r["id"] for r in stored(cfg, name) if r["_deleted_at"] is not None}
    return gone & set(sim.tenant.ids(name))


def assert_mirrors(sim: Simulator, cfg: settings_module.Settings, name: str) -> None:
    """Live rows equal the tenant's rows: the same ids, mod_ts and values of every field.

    ``*_set`` counts are left out: a child's arrival does not move its parent's mod_ts (as on
    a real tenant), so an incremental sync does not re-read the parent for it.
    """
    columns: dict[str, list[str]] = {}
    for column in spec(cfg, name).columns:
        columns.setdefault(column.source.name, []).append(column.name)
    fields = {f.name: f for f in spec(cfg, name).fields}
    rows = stored(cfg, name)
    live = {r["id"]: r for r in rows if r["_deleted_at"] is None}
    want = {r["id"]: r for r in sim.tenant.rows(name)}
    assert not falsely_deleted(sim, cfg, name), f"{name}: rows marked deleted that exist"
    assert set(live) == set(want), (
        f"{name}: missing {sorted(set(want) - set(live))[:5]}, extra {sorted(set(live) - set(want))[:5]}"
    )
    wrong = []
    for i, row in want.items():
        got = live[i]
        for name_, names in columns.items():
            f = fields[name_]
            if f.kind is Kind.SET:
                continue
            if f.kind is Kind.FK:
                pair = (got[names[0]], got[names[1]])
                if pair != (row[f.name], row[f"_k_{f.name}"]):
                    wrong.append((i, f.name, pair, row[f.name]))
                continue
            value, expected = got[names[0]], row[f.name]
            if f.kind is Kind.TS and expected is not None:
                expected = expected.replace(tzinfo=UTC)
                value = value.astimezone(UTC) if value is not None else None
            if value != expected:
                wrong.append((i, f.name, value, expected))
    assert not wrong, f"{name}: {len(wrong)} values differ, e.g. {wrong[:3]}"


# --- incremental syncs while the tenant changes ----------------------------------------------


@pytest.mark.parametrize("page_mode", ["sequenced", "paged"])
def test_incremental_syncs_while_the_tenant_changes_converge_after_a_quiet_period(
    page_mode: str, tmp_path: Path
) -> None:
    # no deletes: an incremental sync cannot see them (a full sync can; see the next test)
    workload = Workload(rate=120, modify=0.8, insert=0.2, delete=0, late_share=0.2, late_s=1.5, entities=ENTITIES)
    with living(Workload(), faults=Faults(latency_s=0.01)) as sim:
        cfg = config(sim, tmp_path, page_mode)
        for name in ENTITIES:
            sync(cfg, "full", name)
        sim.set_workload(workload)
        moved = 0
        for _ in range(3):
            time.sleep(0.3)
            for name in ENTITIES:
                report = sync(cfg, "incremental", name)
                moved += report.inserted + report.updated
        sim.settle(timeout=30)
        time.sleep(1.1)  # quiet: past the second of the last change (windows end at whole seconds)
        for name in ENTITIES:
            sync(cfg, "incremental", name)
        totals = sim.status()["changes"]
        assert totals["late"] > 0 and totals["inserted"] > 0
        assert moved > 0, "the syncs ran while the tenant changed"
        for name in ENTITIES:
            assert_mirrors(sim, cfg, name)


# --- full syncs while rows are deleted -------------------------------------------------------


@pytest.mark.parametrize("page_mode", ["sequenced", "paged"])
def test_full_syncs_while_rows_are_deleted_never_mark_a_live_row_deleted(page_mode: str, tmp_path: Path) -> None:
    workload = Workload(rate=150, modify=0.5, insert=0.2, delete=0.3, entities=("allocation",))
    with living(workload, faults=Faults(latency_s=0.02)) as sim:
        cfg = config(sim, tmp_path, page_mode, page_size=50)
        for _ in range(2):
            sync(cfg, "full", "allocation")
            assert not falsely_deleted(sim, cfg, "allocation"), "a full sync marked live rows deleted"
        sim.settle(timeout=30)
        time.sleep(1.1)
        sync(cfg, "full", "allocation")
        assert sim.status()["changes"]["deleted"] > 0
        assert_mirrors(sim, cfg, "allocation")


# --- over HTTPS ------------------------------------------------------------------------------


def test_a_sync_over_https_trusts_the_simulators_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for inherited in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(inherited, raising=False)
    workload = Workload(rate=50, modify=0.8, insert=0.2, delete=0, entities=("allocation",))
    with living(workload, tls=True, data_dir=tmp_path / "sim") as sim:
        assert sim.base_url.startswith("https://") and sim.ca_bundle is not None
        monkeypatch.setenv("GRUPONOS_WMS__CA_BUNDLE", str(sim.ca_bundle))
        cfg = config(sim, tmp_path, max_retries=1)
        sync(cfg, "full", "allocation")
        time.sleep(0.5)
        sync(cfg, "incremental", "allocation")
        sim.settle(timeout=30)
        time.sleep(1.1)
        sync(cfg, "incremental", "allocation")
        assert_mirrors(sim, cfg, "allocation")


# --- the tap ---------------------------------------------------------------------------------


def tap_run(sim: Simulator, state: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One in-process tap run over the allocation stream: its records and its final state."""
    config = {
        "base_url": sim.base_url,
        "username": sim.username,
        "password": sim.password,
        "page_size": 100,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "entities": ["allocation"],
    }
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        TapOracleWMS(config=config, state=state, validate_config=True).sync_all()
    messages = [json.loads(line, parse_float=Decimal) for line in out.getvalue().splitlines() if line.strip()]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return [m["record"] for m in messages if m["type"] == "RECORD"], states[-1]


def test_the_taps_incremental_runs_against_a_living_tenant_pick_up_every_change() -> None:
    workload = Workload(
        rate=120, modify=0.8, insert=0.2, delete=0, late_share=0.2, late_s=1.5, entities=("allocation",)
    )
    with living(Workload()) as sim:
        first, state = tap_run(sim, None)
        assert len(first) == sim.tenant.count("allocation")
        before = sim.tenant.mod_ts("allocation")
        sim.set_workload(workload)
        time.sleep(1.0)
        during, state = tap_run(sim, state)  # while the writer runs
        time.sleep(0.5)
        sim.settle(timeout=30)
        time.sleep(1.1)
        after, _ = tap_run(sim, state)
        now = sim.tenant.mod_ts("allocation")
    changed = {i for i, ts in now.items() if before.get(i) != ts}
    assert len(changed) > 50
    seen: dict[int, str] = {}
    for record in [*during, *after]:  # the later run has the newer version
        seen[record["id"]] = record["mod_ts"]
    missing = {i for i in changed if i not in seen or seen[i] != now[i].isoformat()}
    assert not missing, f"{len(missing)} changes never reached the tap, e.g. {sorted(missing)[:5]}"


# --- late commits against the overlap (fixed clock: a 10-minute schedule in simulated time) -


def lost_late_commits(tmp_path: Path, delay: timedelta) -> tuple[int, int]:
    """(late commits made, late commits the incremental syncs never stored) for one delay."""
    with Simulator(scale=300, seed=9, workload=Workload(late_share=1.0, late_s=delay.total_seconds())) as sim:
        cfg = config(sim, tmp_path / f"{int(delay.total_seconds())}", page_size=100)
        Path(cfg.warehouse.path).parent.mkdir(parents=True, exist_ok=True)
        assert cfg.wms.overlap_minutes == 30  # the default
        sync(cfg, "full", "allocation")
        made = 0
        for step in range(10):  # 6 steps of changes, then quiet steps until every commit landed
            changes = sim.advance(minutes=10, modify=0.08 if step < 6 else 0, insert=0, entities=["allocation"])
            made += len(changes.late.get("allocation", []))
            sync(cfg, "incremental", "allocation")
        assert sim.tenant.pending == 0
        want = sim.tenant.mod_ts("allocation")
        got = {r["id"]: r["mod_ts"].astimezone(UTC) for r in stored(cfg, "allocation") if r["_deleted_at"] is None}
        return made, sum(1 for i, ts in want.items() if got.get(i) != ts)


def test_the_default_overlap_survives_late_commits_up_to_its_own_length(tmp_path: Path) -> None:
    made, lost = lost_late_commits(tmp_path, timedelta(minutes=30))
    assert made > 100 and lost == 0
    made, lost = lost_late_commits(tmp_path, timedelta(minutes=32, seconds=30))
    assert lost > made // 10, "a delay beyond the overlap loses the commits that land after the next window"


# --- an entity that answers only filtered lists ---------------------------------------------


def test_inventory_history_syncs_with_a_documented_filter_combination(tmp_path: Path) -> None:
    with Simulator(scale=2_000, seed=8) as sim:
        codes = {"company_id__code": "CO01", "facility_id__code": "DC01"}
        only_codes = settings_module.load(
            env="local",
            wms={"base_url": sim.base_url, "backoff_base_s": 0.01, "max_retries": 1},
            warehouse={"kind": "duckdb", "path": str(tmp_path / "a.duckdb")},
            sync={"filters": {"inventory_history": codes}},
        )
        wh = connect(only_codes.warehouse)
        try:
            with WmsClient(only_codes.wms) as wms:
                entity = discover(wms, only_codes.sync, ["inventory_history"]).spec("inventory_history")
                refused = sync_entity(entity, "full", Context(settings=only_codes, wms=wms, warehouse=wh))
        finally:
            wh.close()
        assert isinstance(refused, IOFailure)
        assert "group_nbr" in str(unsafe_perform_io(refused.failure()))  # the 400 names the combinations
        documented = codes | {"history_activity_id__gte": "1", "status_id__gte": "0"}
        cfg = settings_module.load(
            env="local",
            wms={"base_url": sim.base_url, "backoff_base_s": 0.01},
            warehouse={"kind": "duckdb", "path": str(tmp_path / "b.duckdb")},
            sync={"filters": {"inventory_history": documented}},
        )
        report = sync(cfg, "full", "inventory_history")
        want = {
            r["id"]
            for r in sim.tenant.rows("inventory_history")
            if (r["_k_company_id"], r["_k_facility_id"]) == ("CO01", "DC01")
        }
        got = {r["id"] for r in stored(cfg, "inventory_history") if r["_deleted_at"] is None}
    assert want and got == want and report.inserted == len(want)
