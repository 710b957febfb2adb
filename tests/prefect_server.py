"""A real Prefect server for tests: ``prefect server start`` backed by the machine's PostgreSQL
(a database of its own, dropped afterwards), or SQLite when PostgreSQL is not there."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

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
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"prefect server exited: {(home / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{api_url}/health", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prefect server not healthy after 180 s")
            time.sleep(0.5)
        yield api_url, env
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        if database is not None:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def prefect(
    env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the prefect CLI against the test server."""
    return subprocess.run([PREFECT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
