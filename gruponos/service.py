"""The local service: a Prefect server, the work pools, the deployments, a worker and the simulator.

    service = Service(project=Path("."), port=4200, sim_port=8765, scale=100_000, home=Path("data/prefect"))
    service.start(say=print)     # each part started and checked in turn
    ...
    service.stop()               # children stopped in reverse order (SIGTERM, then SIGKILL)

Child processes, not Prefect imports: the engine stays free of Prefect; this module only runs
its command line (``prefect server start``, ``prefect work-pool create``, ``prefect deploy``,
``prefect worker start``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from gruponos import settings as settings_module

__all__ = ["LOCAL_POOL", "Service"]

LOCAL_POOL = "gruponos-local"
_LOCAL_DEPLOYMENTS = ("full-sync", "incremental-sync", "master-data", "dbt-build", "health-check", "meltano-run")


class Service:
    """The parts of the local service, as child processes of this one."""

    def __init__(self, *, project: Path, port: int, sim_port: int, scale: int, home: Path) -> None:
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

    def _prefect(self, *args: str) -> list[str]:
        return [str(Path(sys.executable).parent / "prefect"), *args]

    def _spawn(self, name: str, cmd: list[str], log: str) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        out = (self.home / log).open("ab")
        proc = subprocess.Popen(cmd, cwd=self.project, env=self.env, stdout=out, stderr=subprocess.STDOUT)
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
        self._wait_healthy(timeout=180)
        say("work pool, deployments (local)…")
        pools = self._run("work-pool", "ls")
        if LOCAL_POOL not in pools:
            self._run("work-pool", "create", LOCAL_POOL, "--type", "process")
        names = [arg for d in _LOCAL_DEPLOYMENTS for arg in ("--name", f"{d}/local")]
        self._run("--no-prompt", "deploy", *names)
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

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (dead := self.dead()) is not None:
                raise RuntimeError(f"{dead} exited (see {self.home / 'server.log'})")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the Prefect server was not healthy after {timeout:.0f} s (see {self.home / 'server.log'})")

    def dead(self) -> str | None:
        """The name of a part that has exited, if any."""
        for name, proc in self._children:
            if proc.poll() is not None:
                return f"{name} (exit code {proc.returncode})"
        return None

    def stop(self) -> None:
        """Stop the parts in reverse order: SIGTERM, then SIGKILL after 20 s."""
        for _, proc in reversed(self._children):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self._children):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._children.clear()
