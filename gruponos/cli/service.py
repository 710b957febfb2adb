"""``gruponos service up``: the local service — a Prefect server, the work pool, the deployments,
a worker and the living simulator — in the foreground. Ctrl-C stops it; a second start works
like the first (the pool and the deployments are updated, not created again).

    service = Service(project=Path("."), port=4200, sim_port=8765, scale=100_000, home=Path("data/prefect"))
    service.start(say=print)     # each part started and checked in turn
    ...
    service.stop()               # runs in progress cancelled, then worker, simulator, server in turn

Each part runs in a session of its own: a Ctrl-C at the terminal reaches ``service up`` alone,
which stops the parts in order — the server last, so the worker can still report to it.

Child processes, not Prefect imports: the engine stays free of Prefect; this module only runs
its command line (``prefect server start``, ``prefect work-pool create``, ``prefect deploy``,
``prefect worker start``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from gruponos import settings as settings_module
from gruponos.cli.output import console, err, fail

__all__ = ["LOCAL_POOL", "Service", "app", "cancel_runs", "wait_healthy", "wait_or_kill"]

LOCAL_POOL = "gruponos-local"
WAREHOUSE_QUEUE = "duckdb-warehouse"  # prefect.yaml: the local deployments that open the DuckDB file
_LOCAL_DEPLOYMENTS = (
    "full-sync",
    "incremental-sync",
    "master-data",
    "sync-entity",
    "dbt-build",
    "health-check",
    "meltano-run",
)
app = typer.Typer(help="The local Prefect service: server, work pool, deployments, worker, simulator.")


class Service:
    """The parts of the local service, as child processes of this one."""

    def __init__(
        self, *, project: Path, port: int, sim_port: int, scale: int, home: Path, warehouse: Path | None = None
    ) -> None:
        self.project = project
        self.port = port
        self.sim_port = sim_port
        self.scale = scale
        self.home = home
        self.api_url = f"http://127.0.0.1:{port}/api"
        self.ui_url = f"http://127.0.0.1:{port}"
        self._children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.env = {
            **os.environ,
            "PREFECT_API_URL": self.api_url,
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_EXTRA_LOGGERS": "gruponos",
            "GRUPONOS_ENV": "local",
            "GRUPONOS_PROJECT_DIR": str(project),
            "GRUPONOS_WMS__BASE_URL": settings_module.local_base_url(sim_port),
        }
        if warehouse is not None:  # the same DuckDB file `gruponos status` and `gruponos demo` use
            self.env["GRUPONOS_WAREHOUSE__PATH"] = str(warehouse)

    def _prefect(self, *args: str) -> list[str]:
        return [str(Path(sys.executable).parent / "prefect"), *args]

    def _spawn(self, name: str, cmd: list[str], log: str) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        out = (self.home / log).open("ab")
        # a session of its own: the terminal's Ctrl-C (SIGINT to its whole process group) must not
        # reach the server before the worker has stopped; stop() ends the parts in order
        proc = subprocess.Popen(
            cmd, cwd=self.project, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._children.append((name, proc))

    def _run(self, *args: str) -> str:
        done = subprocess.run(self._prefect(*args), cwd=self.project, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    def start(self, say: Callable[[str], None]) -> None:
        """Start every part and wait until each is ready; raise ``RuntimeError`` naming the one that is not."""
        say(f"Prefect server on {self.ui_url} (logs: {self.home / 'server.log'})…")
        self._spawn(
            "prefect server",
            self._prefect("server", "start", "--host", "127.0.0.1", "--port", str(self.port)),
            "server.log",
        )
        wait_healthy(self.api_url, dead=self.dead, timeout=180, log=self.home / "server.log")
        say("work pool, deployments (local)…")
        self._run("work-pool", "create", LOCAL_POOL, "--type", "process", "--overwrite")
        names = [arg for d in _LOCAL_DEPLOYMENTS for arg in ("--name", f"{d}/local")]
        self._run("--no-prompt", "deploy", *names)
        # the DuckDB file has one writer process: the deployments that open it share one queue
        # of one run at a time (prefect.yaml), so a sync started beside the scheduled one waits
        self._run("work-queue", "set-concurrency-limit", WAREHOUSE_QUEUE, "1", "--pool", LOCAL_POOL)
        # the living simulator changes rows every second: an incremental sync every 5 minutes
        # shows them moving in the dashboard (prefect.yaml's local deployments have no schedule)
        self._run("--no-prompt", "deployment", "schedule", "create", "incremental-sync/local", "--cron",
                  "*/5 * * * *", "--timezone", "America/Sao_Paulo", "--replace", "--accept-yes")  # fmt: skip
        say(f"WMS simulator on 127.0.0.1:{self.sim_port} ({self.scale:,} allocations)…")
        # a living tenant: wall-clock time and enough churn that a 5-minute schedule moves rows
        sim = [sys.executable, "-m", "gruponos.cli", "simulator", "serve", "--quiet", "--clock", "realtime"]
        sim += ["--churn", "5"]
        self._spawn("simulator", [*sim, "--port", str(self.sim_port), "--scale", str(self.scale)], "simulator.log")
        say(f"worker on pool {LOCAL_POOL}…")
        self._spawn("prefect worker", self._prefect("worker", "start", "--pool", LOCAL_POOL), "worker.log")
        time.sleep(1)
        if (dead := self.dead()) is not None:
            raise RuntimeError(f"{dead} did not start (see {self.home})")

    def dead(self) -> str | None:
        """The name of a part that has exited, if any."""
        for name, proc in self._children:
            if proc.poll() is not None:
                return f"{name} (exit code {proc.returncode})"
        return None

    def stop(self, say: Callable[[str], None] = lambda _: None) -> list[str]:
        """Cancel the pool's runs in progress, then stop the parts in reverse order — worker,
        simulator, server — each with SIGTERM, then SIGKILL after 20 s. Return the parts that had
        to be killed."""
        if self._children and self._children[0][1].poll() is None:  # the server can record the cancels
            try:
                cancel_runs(self.api_url, LOCAL_POOL, timeout=30, say=say)
            except httpx.HTTPError as exc:
                say(f"could not cancel the runs in progress: {exc}")
        killed = []
        for name, proc in reversed(self._children):
            if proc.poll() is None:
                proc.terminate()
                if not wait_or_kill(proc, timeout=20):
                    killed.append(name)
        self._children.clear()
        return killed


_ACTIVE = ["RUNNING", "PENDING", "CANCELLING"]
_FINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}


def cancel_runs(api_url: str, pool: str, *, timeout: float, say: Callable[[str], None]) -> list[str]:
    """Ask the server to cancel the flow runs of ``pool`` in progress (the worker then ends their
    processes and records them cancelled) and wait up to ``timeout`` seconds for them to end;
    ``say`` what it does. Return the names of those that ended."""

    def post(path: str, body: dict[str, Any]) -> Any:
        answer = httpx.post(f"{api_url}{path}", json=body, timeout=10)
        answer.raise_for_status()  # an HTTPStatusError is an httpx.HTTPError: stop() says it
        return answer.json()

    runs = post("/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": _ACTIVE}}},
                                      "work_pools": {"name": {"any_": [pool]}}})  # fmt: skip
    if not runs:
        return []
    names = ", ".join(run["name"] for run in runs)
    say(f"cancelling {len(runs)} run(s) in progress: {names} (up to {timeout:.0f} s; a rerun resumes them)…")
    state = {"type": "CANCELLING", "name": "Cancelling", "message": "gruponos service up was stopped"}
    for run in runs:
        if run["state_type"] != "CANCELLING":
            post(f"/flow_runs/{run['id']}/set_state", {"state": state, "force": True})
    deadline = time.monotonic() + timeout
    ids = {run["id"] for run in runs}
    while ids and time.monotonic() < deadline:
        time.sleep(0.5)
        left = post("/flow_runs/filter", {"flow_runs": {"id": {"any_": sorted(ids)}}})
        ids = {r["id"] for r in left if r["state_type"] not in _FINAL}
    ended = [run["name"] for run in runs if run["id"] not in ids]
    late = f"; not ended after {timeout:.0f} s: {len(ids)} (the worker stops anyway)" if ids else ""
    say(f"cancelled: {', '.join(ended) or 'none'}{late}")
    return ended


def wait_healthy(api_url: str, *, dead: Callable[[], str | None], timeout: float, log: Path) -> None:
    """Wait until the Prefect server at ``api_url`` answers ``/health``; raise ``RuntimeError`` when
    ``dead()`` names a part that has exited, or after ``timeout`` seconds (both name ``log``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (name := dead()) is not None:
            raise RuntimeError(f"{name} exited (see {log})")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server was not healthy after {timeout:.0f} s (see {log})")


def wait_or_kill(proc: subprocess.Popen[Any], *, timeout: float) -> bool:
    """Wait ``timeout`` seconds for a process asked to stop, then SIGKILL it; ``False`` if it was killed."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    return True


@app.command("up")
def up(
    port: Annotated[int, typer.Option(help="Prefect server port on 127.0.0.1.")] = 4200,
    sim_port: Annotated[int, typer.Option(help="Simulator port (the local environment's WMS).")] = 8765,
    scale: Annotated[int, typer.Option(min=1, help="Allocations in the simulated tenant.")] = 100_000,
    home: Annotated[str, typer.Option(help="PREFECT_HOME (SQLite database, logs).")] = "data/prefect",
) -> None:
    """Run the local service in the foreground: Prefect server, pool, deployments, worker, simulator.

    SQLite under ``--home`` by default; PostgreSQL when PREFECT_SERVER_DATABASE_CONNECTION_URL is
    set. Ctrl-C stops everything.
    """
    project = Path(__file__).resolve().parents[2]
    warehouse = Path(settings_module.load(env="local").warehouse.path).resolve()
    service = Service(
        project=project, port=port, sim_port=sim_port, scale=scale, home=Path(home).resolve(), warehouse=warehouse
    )
    stop = threading.Event()
    # Started in the background of a script (`gruponos service up &`), this process ignores
    # SIGINT, and the parts would inherit that: the worker stops by sending itself SIGINT, and
    # would never stop. With a handler here, they start with SIGINT's default.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # the terminal closed: the parts, in sessions of their own, get no SIGHUP; stop them here
    signal.signal(signal.SIGHUP, lambda *_: stop.set())
    try:
        service.start(say=err)
        # from here Ctrl-C only asks the loop below to end (a KeyboardInterrupt raised inside
        # Event.wait can leave its lock released twice: "RuntimeError: release unlocked lock")
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        console.print(
            f"[green]gruponos local service is up[/]: dashboard [bold]{service.ui_url}[/]\n"
            f"  run a sync:  PREFECT_API_URL={service.api_url} uv run prefect deployment run full-sync/local --watch\n"
            f"  warehouse:   {warehouse} (uv run gruponos status)\n"
            "  Ctrl-C stops the server, the worker and the simulator."
        )
        while not stop.wait(0.5):
            if (dead := service.dead()) is not None:
                fail(f"{dead} exited; stopping the service (logs in {service.home})")
                raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        fail(str(exc))
        raise typer.Exit(1) from None
    finally:
        err("stopping…")
        started = time.monotonic()
        killed = service.stop(say=err)
        took = time.monotonic() - started
        if killed:
            err(f"stopped in {took:.0f} s; killed after 20 s without stopping: {', '.join(killed)}")
        else:
            err(f"stopped: worker, simulator and server ended in {took:.0f} s")
