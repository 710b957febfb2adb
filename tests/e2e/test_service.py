"""`gruponos service up` as a user runs it: start, Ctrl-C, start again on the same home."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.prefect_server import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(600)


def _up(home: Path, port: int, sim_port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRUPONOS_", "PREFECT_"))}
    env["GRUPONOS_WAREHOUSE__PATH"] = str(home / "wh.duckdb")
    cmd = [sys.executable, "-m", "gruponos.cli", "service", "up", "--port", str(port), "--sim-port", str(sim_port),
           "--scale", "2000", "--home", str(home / "prefect")]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _until_up(proc: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "service is up" in text:
            return text
        if proc.poll() is not None:
            raise AssertionError(f"service up exited ({proc.returncode}):\n{text[-3000:]}")
        time.sleep(1)
    raise AssertionError(f"service up did not come up:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=90)


def test_service_up_starts_stops_and_starts_again_on_the_same_home(tmp_path: Path) -> None:
    port, sim_port = free_port(), free_port()
    for attempt in (1, 2):
        log = tmp_path / f"up-{attempt}.log"
        proc = _up(tmp_path, port, sim_port, log)
        try:
            text = _until_up(proc, log)
            assert f"http://127.0.0.1:{port}" in text  # the dashboard's address is printed
            assert str(tmp_path / "wh.duckdb") in text  # the warehouse `gruponos status` reads
            api = f"http://127.0.0.1:{port}/api"
            deployment = httpx.get(f"{api}/deployments/name/incremental-sync/local", timeout=10).json()
            assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["*/5 * * * *"]
            pools = httpx.post(f"{api}/work_pools/filter", json={}, timeout=10).json()
            assert [p["name"] for p in pools if p["name"] == "gruponos-local"] == ["gruponos-local"]
        finally:
            code = _stop(proc)
        said = log.read_text(errors="replace")
        assert code == 0, said[-2000:]
        assert "stopping" in said
        assert "worker on pool gruponos-local" in said  # names are printed whole, never masked
        assert "error" not in said.lower(), said[-2000:]  # a Ctrl-C is a stop, not a failure
