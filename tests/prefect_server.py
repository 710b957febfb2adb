"""A real Prefect server for tests: ``prefect server start`` backed by the machine's PostgreSQL
(a database of its own, dropped afterwards), or SQLite when PostgreSQL is not there."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from gruponos.cli.service import wait_healthy, wait_or_kill

PG_ADMIN = os.environ.get("GRUPONOS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
PREFECT = str(Path(sys.executable).parent / "prefect")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def base_env(home: Path, api_url: str) -> dict[str, str]:
    """The environment every Prefect process of the test shares."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GRUPONOS_"))}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "gruponos",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
    }
    return env


@contextmanager
def prefect_server(home: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Start a server; yield its API URL and the environment to reach it; stop it, drop its database."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = base_env(home, api_url)
    database = None
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            database = f"prefect_{uuid.uuid4().hex[:10]}"
            conn.execute(f'CREATE DATABASE "{database}"')
        info = psycopg.conninfo.conninfo_to_dict(PG_ADMIN)
        host, pg_port, user = info.get("host", "127.0.0.1"), info.get("port", "5432"), info.get("user", "postgres")
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = f"postgresql+asyncpg://{user}@{host}:{pg_port}/{database}"
    except psycopg.Error:
        database = None  # SQLite under PREFECT_HOME
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "server.log").open("ab")
    cmd = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_healthy(api_url, dead=lambda: _exited(server), timeout=180, log=home / "server.log")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {(home / 'server.log').read_text()[-3000:]}") from None
        yield api_url, env
    finally:
        server.terminate()
        wait_or_kill(server, timeout=30)
        log.close()
        if database is not None:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _exited(proc: subprocess.Popen[bytes]) -> str | None:
    return None if proc.poll() is None else f"prefect server (exit code {proc.returncode})"


def prefect(
    env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the prefect CLI against the test server."""
    return subprocess.run([PREFECT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
