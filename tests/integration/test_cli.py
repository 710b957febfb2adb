"""`gruponos sync` as a person runs it: a real process, a real Ctrl-C, a closed port, a wrong password."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from gruponos.simulator import Faults, Simulator
from tests.local import cli_env, tenant
from tests.prefect_server import free_port

pytestmark = pytest.mark.timeout(300)


simulator = tenant(scale=6_000, seed=9)


def _env(base_url: str, folder: Path, **extra: str) -> dict[str, str]:
    small = {"GRUPONOS_WAREHOUSE__MERGE_BATCH_ROWS": "500", "GRUPONOS_WMS__PAGE_SIZE": "100", "COLUMNS": "80"}
    return cli_env(base_url, folder, **(small | extra))


def _sync(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "gruponos.cli", "sync", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_ctrl_c_stops_a_sync_within_seconds_and_the_rerun_resumes(simulator: Simulator, tmp_path: Path) -> None:
    simulator.set_faults(Faults(latency_s=0.1))  # ~60 pages of allocations: a sync of several seconds
    env = _env(simulator.base_url, tmp_path, GRUPONOS_WMS__MAX_CONCURRENCY="1")
    proc = _sync(env, "full", "--entity", "allocation")
    warehouse = tmp_path / "wh.duckdb"
    _wait_for_log(tmp_path, "records committed")  # a first part is in
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    out, err = proc.communicate(timeout=60)
    stopped_after = time.monotonic() - sent
    assert stopped_after < 5, f"Ctrl-C took {stopped_after:.1f} s"
    assert proc.returncode == 130, err
    assert "stopping" in err and "stopped by the user: 1 entity mid-way (a rerun resumes), 0 not run" in err, err
    assert "error:" not in err, err  # a stop the user asked for is said once, not as a failure
    assert any(line.split()[:2] == ["allocation", "stopped"] for line in out.splitlines()), out
    loaded = _count(warehouse)
    assert 0 < loaded < simulator.tenant.count("allocation")
    with duckdb.connect(str(warehouse), read_only=True) as db:
        (status, error) = db.execute("SELECT status, error FROM wms_raw._sync_runs").fetchone()  # type: ignore[misc]
    assert status == "failed" and "stopped by the user" in error

    simulator.set_faults(Faults())
    rerun = _sync(env, "full", "--entity", "allocation")
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert "allocation: resuming the full sync after id" in err
    with duckdb.connect(str(warehouse), read_only=True) as db:
        ids = [
            r[0]
            for r in db.execute("SELECT id FROM wms_raw.allocation WHERE _deleted_at IS NULL ORDER BY id").fetchall()
        ]
    assert ids == simulator.tenant.ids("allocation")


def test_a_second_ctrl_c_ends_the_process_at_once(simulator: Simulator, tmp_path: Path) -> None:
    simulator.set_faults(Faults(latency_s=2.0))  # every page takes 2 s: the first Ctrl-C waits for one
    proc = _sync(_env(simulator.base_url, tmp_path, GRUPONOS_WMS__MAX_CONCURRENCY="1"), "full", "--entity", "item")
    _wait_for_log(tmp_path, "full sync of")  # planned: the run is waiting on a page
    proc.send_signal(signal.SIGINT)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 2
    assert proc.returncode == 130 and "stopped at once" in err


def test_a_closed_port_fails_within_30_s_in_a_few_lines_naming_the_setting(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/local/wms/lgfapi/v10/"
    started = time.monotonic()
    proc = _sync(_env(url, tmp_path), "incremental")
    out, err = proc.communicate(timeout=90)
    assert time.monotonic() - started < 35  # the default retry budget is 30 s, plus the start
    assert proc.returncode == 1
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert len(lines) <= 15, "\n".join(lines)
    assert "GRUPONOS_WMS__BASE_URL" in err and "Traceback" not in out + err


def test_a_wrong_password_is_one_clear_message_without_the_password(simulator: Simulator, tmp_path: Path) -> None:
    proc = _sync(_env(simulator.base_url, tmp_path, GRUPONOS_WMS__PASSWORD="wr0ng-pa55word"), "incremental")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert len(lines) <= 15, "\n".join(lines)
    assert sum("401" in line for line in lines) == 1 and "GRUPONOS_WMS__PASSWORD" in err
    assert "wr0ng-pa55word" not in out + err and "Traceback" not in out + err
    assert lines[0].startswith("gruponos sync incremental (local) in this process")


def _count(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as db:
        row = db.execute("SELECT count(*) FROM wms_raw.allocation").fetchone()
    return int(row[0]) if row else 0


def _wait_for_log(folder: Path, text: str, timeout: float = 120) -> None:
    """Until the run's log file (beside the landing folder) has a line with ``text``."""
    log = folder / "logs" / "gruponos.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} in {log}")


def _sync_dbt(env: dict[str, str], kind: str) -> tuple[str, str, float]:
    """``gruponos sync <kind> --dbt`` to its end: stdout, stderr, wall seconds."""
    started = time.monotonic()
    proc = _sync(env, kind, "--dbt")
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    return out, err, time.monotonic() - started


def test_sync_with_dbt_builds_what_the_sync_changed_and_times_it_apart(simulator: Simulator, tmp_path: Path) -> None:
    env = _env(simulator.base_url, tmp_path)
    out, err, wall = _sync_dbt(env, "full")
    built = re.search(r"dbt build: (\d+) pass, (\d+) success in (\d+\.\d) s", err)
    assert built, err
    total = float(next(line for line in out.splitlines() if line.startswith("total")).split()[-1])
    # the table's total (and its records/s) is the sync's own time; dbt's seconds are its own line
    assert total + float(built.group(3)) <= wall + 0.5, (total, built.group(3), wall)

    simulator.advance(minutes=60, modify=0.01, insert=0.002, delete=0.002)
    _, err, _ = _sync_dbt(env, "incremental")
    changed = re.search(r"dbt build: (\d+) pass, (\d+) success", err)
    assert changed and 0 < int(changed.group(1)) < int(built.group(1)), err  # what the changed sources feed
    _, err, _ = _sync_dbt(env, "incremental")  # nothing changed since
    assert "dbt build: nothing to do" in err, err
