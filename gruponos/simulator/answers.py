"""What the entity API answers to a parsed query: counts, pages, cursors, rendered records, ``describe``.

``server.py`` parses the request and sends the bytes; the functions here decide what they are.
A :class:`Reply` raised anywhere is the answer the handler sends instead (an error status).
"""

from __future__ import annotations

import math
import uuid
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from gruponos.simulator.documents import json_sql, record_sql
from gruponos.simulator.query import BadQuery, Column, Query, decode_cursor, encode_cursor
from gruponos.simulator.schema import SCHEMA, Entity, Field, Kind

if TYPE_CHECKING:
    from gruponos.simulator import Simulator

__all__ = ["Reply", "count", "describe", "error", "paged", "render", "require_filters", "sequenced"]


class Reply(Exception):
    """Stop handling and answer with this status and body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def error(status: int, code: str, message: str, **details: Any) -> Reply:
    """The API's error body (a fresh ``reference`` each time), ready to raise."""
    body = {"reference": str(uuid.uuid4()), "code": code, "message": message, "details": details}
    return Reply(status, body)


def require_filters(q: Query) -> None:
    if not q.satisfies(q.spec.filter_rule):
        combos = "; ".join(" + ".join(c) for c in q.spec.filter_rule)
        raise BadQuery(f"{q.spec.name} is a large table: filter on one of these combinations: {combos}")


# --- paging -----------------------------------------------------------------------------


def _link(sim: Simulator, spec: Entity, params: dict[str, str], **changes: str) -> str:
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


def count(sim: Simulator, q: Query) -> int:
    if q.id_only():
        with sim.tenant.live_lock:
            lo, hi = _fast_bounds(sim.tenant.live(q.spec.name), q)
        return hi - lo
    where, params = q.where()
    if q.distinct:
        sql = f"select count(*) from ({_distinct_sql(q, where)}) v"
    else:
        sql = f"select count(*) from {q.spec.name} t where {where}"
    row = sim.tenant.cursor().execute(sql, params).fetchone()
    total = int(row[0]) if row else 0
    return total if q.limit is None else min(total, q.limit)


def _select(sim: Simulator, q: Query, *, offset: int, limit: int, after: int | None = None) -> list[int]:
    """Ids of one page: by offset, or (id ordering) strictly after/before ``after``."""
    if q.limit is not None:
        limit = max(0, min(limit, q.limit - offset))
    desc = q.ordering[:1] == [("id", True)]
    if q.id_only():
        with sim.tenant.live_lock:
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


def paged(sim: Simulator, q: Query, params: dict[str, str]) -> dict[str, Any]:
    f = sim.faults
    total = count(sim, q)
    if total == 0:
        raise error(404, "NOT_FOUND", "No records found matching the given criteria.")
    page_count = math.ceil(total / q.page_size)
    reported = page_count + 1 if f.phantom_page else page_count
    if q.page > reported:
        raise error(404, "NOT_FOUND", f"Invalid page {q.page}: there are {page_count} pages.")
    if q.page > page_count:  # the phantom page
        raise error(500, "SERVER_ERROR", "Internal server error.")
    if f.shrink_page_count and q.page == 2 and page_count > 2:
        reported, total = 2, min(total, 2 * q.page_size)
    offset = (q.page - 1) * q.page_size
    envelope: dict[str, Any] = {
        "result_count": total,
        "page_count": reported,
        "page_nbr": q.page,
        "next_page": _link(sim, q.spec, params, page=str(q.page + 1)) if q.page < reported else None,
        "previous_page": _link(sim, q.spec, params, page=str(q.page - 1)) if q.page > 1 else None,
    }
    if q.distinct:
        envelope |= {"_ids": None, "_body": _distinct_rows(sim, q, offset=offset, limit=q.page_size)}
    else:
        envelope["_ids"] = _select(sim, q, offset=offset, limit=q.page_size)
    return envelope


def sequenced(sim: Simulator, q: Query, params: dict[str, str]) -> dict[str, Any]:
    keyset = q.ordering in ([], [("id", False)], [("id", True)]) and q.limit is None and not q.distinct
    kind, pos = decode_cursor(q.cursor) if q.cursor else ("p", 0)
    body: bytes | None = None
    if q.distinct:
        rows = _distinct_list(sim, q, offset=pos, limit=q.page_size + 1)
        more, rows = len(rows) > q.page_size, rows[: q.page_size]
        if not rows and not q.cursor:
            raise error(404, "NOT_FOUND", "No records found matching the given criteria.")
        body, ids, last = b",".join(rows), None, None
    else:
        if keyset:
            after = pos if kind in ("i", "d") else None
            found = _select(sim, q, offset=0, limit=q.page_size + 1, after=after)
        else:
            found = _select(sim, q, offset=pos, limit=q.page_size + 1)
        more, ids = len(found) > q.page_size, found[: q.page_size]
        if not ids and not q.cursor:
            raise error(404, "NOT_FOUND", "No records found matching the given criteria.")
        last = ids[-1] if ids else None
    nxt = None
    if more:
        if keyset and last is not None:
            token = f"{'d' if q.ordering == [('id', True)] else 'i'}={last}"
        else:
            token = f"p={pos + q.page_size}"
        nxt = _link(sim, q.spec, params, cursor=encode_cursor(token))
    return {"next_page": nxt, "previous_page": None, "_ids": ids, "_body": body}


# --- rendering --------------------------------------------------------------------------


def render(sim: Simulator, q: Query, ids: list[int]) -> bytes:
    if q.fields is None and q.values is None:
        return sim.documents.page(q.spec.name, ids)
    if not ids:
        return b""
    if q.values is not None:
        sql = f"select t.id, {_values_json(q.values, sim)} as doc from {q.spec.name} t"
    else:
        sql = record_sql(q.spec, sim.base_url, sim.tz, q.fields)
    docs = dict(sim.tenant.cursor().execute(sql + " where t.id in (select unnest($1::bigint[]))", [ids]).fetchall())
    return b",".join(docs[i].encode() for i in ids if i in docs)


def _path_sql(path: tuple[Field, ...], alias: str = "t", depth: int = 1) -> str:
    """SQL for a ``values_list`` path: the column, or scalar subqueries through the FKs."""
    head = path[0]
    if len(path) == 1:
        return f"{alias}.{head.name}"
    inner = f"s{depth}"
    value = _path_sql(path[1:], inner, depth + 1)
    return f"(select {value} from {head.target} {inner} where {inner}.id = {alias}.{head.name})"


def _values_json(columns: list[Column], sim: Simulator, source: list[str] | None = None) -> str:
    """SQL building one ``values_list`` object (FKs as bare ids) from the paths or ``source`` columns."""
    parts = []
    for n, c in enumerate(columns):
        expr = source[n] if source is not None else _path_sql(c.path)
        sep = "{" if n == 0 else ","
        # aliases are identifiers (checked by the parser), so they can be spelled into the SQL
        parts.append(f"'{sep}\"{c.alias}\":' || {json_sql(c.path[-1], expr, sim.tz, bare_fk=True)}")
    return " || ".join(parts) + " || '}'"


def _distinct_sql(q: Query, where: str) -> str:
    assert q.values is not None
    exprs = ", ".join(f"{_path_sql(c.path)} as c{n}" for n, c in enumerate(q.values))
    return f"select distinct {exprs} from {q.spec.name} t where {where}"


def _distinct_list(sim: Simulator, q: Query, *, offset: int, limit: int) -> list[bytes]:
    """One page of ``values_list`` rows, duplicates removed, in the requested order."""
    assert q.values is not None
    if q.limit is not None:
        limit = max(0, min(limit, q.limit - offset))
    where, params = q.where()
    position = {c.alias: n for n, c in enumerate(q.values)}
    order = ", ".join(f"v.c{position[name]} {'desc' if desc else 'asc'} nulls last" for name, desc in q.ordering)
    doc = _values_json(q.values, sim, [f"v.c{n}" for n in range(len(q.values))])
    sql = f"select {doc} from ({_distinct_sql(q, where)}) v order by {order} limit ? offset ?"
    return [r[0].encode() for r in sim.tenant.cursor().execute(sql, [*params, limit, offset]).fetchall()]


def _distinct_rows(sim: Simulator, q: Query, *, offset: int, limit: int) -> bytes:
    return b",".join(_distinct_list(sim, q, offset=offset, limit=limit))


# --- describe ---------------------------------------------------------------------------


def describe(spec: Entity) -> dict[str, Any]:
    """``GET entity/{name}/describe/``: filterable fields and each field's metadata."""
    out: dict[str, Any] = {}
    for f in spec.fields:
        meta: dict[str, Any] = {
            "type": "integer" if f.kind is Kind.STATUS else f.kind.value,
            "allow_blank": f.kind is Kind.STR and not f.mandatory,
            "max_length": f.max_length if f.kind is Kind.STR else None,
            "required": f.required,
            "default": None,
        }
        if f.kind in (Kind.FK, Kind.SET) and f.target in SCHEMA:
            meta["related_entity"] = f.target
        if f.kind is Kind.SET:
            meta["related_field"] = f.via  # the child's FK back to this entity
        out[f.name] = meta
    return {"parameters": [f.name for f in spec.fields if f.kind is not Kind.SET], "fields": out}
