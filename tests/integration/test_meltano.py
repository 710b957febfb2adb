"""A real ``meltano run`` of tap-oracle-wms into the machine's PostgreSQL (meltanolabs
target-postgres), against the simulator over loopback: complete loads, state between runs,
faults, and a failed run that is reported as failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gruponos import settings
from gruponos.catalog import discover
from gruponos.entities import SyncClass
from gruponos.simulator import Faults, Simulator
from gruponos.tap import meltano
from gruponos.wms import WmsClient
from tests.integration._warehouse import PG_DSN, fresh_schema, needs_pg
from tests.local import tenant
from tests.specs import CATALOG

pytestmark = needs_pg


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    """The loaders' venvs under meltano/.meltano (skipped when already current)."""
    meltano.install()


simulator = tenant(scale=500, seed=21)


@pytest.fixture
def schema() -> Iterator[str]:
    with fresh_schema("m") as name:
        yield name


def environment(simulator: Simulator, schema: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Settings through environment variables, as in production; state in this test's own system DB."""
    sqlalchemy_url = PG_DSN.replace("postgresql://", "postgresql+psycopg://", 1)
    return {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TAP_ORACLE_WMS_BASE_URL": simulator.base_url,
        "TAP_ORACLE_WMS_USERNAME": simulator.username,
        "TAP_ORACLE_WMS_PASSWORD": simulator.password,
        "TAP_ORACLE_WMS_PAGE_SIZE": "100",
        "TAP_ORACLE_WMS_BACKOFF_BASE_S": "0.01",
        "TAP_ORACLE_WMS_BACKOFF_MAX_S": "0.2",
        "TARGET_POSTGRES_SQLALCHEMY_URL": sqlalchemy_url,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        **extra,
    }


def operational(simulator: Simulator) -> list[str]:
    """The default selection's operational entities, as gruponos discovers them from the tenant
    (the incremental job's ``sync_classes: [operational]``)."""
    auth = {"username": simulator.username, "password": simulator.password}
    cfg = settings.load(env="local", wms={"base_url": simulator.base_url, **auth})
    with WmsClient(cfg.wms) as wms:
        return discover(wms, cfg.sync).of_class(SyncClass.OPERATIONAL)


def loaded(schema: str, name: str, columns: str = "id") -> list[tuple[Any, ...]]:
    with psycopg.connect(PG_DSN) as conn:
        return conn.execute(f'SELECT {columns} FROM "{schema}"."{name}" ORDER BY id').fetchall()


def tables(schema: str) -> set[str]:
    with psycopg.connect(PG_DSN) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {r[0] for r in rows.fetchall()}


def test_meltano_run_loads_every_entity_with_the_simulators_ids(
    simulator: Simulator, schema: str, tmp_path: Path
) -> None:
    meltano.run("tap-oracle-wms", "target-postgres", env=environment(simulator, schema, tmp_path))

    for name in CATALOG:
        assert [r[0] for r in loaded(schema, name)] == simulator.tenant.ids(name), name


def test_incremental_job_second_run_extracts_only_changed_records(
    simulator: Simulator, schema: str, tmp_path: Path
) -> None:
    env = environment(simulator, schema, tmp_path, TAP_ORACLE_WMS_OVERLAP_MINUTES="0")
    meltano.run("incremental-sync-job", env=env)
    entities = operational(simulator)
    assert {"allocation", "order_hdr", "order_dtl"} <= set(entities) and "item" not in entities
    assert tables(schema) == set(entities)
    first = {name: dict(loaded(schema, name, "id, _sdc_sync_started_at")) for name in entities}
    bookmarks = {name: max(simulator.tenant.mod_ts(name).values()) for name in entities}
    changes = simulator.advance(minutes=60, modify=0.05, insert=0.01)

    meltano.run("incremental-sync-job", env=env)

    for name in entities:
        rows = loaded(schema, name, "id, _sdc_sync_started_at, mod_ts")
        assert [r[0] for r in rows] == simulator.tenant.ids(name), name
        second = {r[0] for r in rows if r[1] != first[name].get(r[0], r[1]) or r[0] not in first[name]}
        changed = set(changes.modified.get(name, [])) | set(changes.inserted.get(name, []))
        stamps = simulator.tenant.mod_ts(name)
        at_bookmark = {i for i, m in stamps.items() if m == bookmarks[name]}  # mod_ts__gte re-reads it
        assert changed <= second, name
        assert second <= changed | at_bookmark, name
        for row_id, _, mod_ts in rows:
            assert mod_ts == stamps[row_id].replace(tzinfo=None), (name, row_id)


def test_run_with_throttling_and_server_errors_still_loads_everything(
    simulator: Simulator, schema: str, tmp_path: Path
) -> None:
    simulator.set_faults(Faults(rate_limit_every=4, retry_after_s=1, error_every=7, error_burst=2, error_status=500))
    env = environment(simulator, schema, tmp_path, TAP_ORACLE_WMS_ENTITIES='["allocation", "order_dtl", "item"]')

    meltano.run("tap-oracle-wms", "target-postgres", env=env)

    for name in ("allocation", "order_dtl", "item"):
        assert [r[0] for r in loaded(schema, name)] == simulator.tenant.ids(name), name


def test_a_failed_run_raises_and_keeps_the_password_out_of_the_message(
    simulator: Simulator, schema: str, tmp_path: Path
) -> None:
    env = environment(
        simulator, schema, tmp_path, TAP_ORACLE_WMS_PASSWORD="wrong-s3cret", TAP_ORACLE_WMS_ENTITIES='["company"]'
    )

    with pytest.raises(meltano.MeltanoError, match="exited with code") as caught:
        meltano.run("tap-oracle-wms", "target-postgres", env=env)

    assert "401" in str(caught.value)
    assert "wrong-s3cret" not in str(caught.value)
