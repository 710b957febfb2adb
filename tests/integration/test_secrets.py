"""Canary secrets never leave the process: a WMS password, a bearer token, a PostgreSQL DSN
password and a webhook URL token — each carrying the marker ``c4n4ry`` — are planted in the
settings of real runs (`gruponos sync` in a child process, in-process and through the Prefect
flows; the simulator over loopback; this machine's PostgreSQL through a role of their own), and
every place a run writes is searched for them:

stdout, stderr, the log file, the landing and result files (read back: Parquet decoded, Prefect
result records unwrapped), the Prefect server through its API (flow and task runs with every
state, logs, events, artifacts), the webhook's body, the warehouse's run log.

Runs: a successful sync; an authentication failure (wrong password, wrong bearer token; and a
gateway that quotes the ``Authorization`` header it refused); a DSN libpq cannot read as written
(one short error, no traceback); a process killed in the middle of a MERGE. Each through the CLI's
engine, the CLI through the Prefect flows, or a flow called ad hoc (``run``'s ``through``).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyarrow.parquet as pq
import pytest

from gruponos.simulator import Simulator
from gruponos.warehouse.postgres import PostgresWarehouse
from tests.integration._warehouse import PG_DSN, needs_pg
from tests.integration.test_flows import Receiver
from tests.prefect_server import base_env

MARK = "c4n4ry"  # in every canary, and nowhere else: a name, a path or a test id never spells it
USERNAME = "gruponos"
WMS_PASSWORD = f"wmsPW-{MARK}-7f3a9c21"
WRONG_PASSWORD = f"wrongPW-{MARK}-0e4d2a17"
TOKEN = f"bearer-{MARK}-5b8e0d44"
WRONG_TOKEN = f"badBearer-{MARK}-8c1f3b62"
PG_PASSWORD = f"pgPW-{MARK}-1d6f7e90"
HOOK_TOKEN = f"T0KEN-{MARK}-9a2b4c6d"
CANARIES = (WMS_PASSWORD, WRONG_PASSWORD, TOKEN, WRONG_TOKEN, PG_PASSWORD, HOOK_TOKEN)
BAD_DSNS = {  # DSNs libpq cannot read as written, their password a canary; {role} filled in per run
    "space": f"postgresql://{{role}}:pg pw-{MARK}-sp4ce@127.0.0.1:5432/test",
    "ipv6": f"postgresql://{{role}}:pgpw-{MARK}-v6@[::1:5432/test",
    "percent": f"postgresql://{{role}}:pgpw%E9-{MARK}-pct@127.0.0.1:5432/test",  # not UTF-8 once decoded
    "at-sign": f"postgresql://{{role}}:pg@pw-{MARK}-at@127.0.0.1:5432/test",  # the rest read as the host
}
BAD_DSN_ERROR = "GRUPONOS_WAREHOUSE__DSN is not a connection string"
CLI = [sys.executable, "-m", "gruponos.cli", "sync"]
MAX_ERROR_LINES = 15


pytestmark = needs_pg


# --- what a leak looks like -------------------------------------------------------------------


def _base64_needles(secret: bytes) -> set[bytes]:
    """``secret`` as it reads inside any base64 text, whatever its offset (the edges dropped)."""
    needles = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + secret)
        start = 4 if pad else 0  # the first group mixes in the bytes before the secret
        needles.add(encoded[start : len(encoded) - 4])
    return needles


NEEDLES: tuple[bytes, ...] = (
    MARK.encode(),
    MARK.upper().encode(),
    *sorted({n for c in CANARIES for n in _base64_needles(c.encode())}),
    *sorted(_base64_needles(f"{USERNAME}:{WMS_PASSWORD}".encode())),
    *sorted(_base64_needles(f"{USERNAME}:{WRONG_PASSWORD}".encode())),
)


def leaks(where: str, data: str | bytes) -> list[str]:
    """Each canary spelling found in ``data``, with a little context."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    found = []
    for needle in NEEDLES:
        at = raw.find(needle)
        if at >= 0:
            found.append(f"{where}: …{raw[max(0, at - 80) : at + 80]!r}…")
    return found


def file_texts(root: Path) -> Iterator[tuple[Path, bytes]]:
    """Every file under ``root`` as bytes, plus what it holds decoded (Parquet values, result payloads)."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        yield path, raw
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            yield path, (str(table.schema.metadata) + str(table.to_pylist())).encode("utf-8", "surrogateescape")
        elif raw[:1] == b"{":
            yield from _result_payload(path, raw)


def _result_payload(path: Path, raw: bytes) -> Iterator[tuple[Path, bytes]]:
    """A Prefect result record is JSON whose ``result`` is the base64 of the serialized value."""
    try:
        record = json.loads(raw)
    except ValueError:
        return
    payload = record.get("result") if isinstance(record, dict) else None
    if isinstance(payload, str):
        try:
            yield path, base64.b64decode(payload, validate=True)
        except ValueError:
            return


# --- the Prefect server, through its API ------------------------------------------------------


@dataclass
class Server:
    """What the Prefect server holds about the runs created since a moment, as its API returns it."""

    flow_runs: list[dict[str, Any]] = field(default_factory=list)
    task_runs: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)

    def surfaces(self) -> Iterator[tuple[str, Any]]:
        for name in ("flow_runs", "task_runs", "states", "logs", "events", "artifacts"):
            for item in getattr(self, name):
                yield name, item

    def text(self, name: str) -> str:
        return json.dumps(getattr(self, name))


def read_server(api: str, since: datetime) -> Server:
    """Flow runs created since ``since``, their task runs, every state of both, their artifacts,
    and every log and event since ``since``."""
    seen = Server()
    with httpx.Client(base_url=api + "/", timeout=30) as http:
        runs = _pages(http, "flow_runs/filter", {"sort": "EXPECTED_START_TIME_DESC"})
        seen.flow_runs = [r for r in runs if datetime.fromisoformat(r["created"]) >= since]
        ids = [r["id"] for r in seen.flow_runs]
        if ids:
            seen.task_runs = _pages(http, "task_runs/filter", {"flow_runs": {"id": {"any_": ids}}})
            seen.artifacts = _pages(http, "artifacts/filter", {"artifacts": {"flow_run_id": {"any_": ids}}})
        for run in seen.flow_runs:
            seen.states += http.get("flow_run_states/", params={"flow_run_id": run["id"]}).json()
        for run in seen.task_runs:
            seen.states += http.get("task_run_states/", params={"task_run_id": run["id"]}).json()
        seen.logs = _pages(http, "logs/filter", {"logs": {"timestamp": {"after_": since.isoformat()}}})
        answer = http.post(
            "events/filter", json={"filter": {"occurred": {"since": since.isoformat()}}, "limit": 50}
        ).json()
        seen.events = list(answer["events"])
        while answer.get("next_page"):
            answer = http.get(answer["next_page"]).json()
            seen.events += answer["events"]
    return seen


def _pages(http: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = http.post(path, json={**body, "limit": 200, "offset": len(out)})
        page.raise_for_status()
        items = page.json()
        out += items
        if len(items) < 200:
            return out


def settle(api: str, since: datetime, ready: Callable[[Server], bool], timeout: float = 45) -> Server:
    """The server's view once ``ready`` holds (logs, events and task runs arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = read_server(api, since)
        if ready(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(1.0)


def events_of(seen: Server, run_id: str) -> list[dict[str, Any]]:
    return [e for e in seen.events if e["resource"].get("prefect.resource.id") == f"prefect.flow-run.{run_id}"]


# --- fixtures: a tenant, a PostgreSQL role with a canary password, a webhook ------------------


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator(scale=400, seed=13, username=USERNAME, password=WMS_PASSWORD, token=TOKEN) as s:
        yield s


@pytest.fixture(scope="module")
def role() -> Iterator[str]:
    """A login role whose password is a canary (the server trusts 127.0.0.1: any password logs in)."""
    name = f"gruponos_t_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{PG_PASSWORD}'")
        conn.execute(f"GRANT CREATE ON DATABASE {conn.info.dbname} TO {name}")
    yield name
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {name} CASCADE")
        conn.execute(f"DROP ROLE {name}")


@pytest.fixture
def hook() -> Iterator[Receiver]:
    r = Receiver()
    r.url = r.url.rsplit("/", 1)[0] + "/" + HOOK_TOKEN
    yield r
    r.close()


@dataclass
class Case:
    """One run's settings (as ``GRUPONOS_*`` variables) and where it writes."""

    data: Path
    env: dict[str, str]
    schema: str
    since: datetime

    @property
    def log(self) -> Path:
        return self.data / "logs" / "gruponos.log"


@dataclass
class Ran:
    """What a run showed: its terminal output, the error a person reads (the CLI's stderr, or the
    flow run's state message) and how it ended (exit code; 1 for a failed flow run)."""

    stdout: str
    stderr: str
    error: str
    code: int


@pytest.fixture
def case(simulator: Simulator, role: str, hook: Receiver, tmp_path: Path, prefect_api: str) -> Iterator[Case]:
    data = tmp_path / "data"
    schema = f"s_{uuid.uuid4().hex[:10]}"
    env = base_env(tmp_path / "prefect-home", prefect_api)
    env |= {
        "COLUMNS": "200",
        "GRUPONOS_ENV": "local",
        "GRUPONOS_WMS__BASE_URL": simulator.base_url,
        "GRUPONOS_WMS__USERNAME": USERNAME,
        "GRUPONOS_WMS__PASSWORD": WMS_PASSWORD,
        "GRUPONOS_WMS__PAGE_SIZE": "100",
        "GRUPONOS_WMS__MAX_RETRIES": "0",
        "GRUPONOS_WAREHOUSE__KIND": "postgres",
        "GRUPONOS_WAREHOUSE__DSN": f"postgresql://{role}:{PG_PASSWORD}@127.0.0.1:5432/test",
        "GRUPONOS_WAREHOUSE__SCHEMA": schema,
        "GRUPONOS_WAREHOUSE__MERGE_BATCH_ROWS": "100",
        "GRUPONOS_QUALITY__BATCH_ROWS": "100",
        "GRUPONOS_FLOWS__LANDING_PATH": str(data / "landing"),
        "GRUPONOS_FLOWS__RESULTS_PATH": str(data / "results"),
        "GRUPONOS_FLOWS__TASK_RETRIES": "0",
        "GRUPONOS_FLOWS__WEBHOOK_URL": hook.url,
    }
    yield Case(data, env, schema, datetime.now(UTC))
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


Run = Callable[..., Ran]


@pytest.fixture
def run(case: Case, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """``run(through, **variables)``: a full sync of allocation with the case's settings (and
    ``variables`` over them) — `gruponos sync` in a child process, its engine in-process
    (``engine``) or through the flows on the test's Prefect server (``prefect``); or the
    ``full-sync`` flow called ad hoc in this process (``flow``), its output captured at the fds."""

    def go(through: str, **variables: str) -> Ran:
        settings = case.env | variables
        if through == "flow":
            from flows import full_sync

            for name in [k for k in os.environ if k.startswith("GRUPONOS_")]:
                monkeypatch.delenv(name)
            for name, value in settings.items():
                if name.startswith("GRUPONOS_"):
                    monkeypatch.setenv(name, value)
            capfd.readouterr()
            state = full_sync(env="local", entities=["allocation"], run_dbt=False, return_state=True)
            out, err = capfd.readouterr()
            return Ran(out, err, state.message or "", 1 if state.is_failed() else 0)
        args = [*CLI, "full", "--entity", "allocation"]
        if through == "engine":
            settings.pop("PREFECT_API_URL")
        else:
            args.append("--prefect")
        done = subprocess.run(args, env=settings, capture_output=True, text=True, timeout=300)
        return Ran(done.stdout, done.stderr, done.stderr, done.returncode)

    return go


def assert_no_canary(case: Case, ran: Ran, hook: Receiver) -> list[Path]:
    """No canary on the terminal, in the files, the warehouse's run log or the webhook's bodies;
    the files read."""
    found = leaks("stdout", ran.stdout) + leaks("stderr", ran.stderr) + leaks("error", ran.error)
    files = []
    for path, data in file_texts(case.data):
        files.append(path)
        found += leaks(str(path.relative_to(case.data)), data)
    found += leaks("warehouse run log", repr(run_log(case)))
    found += leaks("webhook", json.dumps(hook.received))
    assert not found, "\n".join(found)
    return files


def assert_server_clean(seen: Server) -> None:
    found = [f for name, item in seen.surfaces() for f in leaks(name, json.dumps(item))]
    assert not found, "\n".join(found)


def run_log(case: Case) -> list[tuple[str, str | None]]:
    """The warehouse's run log (status, error) of the case's schema."""
    with psycopg.connect(PG_DSN) as conn:
        found = conn.execute("SELECT to_regclass(%s)", (f'"{case.schema}"._sync_runs',)).fetchone()
        if not found or found[0] is None:
            return []
        return [(r[0], r[1]) for r in conn.execute(f'SELECT status, error FROM "{case.schema}"._sync_runs')]


def _final(seen: Server, state: str) -> bool:
    """A flow run ended in ``state`` and the server holds the event that says so."""
    return any(
        r["state_type"] == state.upper()
        and any(e["event"] == f"prefect.flow-run.{state}" for e in events_of(seen, r["id"]))
        for r in seen.flow_runs
    )


def _failed(seen: Server, hook: Receiver, text: str) -> bool:
    return _final(seen, "Failed") and _logged(seen, text) and len(hook.received) == 1


def _logged(seen: Server, text: str) -> bool:
    return any(text in log["message"] for log in seen.logs)


def _assert_failure_seen(seen: Server, hook: Receiver, text: str) -> None:
    """The failure (``text``) reached every surface searched: the search reads real content."""
    assert _final(seen, "Failed"), seen.flow_runs
    for name in ("flow_runs", "states", "events"):
        assert text in seen.text(name), name
    assert _logged(seen, text), [log["message"] for log in seen.logs]
    assert len(hook.received) == 1 and text in hook.received[0]["message"], hook.received


def _assert_task_inputs_are_references(seen: Server) -> None:
    """For a task's inputs the server keeps references to upstream task runs, never values
    (``cfg``, the settings, is an input of every task)."""
    assert seen.task_runs
    for task_run in seen.task_runs:
        assert "cfg" in task_run["task_inputs"], task_run["name"]
        for name, inputs in task_run["task_inputs"].items():
            assert all(set(ref) == {"input_type", "id"} for ref in inputs), (task_run["name"], name, inputs)


# --- the runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("through", ["engine", "prefect"])
def test_a_successful_sync_writes_no_secret_anywhere(
    case: Case,
    hook: Receiver,
    simulator: Simulator,
    prefect_api: str,
    through: str,
    run: Run,
) -> None:
    ran = run(through)

    assert ran.code == 0, ran.stderr
    rows = simulator.tenant.count("allocation")
    assert any(line.split()[:2] == ["allocation", f"{rows:,}"] for line in ran.stdout.splitlines()), ran.stdout
    files = assert_no_canary(case, ran, hook)
    assert case.log in files and hook.received == []
    assert [status for status, _ in run_log(case)] == ["ok"]
    if through == "prefect":
        assert any(p.is_relative_to(case.data / "results") for p in files), "no result file was read"
        seen = settle(prefect_api, case.since, lambda s: _final(s, "Completed") and _logged(s, "allocation"))
        assert _final(seen, "Completed"), seen.flow_runs
        assert f"| allocation | ok | {rows:,} |" in seen.text("artifacts")
        assert_server_clean(seen)
        _assert_task_inputs_are_references(seen)


WRONG_PASSWORD_ENV = {"GRUPONOS_WMS__PASSWORD": WRONG_PASSWORD}
WRONG_TOKEN_ENV = {"GRUPONOS_WMS__AUTH": "bearer", "GRUPONOS_WMS__TOKEN": WRONG_TOKEN}


@pytest.mark.parametrize(
    ("credentials", "through"),
    [
        pytest.param(WRONG_PASSWORD_ENV, "engine", id="wrong-password-engine"),
        pytest.param(WRONG_PASSWORD_ENV, "flow", id="wrong-password-flow"),
        pytest.param(WRONG_TOKEN_ENV, "engine", id="wrong-token-engine"),
        pytest.param(WRONG_TOKEN_ENV, "prefect", id="wrong-token-prefect"),
    ],
)
def test_an_authentication_failure_writes_no_secret_anywhere(
    case: Case,
    hook: Receiver,
    prefect_api: str,
    credentials: dict[str, str],
    through: str,
    run: Run,
) -> None:
    ran = run(through, **credentials)

    assert ran.code == 1
    assert_no_canary(case, ran, hook)
    assert "401" in ran.error and "AUTHENTICATION_FAILED" in ran.error, ran.error
    assert len(ran.error.splitlines()) <= MAX_ERROR_LINES, ran.error
    if through != "engine":
        seen = settle(prefect_api, case.since, lambda s: _failed(s, hook, "AUTHENTICATION_FAILED"))
        _assert_failure_seen(seen, hook, "AUTHENTICATION_FAILED")
        assert_server_clean(seen)


@pytest.fixture
def gateway() -> Iterator[str]:
    """The base URL of an API gateway on loopback that refuses every request with 401 and, as some
    do, quotes the ``Authorization`` header it was sent in its (JSON) error body."""

    class Handler(BaseHTTPRequestHandler):
        error_content_type = "application/json"
        error_message_format = '{"code": "AUTHENTICATION_FAILED", "message": "credentials refused (%(explain)s)"}'

        def do_GET(self) -> None:
            self.send_error(401, explain=f"Authorization: {self.headers.get('Authorization', '')}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/local/wms/lgfapi/v10/"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("credentials", [WRONG_PASSWORD_ENV, WRONG_TOKEN_ENV], ids=["password", "token"])
def test_a_gateway_quoting_the_credentials_in_its_refusal_leaks_none_of_them(
    case: Case, hook: Receiver, prefect_api: str, gateway: str, credentials: dict[str, str], run: Run
) -> None:
    ran = run("flow", GRUPONOS_WMS__BASE_URL=gateway, **credentials)

    assert ran.code == 1
    assert_no_canary(case, ran, hook)
    scheme = "Bearer" if credentials.get("GRUPONOS_WMS__AUTH") == "bearer" else "Basic"
    assert f"credentials refused (Authorization: {scheme} ***)" in ran.error, ran.error  # quoted, masked
    seen = settle(prefect_api, case.since, lambda s: _failed(s, hook, "credentials refused"))
    _assert_failure_seen(seen, hook, "credentials refused")
    assert_server_clean(seen)


DSN_CASES = [
    pytest.param(name, through, id=f"{name}-{through}")
    for name in BAD_DSNS
    for through in ("engine", "flow", *(("prefect",) if name == "space" else ()))
]


@pytest.mark.parametrize(("dsn", "through"), DSN_CASES)
def test_a_dsn_libpq_cannot_read_as_written_is_one_short_error_without_the_dsn(
    case: Case,
    hook: Receiver,
    role: str,
    prefect_api: str,
    dsn: str,
    through: str,
    run: Run,
) -> None:
    ran = run(through, GRUPONOS_WAREHOUSE__DSN=BAD_DSNS[dsn].format(role=role))

    assert ran.code == 1
    assert_no_canary(case, ran, hook)
    assert BAD_DSN_ERROR in ran.error, ran.error
    assert "Traceback" not in ran.error and len(ran.error.splitlines()) <= MAX_ERROR_LINES, ran.error
    if through != "engine":
        seen = settle(prefect_api, case.since, lambda s: _failed(s, hook, BAD_DSN_ERROR))
        _assert_failure_seen(seen, hook, BAD_DSN_ERROR)
        assert_server_clean(seen)


@pytest.mark.parametrize("password", ["pw#x", "pw?x", "pw:x", "p%40ss%2Fw0rd%20x"])
def test_a_password_libpq_reads_as_written_still_connects(role: str, password: str) -> None:
    """'#', '?' and ':' need no escape in libpq's URI password; '@', '/' and ' ' percent-encoded pass."""
    schema = f"s_{uuid.uuid4().hex[:10]}"
    try:
        PostgresWarehouse(dsn=f"postgresql://{role}:{password}@127.0.0.1:5432/test", schema=schema).close()
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.parametrize("through", ["engine", "prefect"])
def test_a_process_killed_mid_merge_leaves_no_secret_behind(
    case: Case,
    hook: Receiver,
    prefect_api: str,
    through: str,
    run: Run,
) -> None:
    ran = run(through, GRUPONOS_TEST_CRASH_AT="during_merge:2")

    assert ran.code == 86, ran.stderr  # the process died there
    files = assert_no_canary(case, ran, hook)
    assert [status for status, _ in run_log(case)] == ["running"]  # inside the load
    if through == "prefect":
        assert any(p.suffix == ".parquet" for p in files), "the dead run's landing was not read"
        seen = settle(prefect_api, case.since, _running_load)
        assert _running_load(seen), seen.task_runs
        assert_server_clean(seen)


def _running_load(seen: Server) -> bool:
    return any(t["name"] == "load allocation" and t["state_type"] == "RUNNING" for t in seen.task_runs)
