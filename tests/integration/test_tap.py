"""tap-oracle-wms against the simulator over loopback: singer-sdk's own tap test suite, then
incremental state with its overlap window, settings validation and secrets kept out of sight."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.testing import get_tap_test_class

from gruponos.catalog import UnknownEntity
from gruponos.settings import DEFAULT_ENTITIES
from gruponos.simulator import Faults, Simulator
from gruponos.simulator.schema import SCHEMA
from gruponos.tap import TapOracleWMS

# singer-sdk's suite is built at import and the tap discovers its streams from the tenant's
# describe: the tenant runs from import to the end of the module.
_TENANT = Simulator(scale=200, seed=11).start()
atexit.register(_TENANT.stop)
CONFIG: dict[str, Any] = {
    "base_url": _TENANT.base_url,
    "username": _TENANT.username,
    "password": _TENANT.password,
    "page_size": 40,
    "backoff_base_s": 0.01,
    "backoff_max_s": 0.05,
}
TAP = str(Path(sys.executable).parent / "tap-oracle-wms")


@pytest.fixture(scope="module", autouse=True)
def simulator() -> Simulator:
    return _TENANT


_SingerSuite = get_tap_test_class(TapOracleWMS, config=CONFIG)


class TestSingerSuite(_SingerSuite):  # type: ignore[misc, valid-type]
    """singer-sdk's built-in tests: about, discovery, connection, records vs schema, keys."""


def sync(config: dict[str, Any], state: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One in-process tap run: its messages and its final state."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        TapOracleWMS(config=config, state=state, validate_config=True).sync_all()
    messages = [json.loads(line, parse_float=Decimal) for line in out.getvalue().splitlines() if line.strip()]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return messages, states[-1] if states else {}


def records(messages: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def own_sim() -> Iterator[Simulator]:
    """A tenant this test may advance."""
    with Simulator(scale=300, seed=5) as s:
        yield s


def own_config(simulator: Simulator, **overrides: Any) -> dict[str, Any]:
    return CONFIG | {"base_url": simulator.base_url, "page_size": 50} | overrides


def test_every_record_of_every_default_entity_arrives_once(simulator: Simulator) -> None:
    messages, _ = sync(CONFIG)
    streamed = {m["stream"] for m in messages if m["type"] == "SCHEMA"}
    assert streamed == set(DEFAULT_ENTITIES)  # the tenant serves every default entity
    for name in streamed:
        ids = [r["id"] for r in records(messages, name)]
        assert sorted(ids) == simulator.tenant.ids(name), name


MASTER = {"item", "location", "inventory", "facility", "company"}  # kept whole by the overlays


def test_entities_with_mod_ts_replicate_incrementally_the_others_in_full() -> None:
    tap = TapOracleWMS(config=CONFIG)
    assert set(tap.streams) == set(DEFAULT_ENTITIES)
    for name, stream in tap.streams.items():
        assert list(stream.primary_keys) == ["id"]
        has_mod_ts = any(f.name == "mod_ts" for f in SCHEMA[name].fields)  # the tenant's own schema
        if has_mod_ts and name not in MASTER:
            assert (stream.replication_method, stream.replication_key) == ("INCREMENTAL", "mod_ts"), name
        else:
            assert stream.replication_method == "FULL_TABLE", name


def test_the_incremental_variant_takes_only_operational_entities() -> None:
    tap = TapOracleWMS(config=CONFIG | {"sync_classes": ["operational"]})
    assert (
        set(tap.streams) == {n for n in DEFAULT_ENTITIES if any(f.name == "mod_ts" for f in SCHEMA[n].fields)} - MASTER
    )


def test_second_run_with_state_extracts_only_changed_records(own_sim: Simulator) -> None:
    config = own_config(own_sim, overlap_minutes=0, entities=["allocation", "item"])
    first, state = sync(config)
    bookmark = state["bookmarks"]["allocation"]["replication_key_value"]
    assert ts(bookmark) == max(own_sim.tenant.mod_ts("allocation").values())
    changes = own_sim.advance(minutes=60, modify=0.05, insert=0.01)

    second, state2 = sync(config, state)

    got = {r["id"] for r in records(second, "allocation")}
    changed = set(changes.modified["allocation"]) | set(changes.inserted["allocation"])
    at_bookmark = {i for i, m in own_sim.tenant.mod_ts("allocation").items() if m == ts(bookmark)} - changed
    assert got == changed | at_bookmark  # mod_ts__gte: the bookmark's own record comes again
    assert len(records(second, "item")) == own_sim.tenant.count("item")  # master data: full table
    new_bookmark = state2["bookmarks"]["allocation"]["replication_key_value"]
    assert ts(new_bookmark) == max(own_sim.tenant.mod_ts("allocation").values())
    assert len(records(first, "allocation")) == 300


def test_overlap_minutes_reread_the_window_before_the_bookmark(own_sim: Simulator) -> None:
    config = own_config(own_sim, overlap_minutes=24 * 60, entities=["allocation"])
    _, state = sync(config)
    bookmark = ts(state["bookmarks"]["allocation"]["replication_key_value"])
    changes = own_sim.advance(minutes=30, modify=0.02, insert=0)

    second, _ = sync(config, state)

    start = bookmark - timedelta(days=1)
    expected = {i for i, m in own_sim.tenant.mod_ts("allocation").items() if m >= start.replace(microsecond=0)}
    assert {r["id"] for r in records(second, "allocation")} == expected
    assert set(changes.modified["allocation"]) <= expected


def test_start_date_bounds_a_first_incremental_run(own_sim: Simulator) -> None:
    stamps = sorted(own_sim.tenant.mod_ts("order_hdr").values())
    start = stamps[len(stamps) // 2].replace(microsecond=0)
    messages, _ = sync(own_config(own_sim, entities=["order_hdr"], start_date=start.isoformat()))
    got = {r["id"] for r in records(messages, "order_hdr")}
    assert got == {i for i, m in own_sim.tenant.mod_ts("order_hdr").items() if m >= start}


def test_throttling_and_server_errors_are_retried_to_the_same_records(own_sim: Simulator) -> None:
    own_sim.set_faults(Faults(rate_limit_every=3, retry_after_s=0, error_every=5, error_burst=2, error_status=500))
    messages, _ = sync(own_config(own_sim, entities=["allocation", "order_dtl"]))
    assert sorted(r["id"] for r in records(messages, "allocation")) == own_sim.tenant.ids("allocation")
    assert sorted(r["id"] for r in records(messages, "order_dtl")) == own_sim.tenant.ids("order_dtl")


def test_records_keep_decimals_exact_and_timestamps_in_utc(simulator: Simulator) -> None:
    messages, _ = sync(CONFIG | {"entities": ["allocation"]})
    rows = {r["id"]: r for r in simulator.tenant.rows("allocation")}
    for record in records(messages, "allocation")[:50]:
        row = rows[record["id"]]
        assert isinstance(record["alloc_qty"], Decimal)
        assert record["alloc_qty"] == row["alloc_qty"]
        assert ts(record["mod_ts"]).utcoffset() == timedelta(0)
        assert ts(record["mod_ts"]).replace(tzinfo=None) == row["mod_ts"]


def test_a_bad_base_url_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG | {"base_url": "https://x.example.com/prod/api/", "password": "s3cret-pw"}))
    run = subprocess.run([TAP, "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "base_url must end in /wms/lgfapi/v10/" in run.stderr
    assert "s3cret-pw" not in run.stderr + run.stdout


def test_an_entity_the_tenant_does_not_serve_is_refused_naming_the_close_matches() -> None:
    with pytest.raises(UnknownEntity) as caught:
        TapOracleWMS(config=CONFIG | {"entities": ["shipment"]})
    assert "'shipment'" in str(caught.value) and "ib_shipment" in str(caught.value)


def test_secrets_never_appear_in_about_discovery_or_a_failed_run(simulator: Simulator, tmp_path: Path) -> None:
    about = subprocess.run([TAP, "--about", "--format", "json"], capture_output=True, text=True, timeout=60)
    settings = json.loads(about.stdout)["settings"]["properties"]
    assert settings["password"].get("secret") is True
    wrong = tmp_path / "config.json"
    wrong.write_text(json.dumps(CONFIG | {"password": "wrong-s3cret", "entities": ["company"]}))
    run = subprocess.run([TAP, "--config", str(wrong)], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "401" in run.stderr
    assert "wrong-s3cret" not in run.stderr + run.stdout
