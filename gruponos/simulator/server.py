"""The simulator's HTTP side: the lgfapi v10 entity API, faults on demand, an admin door.

``/{environment}/wms/lgfapi/v10/entity/…`` behaves as shared/reference/wms-api.md describes
(GET and HEAD; ``Last-Modified`` on a retrieve, ``If-Modified-Since`` on a HEAD retrieve);
``/_sim/…`` (same credentials) moves the clock, sets faults and the workload, reports status.
Served over HTTPS when the simulator has a TLS context.
"""

from __future__ import annotations

import base64
import email.utils
import hmac
import itertools
import socket
import ssl
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from gruponos.simulator.answers import Reply, count, describe, error, paged, render, require_filters, sequenced
from gruponos.simulator.options import from_mapping
from gruponos.simulator.query import BadQuery, parse, parse_detail
from gruponos.simulator.schema import SCHEMA, Entity

if TYPE_CHECKING:
    from gruponos.simulator import Simulator

__all__ = ["Faults", "WmsServer", "describe"]


@dataclass(slots=True)
class Faults:
    """Faults to inject into list requests; counters make them deterministic."""

    rate_limit_every: int = 0  # every Nth list request answers 429 with Retry-After
    retry_after_s: int = 1
    error_every: int = 0  # every Nth list request starts a burst of errors…
    error_burst: int = 1  # …this many requests long
    error_status: int = 503
    latency_s: float = 0.0  # every list page answers after this delay
    timeout_above_page_size: int = 0  # pages larger than this hang for timeout_s
    timeout_s: float = 30.0
    truncate_every: int = 0  # every Nth list body is cut short (invalid JSON)
    shrink_page_count: bool = False  # paged mode: page 2 claims to be the last page
    phantom_page: bool = False  # paged mode: one page more than exists, answering 500

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        return from_mapping(cls, data, "fault")


class WmsServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server bound to the simulator; TLS when given a context."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, sim: Simulator, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.sim = sim
        self.tls = tls
        self.counter = itertools.count(1)
        self.requests = 0
        super().__init__((host, port), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        if self.tls is not None:  # the handshake runs in the handler's thread, not the accept loop
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops the connection (or refuses our certificate) is not our error."""
        kind = sys.exc_info()[0]
        if kind is not None and issubclass(kind, ConnectionError | ssl.SSLError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: WmsServer

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header tells the tenant's clock, as a real WMS tells its own."""
        return email.utils.format_datetime(self.server.sim.tenant.now, usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sim.verbose:
            super().log_message(format, *args)

    # --- plumbing ---------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            self._authorise()
            parts = urlsplit(self.path)
            params = dict(parse_qsl(parts.query, keep_blank_values=True))  # last value wins
            segments = [s for s in parts.path.split("/") if s]
            if segments[:1] == ["_sim"]:
                self._admin(method, segments[1:], params)
                return
            if method == "POST":
                raise error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here")
            env = self.server.sim.environment
            prefix = [env, "wms", "lgfapi", "v10", "entity"]
            if segments[: len(prefix)] != prefix:
                raise error(404, "NOT_FOUND", f"no such resource: {parts.path}")
            rest = segments[len(prefix) :]
            if not rest:
                base = self.server.sim.base_url
                self._send(200, orjson.dumps({name: f"{base}entity/{name}/" for name in sorted(SCHEMA)}))
                return
            spec = SCHEMA.get(rest[0])
            if spec is None:
                raise error(404, "NOT_FOUND", f"unknown entity {rest[0]!r}")
            if len(rest) == 1:
                self._list(spec, params, head=method == "HEAD")
            elif rest[1] == "describe" and len(rest) == 2:
                self._send(200, orjson.dumps(describe(spec)))
            elif len(rest) == 2 and rest[1].isdigit():
                self._detail(spec, int(rest[1]), params, head=method == "HEAD")
            else:
                raise error(404, "NOT_FOUND", f"no such resource: {parts.path}")
        except Reply as reply:
            self._send(reply.status, orjson.dumps(reply.body), headers=reply.headers)
        except BadQuery as exc:
            self._send(400, orjson.dumps(error(400, "VALIDATION_ERROR", str(exc)).body))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as exc:  # a simulator bug still answers, as a real server's 500 does
            traceback.print_exc(file=sys.stderr)
            body = error(500, "SERVER_ERROR", f"simulator error: {type(exc).__name__}: {exc}").body
            self._send(500, orjson.dumps(body))

    def _authorise(self) -> None:
        """Basic or Bearer; credentials are compared as bytes, whatever their characters."""
        sim = self.server.sim
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        ok = False
        if scheme.lower() == "basic":
            try:
                raw = base64.b64decode(value.strip(), validate=True)
            except ValueError:
                raw = b""
            user, sep, secret = raw.partition(b":")
            ok = (
                bool(sep)
                & hmac.compare_digest(user, sim.username.encode())
                & hmac.compare_digest(secret, sim.password.encode())
            )
        elif scheme.lower() == "bearer" and sim.token:
            # http.server decodes header bytes as latin-1: encode them back to compare the bytes sent
            ok = hmac.compare_digest(value.strip().encode("latin-1", "replace"), sim.token.encode())
        if not ok:
            reply = error(401, "AUTHENTICATION_FAILED", "Invalid username/password or token.")
            reply.headers["WWW-Authenticate"] = 'Basic realm="lgfapi"'
            raise reply

    def _send(self, status: int, *body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(sum(len(b) for b in body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        for b in body:
            self.wfile.write(b)

    # --- the entity API ---------------------------------------------------------------

    def _faults(self, params: dict[str, str]) -> bool:
        """Apply request-level faults; True when the body must be truncated."""
        f = self.server.sim.faults
        n = next(self.server.counter)
        self.server.requests = n
        if f.rate_limit_every and n % f.rate_limit_every == 0:
            reply = error(429, "TOO_MANY_REQUESTS", "Request rate limit exceeded.")
            reply.headers["Retry-After"] = str(f.retry_after_s)
            raise reply
        if f.error_every and n >= f.error_every and n % f.error_every < f.error_burst:
            raise error(f.error_status, "SERVER_ERROR", "Internal server error.")
        if f.latency_s:
            time.sleep(f.latency_s)
        size = int(params.get("page_size", "100") or 100) if params.get("page_size", "").isdigit() else 100
        if f.timeout_above_page_size and size > f.timeout_above_page_size:
            time.sleep(f.timeout_s)
        return bool(f.truncate_every and n % f.truncate_every == 0)

    def _list(self, spec: Entity, params: dict[str, str], *, head: bool) -> None:
        sim = self.server.sim
        if head:
            if "If-Modified-Since" in self.headers:
                raise BadQuery("If-Modified-Since is allowed only when retrieving one record by id")
            q = parse(spec, params, tz=sim.tz)
            require_filters(q)
            if count(sim, q) == 0:
                raise error(404, "NOT_FOUND", "No records found matching the given criteria.")
            self._send(200)
            return
        truncate = self._faults(params)
        q = parse(spec, params, tz=sim.tz)
        require_filters(q)
        envelope = paged(sim, q, params) if q.page_mode == "paged" else sequenced(sim, q, params)
        ids, body = envelope.pop("_ids"), envelope.pop("_body", None)
        results = body if ids is None else render(sim, q, ids)
        head_bytes = orjson.dumps(envelope)[:-1]  # open the object, then splice the results in
        parts = [head_bytes + (b"," if len(head_bytes) > 1 else b"") + b'"results":[', results, b"]}"]
        if truncate:
            whole = b"".join(parts)
            parts = [whole[: max(1, len(whole) // 2)]]
        self._send(200, *parts)

    def _detail(self, spec: Entity, record_id: int, params: dict[str, str], *, head: bool) -> None:
        sim = self.server.sim
        q = parse_detail(spec, params, tz=sim.tz)
        modified: datetime | None = None
        if spec.tracked:
            row = sim.tenant.cursor().execute(f"select mod_ts from {spec.name} where id = ?", [record_id]).fetchone()
            if row is None:
                raise error(404, "NOT_FOUND", f"{spec.name} {record_id} does not exist")
            modified = row[0].replace(tzinfo=UTC) if row[0] is not None else None
        # Documented: ISO-8601 in the user's time zone (not an HTTP date).
        headers = {"Last-Modified": modified.astimezone(timezone(sim.tz)).isoformat()} if modified else {}
        if head:
            exists = (
                spec.tracked
                or sim.tenant.cursor().execute(f"select 1 from {spec.name} where id = ?", [record_id]).fetchone()
            )
            if not exists:
                raise error(404, "NOT_FOUND", f"{spec.name} {record_id} does not exist")
            since = self.headers.get("If-Modified-Since")
            if since is not None and modified is not None and modified <= _since(since, sim):
                self._send(304, headers=headers)
                return
            self._send(200, headers=headers)
            return
        doc = render(sim, q, [record_id])
        if not doc:
            raise error(404, "NOT_FOUND", f"{spec.name} {record_id} does not exist")
        self._send(200, doc, headers=headers)

    # --- admin ------------------------------------------------------------------------

    def _admin(self, method: str, path: list[str], params: dict[str, str]) -> None:
        sim = self.server.sim
        action = path[0] if path else "status"
        if action == "status" and method == "GET":
            self._send(200, orjson.dumps(sim.status() | {"requests": self.server.requests}))
        elif action == "advance" and method == "POST":
            try:
                kwargs = {k: float(v) for k, v in params.items() if k in ("minutes", "modify", "insert", "delete")}
                changes = sim.advance(**kwargs)
            except ValueError as exc:
                raise error(400, "VALIDATION_ERROR", str(exc)) from None
            body = {
                "now": changes.now.isoformat(),
                "modified": {k: len(v) for k, v in changes.modified.items()},
                "inserted": {k: len(v) for k, v in changes.inserted.items()},
                "deleted": {k: len(v) for k, v in changes.deleted.items()},
                "late": {k: len(v) for k, v in changes.late.items()},
            }
            self._send(200, orjson.dumps(body))
        elif action == "faults" and method == "POST":
            body = self._admin_body()
            try:
                sim.set_faults(Faults.from_dict(body))
            except (ValueError, TypeError) as exc:
                raise error(400, "VALIDATION_ERROR", str(exc)) from None
            self._send(200, orjson.dumps(asdict(sim.faults)))
        elif action == "workload" and method == "POST":
            body = self._admin_body()
            try:
                sim.set_workload(sim.workload.from_dict(sim.workload.as_dict() | body))
            except (ValueError, TypeError) as exc:
                raise error(400, "VALIDATION_ERROR", str(exc)) from None
            self._send(200, orjson.dumps(sim.workload.as_dict()))
        else:
            raise error(404, "NOT_FOUND", f"no admin action {method} {action}")

    def _admin_body(self) -> dict[str, Any]:
        """The JSON object a POST to the admin door carries."""
        raw = self.headers.get("Content-Length") or "0"
        try:
            length = int(raw)
            if length < 0:
                raise ValueError(raw)
        except ValueError:
            raise error(400, "VALIDATION_ERROR", f"Content-Length must be a byte count, got {raw!r}") from None
        try:
            body = orjson.loads(self.rfile.read(length) or b"{}")
        except orjson.JSONDecodeError as exc:
            raise error(400, "VALIDATION_ERROR", f"the body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise error(400, "VALIDATION_ERROR", "the body must be a JSON object")
        return body


def _since(value: str, sim: Simulator) -> datetime:
    """An ``If-Modified-Since`` value: ISO-8601 as the docs say (naive = facility time), or an HTTP date."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise BadQuery(f"If-Modified-Since must be an ISO-8601 date-time, got {value!r}") from None
    if moment.tzinfo is None:
        return (moment - sim.tz).replace(tzinfo=UTC)
    return moment.astimezone(UTC)
