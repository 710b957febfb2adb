"""The simulator's HTTP side: the lgfapi v10 entity API, faults on demand, an admin door.

``/{environment}/wms/lgfapi/v10/entity/…`` behaves as shared/reference/wms-api.md describes;
``/_sim/…`` (same credentials) moves the clock, sets faults and reports status.
"""

from __future__ import annotations

import base64
import email.utils
import hmac
import itertools
import math
import time
import uuid
from bisect import bisect_left, bisect_right
from dataclasses import asdict, dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson

from gruponos.simulator.documents import record_sql
from gruponos.simulator.legacy_catalog import CATALOG, EntitySpec, Kind
from gruponos.simulator.query import BadQuery, Query, decode_cursor, encode_cursor, parse

if TYPE_CHECKING:
    from gruponos.simulator import Simulator

__all__ = ["Faults", "WmsServer"]


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
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        return cls(**data)


class _Reply(Exception):
    """Stop handling and answer with this status and body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _error(status: int, code: str, message: str, **details: Any) -> _Reply:
    body = {"reference": str(uuid.uuid4()), "code": code, "message": message, "details": details}
    return _Reply(status, body)


class WmsServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server bound to the simulator."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, sim: Simulator, host: str, port: int) -> None:
        self.sim = sim
        self.counter = itertools.count(1)
        self.requests = 0
        super().__init__((host, port), _Handler)


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
            if method != "GET":
                raise _error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here")
            env = self.server.sim.environment
            prefix = [env, "wms", "lgfapi", "v10", "entity"]
            if segments[: len(prefix)] != prefix:
                raise _error(404, "NOT_FOUND", f"no such resource: {parts.path}")
            rest = segments[len(prefix) :]
            if not rest:
                base = self.server.sim.base_url
                self._send(200, orjson.dumps({name: f"{base}entity/{name}/" for name in CATALOG}))
                return
            spec = CATALOG.get(rest[0])
            if spec is None:
                raise _error(404, "NOT_FOUND", f"unknown entity {rest[0]!r}")
            if len(rest) == 1:
                self._list(spec, params)
            elif rest[1] == "describe" and len(rest) == 2:
                self._send(200, orjson.dumps(_describe(spec)))
            elif len(rest) == 2 and rest[1].isdigit():
                self._detail(spec, int(rest[1]), params)
            else:
                raise _error(404, "NOT_FOUND", f"no such resource: {parts.path}")
        except _Reply as reply:
            self._send(reply.status, orjson.dumps(reply.body), headers=reply.headers)
        except BadQuery as exc:
            self._send(400, orjson.dumps(_error(400, "VALIDATION_ERROR", str(exc)).body))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _authorise(self) -> None:
        sim = self.server.sim
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        ok = False
        if scheme.lower() == "basic":
            try:
                user, _, pw = base64.b64decode(value).decode().partition(":")
            except ValueError:
                user, pw = "", ""
            ok = hmac.compare_digest(user, sim.username) and hmac.compare_digest(pw, sim.password)
        elif scheme.lower() == "bearer" and sim.token:
            ok = hmac.compare_digest(value, sim.token)
        if not ok:
            reply = _error(401, "AUTHENTICATION_FAILED", "Invalid username/password or token.")
            reply.headers["WWW-Authenticate"] = 'Basic realm="lgfapi"'
            raise reply

    def _send(self, status: int, *body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(sum(len(b) for b in body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        for b in body:
            self.wfile.write(b)

    # --- the entity API ---------------------------------------------------------------

    def _faults(self, params: dict[str, str]) -> bool:
        """Apply request-level faults; True when the body must be truncated."""
        f = self.server.sim.faults
        n = next(self.server.counter)
        self.server.requests = n
        if f.rate_limit_every and n % f.rate_limit_every == 0:
            reply = _error(429, "TOO_MANY_REQUESTS", "Request rate limit exceeded.")
            reply.headers["Retry-After"] = str(f.retry_after_s)
            raise reply
        if f.error_every and n >= f.error_every and n % f.error_every < f.error_burst:
            raise _error(f.error_status, "SERVER_ERROR", "Internal server error.")
        if f.latency_s:
            time.sleep(f.latency_s)
        size = int(params.get("page_size", "100") or 100)
        if f.timeout_above_page_size and size > f.timeout_above_page_size:
            time.sleep(f.timeout_s)
        return bool(f.truncate_every and n % f.truncate_every == 0)

    def _list(self, spec: EntitySpec, params: dict[str, str]) -> None:
        sim = self.server.sim
        truncate = self._faults(params)
        q = parse(spec, params, tz=sim.tz)
        envelope = _page(sim, q, params) if q.page_mode == "paged" else _sequenced(sim, q, params)
        ids = envelope.pop("_ids")
        results = _render(sim, q, ids)
        head = orjson.dumps(envelope)[:-1]  # open the object, then splice the results in
        parts = [head + (b"," if len(head) > 1 else b"") + b'"results":[', results, b"]}"]
        if truncate:
            whole = b"".join(parts)
            parts = [whole[: max(1, len(whole) // 2)]]
        self._send(200, *parts)

    def _detail(self, spec: EntitySpec, record_id: int, params: dict[str, str]) -> None:
        sim = self.server.sim
        q = parse(spec, {k: v for k, v in params.items() if k == "fields"}, tz=sim.tz)
        doc = _render(sim, q, [record_id])
        if not doc:
            raise _error(404, "NOT_FOUND", f"{spec.name} {record_id} does not exist")
        self._send(200, doc)

    # --- admin ------------------------------------------------------------------------

    def _admin(self, method: str, path: list[str], params: dict[str, str]) -> None:
        sim = self.server.sim
        action = path[0] if path else "status"
        if action == "status" and method == "GET":
            body = {
                "now": sim.tenant.now.isoformat(),
                "counts": {n: sim.tenant.count(n) for n in CATALOG},
                "prerendered": sim.prerendered.is_set(),
                "requests": self.server.requests,
                "faults": asdict(sim.faults),
            }
            self._send(200, orjson.dumps(body))
        elif action == "advance" and method == "POST":
            try:
                kwargs = {k: float(v) for k, v in params.items() if k in ("minutes", "modify", "insert", "delete")}
            except ValueError as exc:
                raise _error(400, "VALIDATION_ERROR", str(exc)) from None
            changes = sim.advance(**kwargs)
            body = {
                "now": changes.now.isoformat(),
                "modified": {k: len(v) for k, v in changes.modified.items()},
                "inserted": {k: len(v) for k, v in changes.inserted.items()},
                "deleted": {k: len(v) for k, v in changes.deleted.items()},
            }
            self._send(200, orjson.dumps(body))
        elif action == "faults" and method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            try:
                sim.set_faults(Faults.from_dict(orjson.loads(self.rfile.read(length) or b"{}")))
            except (ValueError, TypeError) as exc:
                raise _error(400, "VALIDATION_ERROR", str(exc)) from None
            self._send(200, orjson.dumps(asdict(sim.faults)))
        else:
            raise _error(404, "NOT_FOUND", f"no admin action {method} {action}")


# --- paging -----------------------------------------------------------------------------


def _link(sim: Simulator, spec: EntitySpec, params: dict[str, str], **changes: str) -> str:
    merged = {k: v for k, v in params.items() if k not in ("page", "cursor")} | changes
    return f"{sim.base_url}entity/{spec.name}/?{urlencode(merged)}"


def _fast_bounds(live: list[int], q: Query) -> tuple[int, int]:
    lo, hi = 0, len(live)
    for f in q.filters:
        v = f.value
        match f.lookup:
            case "gt":
                lo = max(lo, bisect_right(live, v))
            case "gte":
                lo = max(lo, bisect_left(live, v))
            case "lt":
                hi = min(hi, bisect_left(live, v))
            case "lte":
                hi = min(hi, bisect_right(live, v))
            case "exact":
                lo, hi = max(lo, bisect_left(live, v)), min(hi, bisect_right(live, v))
    return lo, max(lo, hi)


def _count(sim: Simulator, q: Query) -> int:
    if q.id_only():
        lo, hi = _fast_bounds(sim.tenant.live(q.spec.name), q)
        return hi - lo
    where, params = q.where()
    row = sim.tenant.cursor().execute(f"select count(*) from {q.spec.name} t where {where}", params).fetchone()
    return int(row[0]) if row else 0


def _select(sim: Simulator, q: Query, *, offset: int, limit: int, after: int | None = None) -> list[int]:
    """Ids of one page: by offset, or (id ordering) strictly after/before ``after``."""
    desc = q.ordering[:1] == [("id", True)]
    if q.id_only():
        live = sim.tenant.live(q.spec.name)
        lo, hi = _fast_bounds(live, q)
        if after is not None:
            if desc:
                hi = min(hi, bisect_left(live, after))
            else:
                lo = max(lo, bisect_right(live, after))
            offset = 0
        if desc:
            stop = max(lo, hi - offset)
            return live[max(lo, stop - limit) : stop][::-1]
        start = lo + offset
        return live[start : min(hi, start + limit)]
    where, params = q.where()
    if after is not None:
        where += f" and t.id {'<' if desc else '>'} ?"
        params.append(after)
        offset = 0
    sql = f"select t.id from {q.spec.name} t where {where} order by {q.order_sql()} limit ? offset ?"
    return [r[0] for r in sim.tenant.cursor().execute(sql, [*params, limit, offset]).fetchall()]


def _page(sim: Simulator, q: Query, params: dict[str, str]) -> dict[str, Any]:
    f = sim.faults
    total = _count(sim, q)
    if total == 0:
        raise _error(404, "NOT_FOUND", "No records found matching the given criteria.")
    page_count = math.ceil(total / q.page_size)
    reported = page_count + 1 if f.phantom_page else page_count
    if q.page > reported:
        raise _error(404, "NOT_FOUND", f"Invalid page {q.page}: there are {page_count} pages.")
    if q.page > page_count:  # the phantom page
        raise _error(500, "SERVER_ERROR", "Internal server error.")
    if f.shrink_page_count and q.page == 2 and page_count > 2:
        reported, total = 2, min(total, 2 * q.page_size)
    ids = _select(sim, q, offset=(q.page - 1) * q.page_size, limit=q.page_size)
    nxt = _link(sim, q.spec, params, page=str(q.page + 1)) if q.page < reported else None
    prev = _link(sim, q.spec, params, page=str(q.page - 1)) if q.page > 1 else None
    return {
        "result_count": total,
        "page_count": reported,
        "page_nbr": q.page,
        "next_page": nxt,
        "previous_page": prev,
        "_ids": ids,
    }


def _sequenced(sim: Simulator, q: Query, params: dict[str, str]) -> dict[str, Any]:
    keyset = q.ordering in ([], [("id", False)], [("id", True)])
    kind, pos = decode_cursor(q.cursor) if q.cursor else ("p", 0)
    if keyset:
        after = pos if kind in ("i", "d") else None
        ids = _select(sim, q, offset=0, limit=q.page_size + 1, after=after)
    else:
        ids = _select(sim, q, offset=pos, limit=q.page_size + 1)
    more = len(ids) > q.page_size
    ids = ids[: q.page_size]
    if not ids and not q.cursor:
        raise _error(404, "NOT_FOUND", "No records found matching the given criteria.")
    nxt = None
    if more:
        token = f"{'d' if q.ordering == [('id', True)] else 'i'}={ids[-1]}" if keyset else f"p={pos + q.page_size}"
        nxt = _link(sim, q.spec, params, cursor=encode_cursor(token))
    return {"next_page": nxt, "previous_page": None, "_ids": ids}


def _render(sim: Simulator, q: Query, ids: list[int]) -> bytes:
    if q.fields is None:
        return sim.documents.page(q.spec.name, ids)
    if not ids:
        return b""
    sql = record_sql(q.spec, sim.base_url, sim.tz, q.fields) + " where t.id in (select unnest($1::bigint[]))"
    docs = dict(sim.tenant.cursor().execute(sql, [ids]).fetchall())
    return b",".join(docs[i].encode() for i in ids if i in docs)


_DESCRIBE_TYPES = {
    Kind.INT: "integer",
    Kind.STATUS: "integer",
    Kind.STR: "string",
    Kind.DECIMAL: "decimal",
    Kind.TS: "datetime",
    Kind.DATE: "date",
    Kind.FLG: "boolean",
    Kind.FK: "foreign key",
    Kind.SET: "related set",
}


def _describe(spec: EntitySpec) -> dict[str, Any]:
    return {
        "parameters": [f.name for f in spec.fields if f.kind is not Kind.SET],
        "fields": {
            f.name: {
                "type": _DESCRIBE_TYPES[f.kind],
                "allow_blank": not f.required,
                "max_length": f.max_length,
                "required": f.required,
                "default": None,
            }
            for f in spec.fields
        },
    }
