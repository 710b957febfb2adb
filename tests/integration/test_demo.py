"""``gruponos demo``, the README's first command, as a person runs it: a child process, its
own simulator, the local DuckDB warehouse; then ``gruponos status`` on what it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from gruponos.settings import DEFAULT_ENTITIES


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRUPONOS_", "PREFECT_"))}
    return env | {
        "GRUPONOS_WAREHOUSE__PATH": str(folder / "data" / "gruponos.duckdb"),
        "GRUPONOS_FLOWS__LANDING_PATH": str(folder / "data" / "landing"),
        "COLUMNS": "80",
    }


def test_demo_syncs_reconciles_and_builds_every_mart_then_status_reads_the_same_warehouse(tmp_path: Path) -> None:
    env = _env(tmp_path)
    cli = [sys.executable, "-m", "gruponos.cli"]

    done = subprocess.run([*cli, "demo", "--scale", "3000"], env=env, capture_output=True, text=True, timeout=600)

    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert f"6. reconciled {len(DEFAULT_ENTITIES)} entities with the WMS: all equal" in out, out[-4000:]
    assert "5. dbt build:" in out and "error" not in out.lower(), out[-4000:]
    assert "7. dbt marts: top facilities" in out
    assert "nanobind" not in out, "interpreter-exit noise"
    for line in done.stdout.splitlines():
        assert len(line) <= 80, f"wider than 80 columns: {line!r}"
    with duckdb.connect(str(tmp_path / "data" / "gruponos.duckdb"), read_only=True) as db:
        synced = {
            r[0] for r in db.execute("SELECT DISTINCT entity FROM wms_raw._sync_runs WHERE status = 'ok'").fetchall()
        }
        facilities = db.execute("SELECT count(*) FROM analytics.fct_order_fulfillment").fetchone()
    assert synced == set(DEFAULT_ENTITIES)
    assert facilities is not None and facilities[0] > 0

    status = subprocess.run([*cli, "status"], env=env, capture_output=True, text=True, timeout=120)

    assert status.returncode == 0, status.stdout + status.stderr
    for entity in DEFAULT_ENTITIES:
        assert entity in status.stdout, entity
    for line in status.stdout.splitlines():
        assert len(line) <= 80, f"wider than 80 columns: {line!r}"
    assert "…" not in status.stdout, f"a value cut to fit:\n{status.stdout}"
