"""The WMS client against the simulator over loopback: every entity arrives complete,
with every fault the simulator can inject."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from gruponos.errors import WmsAuthError, WmsRequestError, WmsUnavailable
from gruponos.settings import WmsSettings
from gruponos.simulator import Faults, Simulator
from gruponos.wms import Extraction, Window, WmsClient
from tests.local import tenant
from tests.specs import CATALOG
from tests.specs import spec as entity


def settings(simulator: Simulator, **overrides: Any) -> WmsSettings:
    values: dict[str, Any] = {
        "base_url": simulator.base_url,
        "username": simulator.username,
        "password": simulator.password,
        "page_size": 100,
        "min_page_size": 25,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "max_retries": 6,
        "timeout_s": 5,
        "partition_min_rows": 10**9,
    }
    return WmsSettings(**(values | overrides))


def ids_of(run: Extraction) -> list[int]:
    return [i for batch in run for i in batch.column("id").to_pylist()]


simulator = tenant(scale=1_500, seed=11)


@pytest.mark.parametrize("mode", ["sequenced", "paged"])
def test_every_entity_arrives_complete_and_typed(simulator: Simulator, mode: str) -> None:
    with WmsClient(settings(simulator, page_mode=mode, page_size=250)) as wms:
        for name, spec in CATALOG.items():
            run = Extraction(spec, wms)
            batches = list(run)
            got = [i for b in batches for i in b.column("id").to_pylist()]
            assert sorted(got) == simulator.tenant.ids(name), name
            assert len(got) == len(set(got)), name
            assert all(b.schema == spec.schema for b in batches), name
            if mode == "paged":
                assert run.stats.result_count == len(got), name


def test_partitioned_extraction_has_no_duplicates_and_no_gaps(simulator: Simulator) -> None:
    with WmsClient(settings(simulator, partition_min_rows=100, max_concurrency=4)) as wms:
        run = Extraction(entity("allocation"), wms)
        got = ids_of(run)
    assert len(run.partitions) > 1
    assert sorted(got) == simulator.tenant.ids("allocation") and len(got) == len(set(got))


def test_values_arrive_exactly_as_the_wms_holds_them(simulator: Simulator) -> None:
    with WmsClient(settings(simulator)) as wms:
        table = pa.Table.from_batches(list(Extraction(entity("allocation"), wms)))
    rows = {r["id"]: r for r in table.to_pylist()}
    for held in simulator.tenant.rows("allocation", [1, 2, 3, 500, 1500]):
        got = rows[held["id"]]
        assert got["alloc_qty"] == held["alloc_qty"] and got["packed_qty"] == held["packed_qty"]
        assert got["mod_ts"].replace(tzinfo=None) == held["mod_ts"]
        assert got["order_dtl_id"] == held["order_dtl_id"] and got["order_dtl_key"] == held["_k_order_dtl_id"]
        assert got["status_id"] == held["status_id"] and got["is_picking_flg"] == held["is_picking_flg"]


FAULTS = {
    "rate_limited": (Faults(rate_limit_every=4, retry_after_s=0), {}),
    "5xx_bursts": (Faults(error_every=5, error_burst=2, error_status=503), {}),
    "500s": (Faults(error_every=3, error_burst=1, error_status=500), {}),
    "slow_pages": (Faults(latency_s=0.05), {}),
    "truncated_bodies": (Faults(truncate_every=3), {}),
    "timeouts_on_large_pages": (Faults(timeout_above_page_size=50, timeout_s=2), {"timeout_s": 0.5}),
    "shrinking_page_count": (Faults(shrink_page_count=True), {"page_mode": "paged"}),
    "phantom_last_page": (Faults(phantom_page=True), {"page_mode": "paged"}),
    "everything_at_once": (
        Faults(
            rate_limit_every=7, retry_after_s=0, error_every=11, error_burst=2, truncate_every=13, phantom_page=True
        ),
        {"page_mode": "paged"},
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "partitioned"])
def test_entity_arrives_complete_despite_faults(simulator: Simulator, fault: str, parallel: bool) -> None:
    faults, overrides = FAULTS[fault]
    if parallel:
        overrides = overrides | {"partition_min_rows": 100, "max_concurrency": 4}
    simulator.set_faults(faults)
    with WmsClient(settings(simulator, **overrides)) as wms:
        run = Extraction(entity("allocation"), wms)
        got = ids_of(run)
    assert sorted(got) == simulator.tenant.ids("allocation")
    assert len(got) == len(set(got))
    if fault == "timeouts_on_large_pages":
        assert run.stats.halvings >= 1
    elif fault in ("rate_limited", "5xx_bursts", "500s", "truncated_bodies"):
        assert run.stats.retries >= 1


def test_incremental_window_after_the_clock_moves_returns_exactly_the_changes(simulator: Simulator) -> None:
    watermark = simulator.tenant.now
    changes = simulator.advance(minutes=90, modify=0.02, insert=0.01)
    window = Window.since(watermark, until=simulator.tenant.now, overlap=timedelta(0))
    with WmsClient(settings(simulator)) as wms:
        got = set(ids_of(Extraction(entity("allocation"), wms, window=window)))
    assert got == set(changes.modified["allocation"]) | set(changes.inserted["allocation"])


def test_overlap_rereads_rows_changed_just_before_the_watermark(simulator: Simulator) -> None:
    first = simulator.advance(minutes=60, modify=0.01, insert=0)
    watermark = simulator.tenant.now
    second = simulator.advance(minutes=60, modify=0.01, insert=0)
    window = Window.since(watermark, until=simulator.tenant.now, overlap=timedelta(minutes=60))
    with WmsClient(settings(simulator)) as wms:
        got = set(ids_of(Extraction(entity("allocation"), wms, window=window)))
    assert got == set(first.modified["allocation"]) | set(second.modified["allocation"])


def test_deleted_rows_do_not_arrive(simulator: Simulator) -> None:
    simulator.delete("allocation", [5, 6, 7])
    with WmsClient(settings(simulator)) as wms:
        got = ids_of(Extraction(entity("allocation"), wms))
    assert not {5, 6, 7} & set(got) and sorted(got) == simulator.tenant.ids("allocation")


def test_wrong_password_fails_at_once_naming_entity_url_status_and_reference(simulator: Simulator) -> None:
    with WmsClient(settings(simulator, password="wrong-secret")) as wms, pytest.raises(WmsAuthError) as info:
        list(Extraction(entity("order_hdr"), wms))
    err = info.value
    assert err.entity == "order_hdr" and err.status == 401 and err.reference
    assert err.url and err.url.startswith(simulator.base_url)
    assert "wrong-secret" not in str(err) and simulator.password not in str(err)


def test_server_errors_outlasting_the_retries_raise_unavailable_with_context(simulator: Simulator) -> None:
    simulator.set_faults(Faults(error_every=1, error_burst=1, error_status=503))
    with WmsClient(settings(simulator, max_retries=2)) as wms, pytest.raises(WmsUnavailable) as info:
        list(Extraction(entity("item"), wms))
    assert info.value.entity == "item" and info.value.status == 503 and info.value.reference


def test_ping_tells_a_wrong_base_url_from_an_empty_list(simulator: Simulator) -> None:
    wrong = settings(simulator, base_url=simulator.base_url.replace("/local/", "/nope/"))
    with WmsClient(wrong) as wms, pytest.raises(WmsRequestError) as info:
        wms.ping()
    assert info.value.status == 404
    with WmsClient(settings(simulator)) as wms:
        wms.ping()
