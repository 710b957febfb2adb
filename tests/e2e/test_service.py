"""`gruponos service up` as a user runs it: start, Ctrl-C, start again on the same home."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from tests.prefect_server import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(600)


def _up(home: Path, port: int, sim_port: int, log: Path, *, terminal: bool = False) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRUPONOS_", "PREFECT_"))}
    env["GRUPONOS_WAREHOUSE__PATH"] = str(home / "wh.duckdb")
    cmd = [sys.executable, "-m", "gruponos.cli", "service", "up", "--port", str(port), "--sim-port", str(sim_port),
           "--scale", "2000", "--home", str(home / "prefect")]  # fmt: skip
    # terminal=True: a process group of its own, as a shell runs a foreground job, so that
    # a Ctrl-C can be sent the way a terminal sends it (SIGINT to the whole group); and with
    # SIGINT ignored, as a script's background job (`gruponos service up &`) starts: the
    # parts must not inherit that, or the worker, which stops by sending itself SIGINT, never does
    if terminal:
        cmd = ["bash", "-c", 'trap "" INT; exec "$@"', "bash", *cmd]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=terminal
    )


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


def _of_home(home: Path) -> list[str]:
    """The processes still running with PREFECT_HOME=home (the parts and the flow runs they started)."""
    mark = f"PREFECT_HOME={home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and mark in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # ended meanwhile, or not ours
            continue
    return found


def test_ctrl_c_at_the_terminal_cancels_the_run_in_progress_then_stops_every_part(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches every process of the foreground job at once; the server must not
    go first: the run in progress is recorded cancelled, the worker stops (also when `service up`
    started with SIGINT ignored), nothing is left running."""
    port, sim_port = free_port(), free_port()
    api = f"http://127.0.0.1:{port}/api"
    log = tmp_path / "up-1.log"
    proc = _up(tmp_path, port, sim_port, log, terminal=True)
    try:
        _until_up(proc, log)
        deployment = httpx.get(f"{api}/deployments/name/full-sync/local", timeout=10).json()
        run = httpx.post(f"{api}/deployments/{deployment['id']}/create_flow_run", json={}, timeout=10).json()
        deadline = time.monotonic() + 120
        while (state := httpx.get(f"{api}/flow_runs/{run['id']}", timeout=10).json()["state_type"]) != "RUNNING":
            assert state in ("SCHEDULED", "PENDING") and time.monotonic() < deadline, state
            time.sleep(0.5)
        time.sleep(2)  # the sync under way (its dbt build alone takes longer than this)
    finally:
        with suppress(ProcessLookupError):  # ended already: _until_up says why
            os.killpg(proc.pid, signal.SIGINT)  # what the terminal does
        code = proc.wait(timeout=120)
    said = log.read_text(errors="replace")
    assert code == 0, said[-2000:]
    assert f"cancelling 1 run(s) in progress: {run['name']}" in said, said[-2000:]
    assert f"cancelled: {run['name']}\n" in said, said[-2000:]
    assert "killed" not in said, said[-2000:]  # every part stopped when asked, none SIGKILLed
    assert _of_home(tmp_path / "prefect") == []
    # the server kept what happened: started again, the run is cancelled, not left running
    proc = _up(tmp_path, port, sim_port, tmp_path / "up-2.log")
    try:
        _until_up(proc, tmp_path / "up-2.log")
        state = httpx.get(f"{api}/flow_runs/{run['id']}", timeout=10).json()["state"]
        assert state["type"] == "CANCELLED", state
    finally:
        assert _stop(proc) == 0


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
