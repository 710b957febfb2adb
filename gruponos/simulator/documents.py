"""Records rendered as the real API shapes them, kept in an append-only file on disk.

Rendering JSON costs ~10 µs a record; serving must reach hundreds of thousands of records a
second. So each record is rendered once (lazily, or ahead in the background) into a file,
and a page is a few ``pread`` calls over contiguous byte ranges. Memory holds two small
integer arrays per entity (offset, length by id), never the documents themselves.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
from array import array
from collections.abc import Iterable, Sequence
from datetime import timedelta

from gruponos.simulator.schema import SCHEMA, Entity, Field, Kind
from gruponos.simulator.tenant import Tenant, key_column

__all__ = ["DocumentStore", "json_sql", "record_sql"]

_MISSING = -1


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _offset_suffix(offset: timedelta) -> tuple[int, str]:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return minutes, f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def json_sql(f: Field, expr: str, offset: timedelta, *, bare_fk: bool = False) -> str:
    """SQL rendering the value ``expr`` of field ``f`` as JSON text (``null`` when null).

    An FK renders here only as its bare id (``bare_fk``: how ``values_list`` sends it);
    records carry the whole FK object (see ``record_sql``).
    """
    offset_min, suffix = _offset_suffix(offset)
    match f.kind:
        case Kind.INT | Kind.STATUS | Kind.FK:
            v = f"cast({expr} as varchar)"
        case Kind.STR:
            v = f"to_json({expr})::varchar"
        case Kind.DECIMAL:
            v = f"'\"' || cast({expr} as varchar) || '\"'"
        case Kind.TS:
            v = f"strftime({expr} + to_minutes({offset_min}), '\"%Y-%m-%dT%H:%M:%S.%f') || '{suffix}\"'"
        case Kind.DATE:
            v = f"strftime({expr}, '\"%Y-%m-%d\"')"
        case Kind.TIME:
            v = f"'\"' || cast({expr} as varchar) || '\"'"
        case Kind.FLG:
            v = f"case when {expr} then 'true' else 'false' end"
        case Kind.SET:
            raise ValueError(f"{f.name}: a related set has no value to render")
    assert bare_fk or f.kind is not Kind.FK, "FK objects render with _value_sql"
    return f"coalesce({v}, 'null')"


def _value_sql(f: Field, base_url: str, offset: timedelta) -> str:
    """SQL rendering one field of row ``t`` as the API sends it (``null`` when absent)."""
    col = f"t.{f.name}"
    if f.kind is Kind.FK:
        assert f.target is not None
        # The url is blank when the related resource is not an entity the tenant serves.
        if f.target in SCHEMA:
            url = _quote(f',"url":"{base_url}entity/{f.target}/') + f" || cast({col} as varchar) || '/\"'"
        else:
            url = _quote(',"url":""')
        v = (
            f"'{{\"id\":' || cast({col} as varchar) || ',\"key\":' || "
            f"coalesce(to_json(t.{key_column(f)})::varchar, 'null') || {url} || '}}'"
        )
        return f"coalesce({v}, 'null')"
    if f.kind is Kind.SET:
        assert f.target is not None and f.via is not None
        url = _quote(f',"url":"{base_url}entity/{f.target}/?{f.via}=')
        count = f"(select count(*) from {f.target} c where c.{f.via} = t.id)"
        v = f"'{{\"result_count\":' || cast({count} as varchar) || {url} || cast(t.id as varchar) || '\"}}'"
        return f"coalesce({v}, 'null')"
    return json_sql(f, col, offset)


def record_sql(spec: Entity, base_url: str, offset: timedelta, fields: Sequence[str] | None = None) -> str:
    """SQL for ``(id, json)`` of every row of ``t`` (the entity's table aliased ``t``)."""
    chosen = [spec.field(n) for n in fields] if fields else list(spec.fields)
    parts = []
    for i, f in enumerate(chosen):
        sep = "{" if i == 0 else ","
        parts.append(_quote(f'{sep}"{f.name}":') + " || " + _value_sql(f, base_url, offset))
        if f.name == "id" and fields is None:
            parts.append(_quote(f',"url":"{base_url}entity/{spec.name}/') + " || cast(t.id as varchar) || '/\"'")
    body = " || ".join(parts) + " || '}'"
    return f"select t.id, {body} as doc from {spec.name} t"


class DocumentStore:
    """Rendered records of every entity, by id, in one temporary append-only file."""

    def __init__(self, tenant: Tenant, *, base_url: str, offset: timedelta, directory: str | None = None) -> None:
        self.tenant = tenant
        self.base_url = base_url
        self.offset = offset
        self._file = tempfile.NamedTemporaryFile(prefix="wms-sim-", suffix=".jsonl", dir=directory)  # noqa: SIM115
        self._fd = self._file.fileno()
        self._end = 0
        self._lock = threading.Lock()
        self._rendering = {name: threading.Lock() for name in SCHEMA}  # one renderer per entity
        self._sql = {name: record_sql(spec, base_url, offset) for name, spec in SCHEMA.items()}
        self._off: dict[str, array[int]] = {}
        self._len: dict[str, array[int]] = {}
        # A row changed while a render of it was in flight must not get the stale rendering:
        # invalidations are numbered, and a render keeps only rows not invalidated since it began.
        self._epoch = 0
        self._changed: dict[str, dict[int, int]] = {}
        for name in SCHEMA:
            self._off[name] = array("q")
            self._len[name] = array("l")
            self._changed[name] = {}
        self._stale: dict[str, set[int]] = {name: set() for name in SCHEMA}  # changed, not rendered again
        # The last rendering of each changed row: a page whose ids were chosen before a row was
        # deleted still serves it (one consistent snapshot, as a database's LIMIT query does).
        self._previous: dict[str, dict[int, tuple[int, int]]] = {name: {} for name in SCHEMA}
        tenant.on_change(self.invalidate)

    def close(self) -> None:
        self._file.close()

    @property
    def size_bytes(self) -> int:
        return self._end

    def invalidate(self, entity: str, ids: Iterable[int]) -> None:
        """Forget the rendering of changed or deleted rows."""
        off, ln, changed, stale = self._off[entity], self._len[entity], self._changed[entity], self._stale[entity]
        previous = self._previous[entity]
        with self._lock:
            self._epoch += 1
            for i in ids:
                changed[i] = self._epoch
                stale.add(i)
                if i < len(off):
                    if off[i] != _MISSING:
                        previous[i] = (off[i], ln[i])
                    off[i] = _MISSING

    def refresh(self) -> None:
        """Render the rows changed since the last refresh (the churn writer calls it after each
        step, so readers find changed rows rendered instead of rendering them themselves)."""
        for entity, stale in self._stale.items():
            with self._lock:
                ids = sorted(stale)
                stale.clear()
            if ids:
                with self._rendering[entity]:
                    self.render(entity, ids)

    def missing(self, entity: str, ids: Sequence[int]) -> list[int]:
        off = self._off[entity]
        n = len(off)
        return [i for i in ids if i >= n or off[i] == _MISSING]

    def render(
        self,
        entity: str,
        ids: Sequence[int] | None = None,
        *,
        lo: int | None = None,
        hi: int | None = None,
    ) -> int:
        """Render rows (by ids, or an id range) into the file; returns how many."""
        with self._lock:
            began = self._epoch
        sql = self._sql[entity]
        params: list[object] = []
        if ids is not None:
            sql += " where t.id in (select unnest($1::bigint[]))"
            params = [list(ids)]
        elif lo is not None and hi is not None:
            sql += " where t.id between $1 and $2"
            params = [lo, hi]
        rows = self.tenant.cursor().execute(sql + " order by t.id", params).fetchall()
        if not rows:
            return 0
        docs = [doc.encode() + b"," for _, doc in rows]
        blob = b"".join(docs)
        with self._lock:
            start = self._end
            os.pwrite(self._fd, blob, start)
            self._end += len(blob)
            off, ln = self._off[entity], self._len[entity]
            top = rows[-1][0]
            if top >= len(off):
                grow = top + 1 - len(off)
                off.extend([_MISSING] * grow)
                ln.extend([0] * grow)
            pos = start
            changed, previous = self._changed[entity], self._previous[entity]
            for (i, _), d in zip(rows, docs, strict=True):
                if changed.get(i, 0) <= began:  # else: changed mid-render, render it again later
                    off[i] = pos
                    ln[i] = len(d)
                    previous.pop(i, None)
                pos += len(d)
        return len(rows)

    def page(self, entity: str, ids: Sequence[int]) -> bytes:
        """The JSON array body (without brackets) of these rows, in this order.

        A row changed while it was being rendered is rendered again, straight from the table;
        only a row deleted since the ids were chosen is left out.
        """
        if not ids:
            return b""
        off, ln = self._off[entity], self._len[entity]
        with self._lock:  # offsets and lengths change together under this lock
            if max(ids) < len(off):
                offs = [off[i] for i in ids]
                lens = [ln[i] for i in ids]
            else:
                offs = [_MISSING]
        # fast path: every row rendered, stored back to back in this very order
        if _MISSING not in offs:
            first, last = offs[0], offs[-1]
            if last + lens[-1] - first == sum(lens) and all(a < b for a, b in itertools.pairwise(offs)):
                return os.pread(self._fd, last + lens[-1] - first - 1, first)
            spans = self._spans(entity, ids)
        else:
            self.fill(entity, ids)
            spans = self._spans(entity, ids)
        direct: dict[int, bytes] = {}
        if None in spans:
            again = [i for i, span in zip(ids, spans, strict=True) if span is None]
            sql = self._sql[entity] + " where t.id in (select unnest($1::bigint[]))"
            direct = {i: doc.encode() + b"," for i, doc in self.tenant.cursor().execute(sql, [again]).fetchall()}
            previous = self._previous[entity]
            for i in again:  # deleted since the ids were chosen: its last rendering
                if i not in direct and (span := previous.get(i)) is not None:
                    direct[i] = os.pread(self._fd, span[1], span[0])
        chunks: list[bytes] = []
        run_start = run_end = -1
        for i, span in zip(ids, spans, strict=True):
            if span is None:
                if i in direct:  # changed mid-render (or deleted since chosen): rendered apart
                    if run_start >= 0:
                        chunks.append(os.pread(self._fd, run_end - run_start, run_start))
                        run_start = run_end = -1
                    chunks.append(direct[i])
                continue  # else deleted before it was ever rendered
            o, n = span
            if o == run_end:
                run_end = o + n
                continue
            if run_start >= 0:
                chunks.append(os.pread(self._fd, run_end - run_start, run_start))
            run_start, run_end = o, o + n
        if run_start >= 0:
            chunks.append(os.pread(self._fd, run_end - run_start, run_start))
        return b"".join(chunks)[:-1]

    def _spans(self, entity: str, ids: Sequence[int]) -> list[tuple[int, int] | None]:
        """``(offset, length)`` of each row's rendering (None: not rendered), read consistently."""
        off, ln = self._off[entity], self._len[entity]
        with self._lock:
            n = len(off)
            return [(off[i], ln[i]) if i < n and off[i] != _MISSING else None for i in ids]

    def fill(self, entity: str, ids: Sequence[int], *, ahead: int = 10_000) -> None:
        """Render what ``ids`` lack; for an ascending page, also the rows just after it."""
        with self._rendering[entity]:
            todo = self.missing(entity, ids)
            if not todo:
                return
            if list(ids) == sorted(ids):
                todo = self.missing(entity, range(ids[0], ids[-1] + ahead + 1))
            if todo[-1] - todo[0] + 1 == len(todo):
                self.render(entity, lo=todo[0], hi=todo[-1])
            else:
                self.render(entity, todo)

    def prerender(self, stop: threading.Event, block: int = 20_000) -> None:
        """Render every entity ahead of requests (run in a background thread)."""
        for name in SCHEMA:
            live = self.tenant.live(name)
            if not live:
                continue
            lo, top = live[0], live[-1]
            while lo <= top and not stop.is_set():
                hi = min(lo + block - 1, top)
                self.fill(name, range(lo, hi + 1), ahead=0)
                lo = hi + 1
