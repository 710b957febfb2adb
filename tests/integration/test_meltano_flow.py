"""The ``meltano-run`` flow: a real ``meltano run`` (prefect-shell) from the simulator into the
machine's PostgreSQL, under a real Prefect server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from flows import meltano_run
from gruponos.simulator import Simulator
from gruponos.tap import meltano
from tests.integration._warehouse import PG_DSN, fresh_schema
from tests.local import tenant
from tests.specs import CATALOG

INCREMENTAL = ("allocation", "order_hdr", "order_dtl")


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    meltano.install()


simulator = tenant(scale=400, seed=23)


@pytest.fixture
def schema(simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_api: str) -> Iterator[str]:
    for key in [k for k in os.environ if k.startswith(("GRUPONOS_", "TAP_ORACLE_WMS_", "TARGET_POSTGRES_"))]:
        monkeypatch.delenv(key)
    env = {
        "GRUPONOS_WMS__BASE_URL": simulator.base_url,
        "GRUPONOS_WMS__USERNAME": simulator.username,
        "GRUPONOS_WMS__PASSWORD": simulator.password,
        "GRUPONOS_WMS__PAGE_SIZE": "100",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TARGET_POSTGRES_SQLALCHEMY_URL": PG_DSN.replace("postgresql://", "postgresql+psycopg://", 1),
    }
    with fresh_schema("mf") as name:
        for key, value in (env | {"TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": name}).items():
            monkeypatch.setenv(key, value)
        yield name


def _ids(schema: str, entity: str) -> list[int]:
    with psycopg.connect(PG_DSN) as conn:
        return [r[0] for r in conn.execute(f'SELECT id FROM "{schema}"."{entity}" ORDER BY id').fetchall()]


def test_record_counts_reads_the_taps_metrics_apart_from_the_targets() -> None:
    log = [
        '2026-11-22T00:26:13Z [info     ] tap-oracle-wms METRIC: {"type":"counter","metric":"record_count",'
        '"value":400,"tags":{"stream":"allocation"}}',
        '2026-11-22T00:26:14Z [info     ] tap-oracle-wms METRIC: {"type":"counter","metric":"record_count",'
        '"value":25,"tags":{"stream":"allocation"}}',
        '2026-11-22T00:26:15Z [info     ] target-postgres METRIC: {"type":"counter","metric":"record_count",'
        '"value":425,"tags":{"stream":"allocation"}}',
        '2026-11-22T00:26:15Z [info     ] tap-oracle-wms METRIC: {"type":"timer","metric":"http_request_duration",'
        '"value":0.1,"tags":{"stream":"allocation"}}',
        "2026-11-22T00:26:16Z [info     ] tap-oracle-wms METRIC: {not json",
    ]
    assert meltano.record_counts(log, "tap-") == {"allocation": 425}
    assert meltano.record_counts(log, "target-") == {"allocation": 425}


def test_meltano_run_flow_loads_the_job_and_reports_rows_per_stream(schema: str, simulator: Simulator) -> None:
    rows = meltano_run(env="local", job="full-sync-job")

    # The job reads every entity the tenant's describe offers by default: the eight written down
    # here among them, each with the simulator's count.
    assert set(CATALOG) <= set(rows)
    assert rows == {name: simulator.tenant.count(name) for name in rows}
    for name in CATALOG:
        assert _ids(schema, name) == simulator.tenant.ids(name), name


def test_meltano_run_flow_fails_with_meltanos_last_lines_when_meltano_fails(
    schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRUPONOS_WMS__PASSWORD", "Wr0ng-pa55word")

    state = meltano_run(env="local", job="incremental-sync-job", return_state=True)

    assert state.is_failed()
    message = state.message or ""
    assert "meltano --environment=dev run incremental-sync-job exited with code" in message
    assert "401" in message
    assert "Wr0ng-pa55word" not in message
