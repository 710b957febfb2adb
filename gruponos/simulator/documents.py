"""Records rendered as the real API shapes them, kept in an append-only file on disk.

Rendering a record's JSON costs far more than serving its bytes (figures: bench_simulator).
So each record is rendered once (lazily, or ahead in the background) into a file, and a page
is a few ``pread`` calls over contiguous byte ranges. Memory holds two small
integer arrays per entity (offset, length by id), never the documents themselves.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import time
from array import array
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import IO

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
        case Kind.TS:
            v = f"strftime({expr} + to_minutes({offset_min}), '\"%Y-%m-%dT%H:%M:%S.%f') || '{suffix}\"'"
        case Kind.DATE:
            v = f"strftime({expr}, '\"%Y-%m-%d\"')"
        case Kind.DECIMAL | Kind.TIME:  # both travel as JSON strings of their text
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
    """Rendered records of every entity, by id, in one temporary append-only file.

    A changed row is rendered again at the file's end; when the dead renderings outgrow the
    live ones, :meth:`compact` copies the live ones into a fresh file (the churn writer asks
    for it), so a tenant that lives for days does not fill the disk.
    """

    def __init__(self, tenant: Tenant, *, base_url: str, offset: timedelta, directory: str | None = None) -> None:
        self.tenant = tenant
        self.base_url = base_url
        self.offset = offset
        self._directory = directory
        self._file = self._new_file()
        self._fd = self._file.fileno()
        self._end = 0
        self._dead = 0  # bytes of renderings no row points at any more
        self._retired: list[tuple[float, IO[bytes]]] = []  # files compacted away, closed a while later
        self._lock = threading.Lock()
        self._rendering = {name: threading.Lock() for name in SCHEMA}  # one renderer per entity
        self._sql = {name: record_sql(spec, base_url, offset) for name, spec in SCHEMA.items()}
        self._off: dict[str, array[int]] = {name: array("q") for name in SCHEMA}
        self._len: dict[str, array[int]] = {name: array("l") for name in SCHEMA}
        # A row changed while a render of it was in flight must not get the stale rendering:
        # invalidations are numbered, and a render keeps only rows not invalidated since it began.
        self._epoch = 0
        self._changed: dict[str, dict[int, int]] = {name: {} for name in SCHEMA}
        self._stale: dict[str, set[int]] = {name: set() for name in SCHEMA}  # changed, not rendered again
        # The last rendering of each changed row: a page whose ids were chosen before a row was
        # deleted still serves it (one consistent snapshot, as a database's LIMIT query does).
        self._previous: dict[str, dict[int, tuple[int, int]]] = {name: {} for name in SCHEMA}
        tenant.on_change(self.invalidate)

    def _new_file(self) -> IO[bytes]:
        return tempfile.NamedTemporaryFile(prefix="wms-sim-", suffix=".jsonl", dir=self._directory)

    def close(self) -> None:
        self._file.close()
        for _, old in self._retired:
            old.close()

    @property
    def size_bytes(self) -> int:
        return self._end

    def invalidate(self, entity: str, ids: Iterable[int]) -> None:
        """Forget the rendering of changed or deleted rows."""
        with self._lock:
            off, ln = self._off[entity], self._len[entity]
            changed, stale, previous = self._changed[entity], self._stale[entity], self._previous[entity]
            self._epoch += 1
            for i in ids:
                changed[i] = self._epoch
                stale.add(i)
                if i < len(off) and off[i] != _MISSING:
                    if (old := previous.get(i)) is not None:
                        self._dead += old[1]
                    previous[i] = (off[i], ln[i])
                    off[i] = _MISSING

    def refresh(self) -> None:
        """Render the rows changed since the last refresh (the churn writer calls it after each
        step, so readers find changed rows rendered instead of rendering them themselves), and
        compact the file when most of it is dead."""
        for entity, stale in self._stale.items():
            with self._lock:
                ids = sorted(stale)
                stale.clear()
            if ids:
                with self._rendering[entity]:
                    self.render(entity, ids)
        if self._dead > max(_COMPACT_AFTER, self._end // 2):
            self.compact()

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
                    if off[i] != _MISSING:
                        self._dead += ln[i]
                    off[i] = pos
                    ln[i] = len(d)
                    if (old := previous.pop(i, None)) is not None:
                        self._dead += old[1]
                else:
                    self._dead += len(d)
                pos += len(d)
        return len(rows)

    def page(self, entity: str, ids: Sequence[int]) -> bytes:
        """The JSON array body (without brackets) of these rows, in this order.

        A row changed while it was being rendered is rendered again, straight from the table;
        a row deleted since the ids were chosen is served as it was last rendered.
        """
        if not ids:
            return b""
        with self._lock:  # the file, offsets and lengths change together under this lock
            fd, off, ln = self._fd, self._off[entity], self._len[entity]
            if max(ids) < len(off):
                offs = [off[i] for i in ids]
                lens = [ln[i] for i in ids]
            else:
                offs = [_MISSING]
        # fast path: every row rendered, stored back to back in this very order
        if _MISSING not in offs:
            first, last = offs[0], offs[-1]
            if last + lens[-1] - first == sum(lens) and all(a < b for a, b in itertools.pairwise(offs)):
                return os.pread(fd, last + lens[-1] - first - 1, first)
        else:
            self.fill(entity, ids)
        fd, spans, previous = self._spans(entity, ids)
        direct: dict[int, bytes] = {}
        again = [i for i, span in zip(ids, spans, strict=True) if span is None]
        if again:
            sql = self._sql[entity] + " where t.id in (select unnest($1::bigint[]))"
            direct = {i: doc.encode() + b"," for i, doc in self.tenant.cursor().execute(sql, [again]).fetchall()}
            for i in again:  # deleted since the ids were chosen: its last rendering
                if i not in direct and i in previous:
                    direct[i] = os.pread(fd, previous[i][1], previous[i][0])
        chunks: list[bytes] = []
        run_start = run_end = -1
        for i, span in zip(ids, spans, strict=True):
            if span is None:
                if i in direct:  # changed mid-render (or deleted since chosen): rendered apart
                    if run_start >= 0:
                        chunks.append(os.pread(fd, run_end - run_start, run_start))
                        run_start = run_end = -1
                    chunks.append(direct[i])
                continue  # else deleted before it was ever rendered
            o, n = span
            if o == run_end:
                run_end = o + n
                continue
            if run_start >= 0:
                chunks.append(os.pread(fd, run_end - run_start, run_start))
            run_start, run_end = o, o + n
        if run_start >= 0:
            chunks.append(os.pread(fd, run_end - run_start, run_start))
        return b"".join(chunks)[:-1]

    def _spans(
        self, entity: str, ids: Sequence[int]
    ) -> tuple[int, list[tuple[int, int] | None], dict[int, tuple[int, int]]]:
        """The file, ``(offset, length)`` of each row's rendering (None: not rendered) and the last
        renderings of the others, read together under the lock."""
        with self._lock:
            off, ln, previous = self._off[entity], self._len[entity], self._previous[entity]
            n = len(off)
            spans = [(off[i], ln[i]) if i < n and off[i] != _MISSING else None for i in ids]
            last = {i: previous[i] for i, span in zip(ids, spans, strict=True) if span is None and i in previous}
            return self._fd, spans, last

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

    def compact(self) -> None:
        """Copy the live renderings into a fresh file and switch to it.

        The bulk is copied without the lock (readers go on with the old file); under the lock
        only the rows rendered or changed meanwhile are copied before the switch. The old file
        stays open a while for reads already under way.
        """
        with self._lock:
            fd, began = self._fd, self._epoch
            snapshot = {e: (array("q", self._off[e]), array("l", self._len[e])) for e in SCHEMA}
        new = self._new_file()
        copier = _Copier(fd, new.fileno())
        moved = {entity: copier.copy_all(off, ln) for entity, (off, ln) in snapshot.items()}
        with self._lock:
            for entity, (noff, nln, unrendered) in moved.items():
                off, ln = self._off[entity], self._len[entity]
                known = len(noff)
                noff.extend([_MISSING] * (len(off) - known))
                nln.extend([0] * (len(off) - known))
                since = [i for i, epoch in self._changed[entity].items() if epoch > began and i < len(off)]
                for i in [*since, *unrendered, *range(known, len(off))]:
                    if off[i] == _MISSING:
                        noff[i] = _MISSING
                    else:
                        noff[i], nln[i] = copier.copy(off[i], ln[i]), ln[i]
                previous = self._previous[entity]
                for i, (o, n) in list(previous.items()):
                    previous[i] = (copier.copy(o, n), n)
                self._off[entity], self._len[entity] = noff, nln
            copier.flush()
            now = time.monotonic()
            for _, old in [r for r in self._retired if now - r[0] > _RETIRED_S]:
                old.close()
            self._retired = [r for r in self._retired if now - r[0] <= _RETIRED_S] + [(now, self._file)]
            self._file, self._fd, self._end, self._dead = new, new.fileno(), copier.end, 0


_COMPACT_AFTER = 64 << 20  # dead bytes before a compaction is worth it
_RETIRED_S = 60.0  # how long a compacted-away file stays open for reads under way


class _Copier:
    """Copies byte ranges of one file to the end of another, in large writes."""

    def __init__(self, src: int, dst: int) -> None:
        self.src, self.dst = src, dst
        self.end = 0  # where the next copied range lands
        self._written = 0
        self._buffer: list[bytes] = []
        self._buffered = 0

    def copy(self, offset: int, length: int) -> int:
        """Copy ``length`` bytes at ``offset``; returns their offset in the destination."""
        at = self.end
        self._buffer.append(os.pread(self.src, length, offset))
        self._buffered += length
        self.end += length
        if self._buffered >= 4 << 20:
            self.flush()
        return at

    def copy_all(self, off: array[int], ln: array[int]) -> tuple[array[int], array[int], list[int]]:
        """Copy every rendered row of one entity in id order: its new offsets and lengths, and
        the ids that had no rendering."""
        noff, nln = array("q", [_MISSING]) * len(off), array("l", [0]) * len(ln)
        unrendered = []
        for i, o in enumerate(off):
            if o == _MISSING:
                unrendered.append(i)
            else:
                noff[i], nln[i] = self.copy(o, ln[i]), ln[i]
        return noff, nln, unrendered

    def flush(self) -> None:
        if self._buffer:
            os.pwrite(self.dst, b"".join(self._buffer), self._written)
            self._written += self._buffered
            self._buffer, self._buffered = [], 0
