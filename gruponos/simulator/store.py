"""A fake WMS tenant's storage: typed rows in an in-memory DuckDB, made from a seed, and read.

``scale`` is the number of allocations; other entities follow in proportion (the rows come
from ``formulas.py``: same seed and scale, same tenant). Rows were created in the
``HISTORY_DAYS`` before the tenant's epoch; ``tenant.py`` changes them as time moves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import duckdb

from gruponos.simulator.formulas import HISTORY_DAYS, Formulas, row_counts
from gruponos.simulator.schema import LOOKUP_ROWS, SCHEMA, Entity, Field, Kind

__all__ = ["EPOCH", "Clock", "Store", "key_column"]

Clock = Literal["fixed", "realtime"]

# The fixed clock starts here (UTC); rows were created in the HISTORY_DAYS before it.
EPOCH = datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC)

# The order rows are generated in: every FK target before the rows pointing at it.
_GENERATION_ORDER = (
    "company",
    "facility",
    *LOOKUP_ROWS,  # the statuses and types
    "inventory_lock",
    "inventory_attribute",
    "vendor",
    "item",
    "batch_number",
    "item_metric",
    "location",
    "purchase_order_hdr",
    "purchase_order_dtl",
    "ib_shipment",
    "ib_shipment_dtl",
    "container",
    "ib_container",
    "container_lock_xref",
    "inventory",
    "order_hdr",
    "order_dtl",
    "allocation",
    "inventory_history",
)
assert set(_GENERATION_ORDER) == set(SCHEMA), "every served entity is generated"

_SQL_TYPES: dict[Kind, str] = {
    Kind.INT: "BIGINT",
    Kind.STATUS: "INTEGER",
    Kind.STR: "VARCHAR",
    Kind.DECIMAL: "DECIMAL(18,4)",
    Kind.TS: "TIMESTAMP",  # naive UTC
    Kind.DATE: "DATE",
    Kind.TIME: "TIME",
    Kind.FLG: "BOOLEAN",
    Kind.FK: "BIGINT",
}


def key_column(f: Field) -> str:
    """The column holding an FK object's ``key`` beside its id."""
    return f"_k_{f.name}"


class Store:
    """The tenant's rows and clock as stored: built from the formulas, read by any thread."""

    def __init__(self, *, scale: int, seed: int = 42, clock: Clock = "fixed") -> None:
        if clock not in ("fixed", "realtime"):
            raise ValueError(f"clock must be 'fixed' or 'realtime', not {clock!r}")
        self.scale = scale
        self.seed = seed
        self.clock: Clock = clock
        # The realtime tenant's history ends when it starts (whole seconds, like its filters).
        self.epoch = EPOCH if clock == "fixed" else datetime.now(UTC).replace(microsecond=0)
        self._now = self.epoch
        self.counts = row_counts(scale)
        self.db = duckdb.connect(":memory:", config={"threads": 2})
        self.db.execute("set enable_progress_bar = false")
        self.live_lock = threading.Lock()  # held for microseconds: sorted id lists change under it
        self._next_id: dict[str, int] = {}
        self._live: dict[str, list[int]] = {}
        self._listeners: list[Callable[[str, Iterable[int]], None]] = []
        self._local = threading.local()
        self._sql = Formulas(seed=seed, counts=self.counts, epoch=self.epoch)
        for spec in SCHEMA.values():
            self._create(spec)
        self._generate()

    # --- the clock ----------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The tenant's clock (UTC): the wall clock, or the fixed clock moved by ``advance``."""
        return datetime.now(UTC) if self.clock == "realtime" else self._now

    # --- reading ----------------------------------------------------------------------

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB cursor for the calling thread."""
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            cur = self.db.cursor()
            self._local.cur = cur
        return cur

    def ids(self, entity: str) -> list[int]:
        """The current (visible) ids of ``entity``, ascending (a copy)."""
        with self.live_lock:
            return list(self._live[entity])

    def live(self, entity: str) -> list[int]:
        """The sorted id list itself: read it under ``live_lock`` (the server's fast path)."""
        return self._live[entity]

    def count(self, entity: str) -> int:
        return len(self._live[entity])

    def mod_ts(self, entity: str) -> dict[int, datetime]:
        """``id → mod_ts`` (UTC) of every visible row."""
        if not SCHEMA[entity].tracked:
            raise ValueError(f"entity {entity} has no mod_ts")
        rows = self.cursor().execute(f"select id, mod_ts from {entity}").fetchall()
        return {i: ts.replace(tzinfo=UTC) for i, ts in rows}

    def rows(self, entity: str, ids: list[int] | None = None) -> list[dict[str, Any]]:
        """Typed rows as stored (naive-UTC timestamps; FK ids, keys in ``_k_<fk>``), for tests."""
        sql = f"select * from {entity}"
        params: list[Any] = []
        if ids is not None:
            sql += " where id in (select unnest($1::bigint[]))"
            params = [ids]
        cur = self.cursor().execute(sql + " order by id", params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        self.db.close()

    def on_change(self, listener: Callable[[str, Iterable[int]], None]) -> None:
        """Call ``listener(entity, ids)`` whenever rows change or vanish."""
        self._listeners.append(listener)

    # --- building ---------------------------------------------------------------------

    def _create(self, spec: Entity) -> None:
        cols = []
        for f in spec.fields:
            if f.kind is Kind.SET:
                continue
            cols.append(f"{f.name} {_SQL_TYPES[f.kind]}")
            if f.kind is Kind.FK:
                cols.append(f"{key_column(f)} VARCHAR")
        self.db.execute(f"create table {spec.name} ({', '.join(cols)})")

    def _generate(self) -> None:
        start = self.epoch - timedelta(days=HISTORY_DAYS)
        for name in _GENERATION_ORDER:
            if name in LOOKUP_ROWS:
                self._insert_lookup(name)
            else:
                n = self.counts[name]
                source = self._sql.range_source(name, 1, n, start, self.epoch)
                self._insert(name, source, [], until=self.epoch)
            ids = [r[0] for r in self.db.execute(f"select id from {name} order by id").fetchall()]
            self._live[name] = ids
            self._next_id[name] = (ids[-1] if ids else 0) + 1

    def _insert_lookup(self, name: str) -> None:
        spec = SCHEMA[name]
        rows = LOOKUP_ROWS[name]
        cols = []
        for f in spec.fields:
            cols.append(f.name)
            if f.kind is Kind.FK:
                cols.append(key_column(f))
        values = []
        for row in rows:
            out: list[object] = []
            for f, v in zip(spec.fields, row, strict=True):
                out.append(v)
                if f.kind is Kind.FK:
                    assert f.target is not None and isinstance(v, int)
                    key = self.db.execute(f"select {self._sql.key(f.target, str(v))}").fetchone()
                    out.append(key[0] if key else None)
            values.append(out)
        marks = ", ".join("?" for _ in cols)
        self.db.executemany(f"insert into {name} ({', '.join(cols)}) values ({marks})", values)

    def _insert(self, name: str, source: str, params: list[Any], *, until: datetime | None) -> None:
        """Insert the rows of ``source`` (columns ``i`` and ``_created``) into ``name``.

        ``until``: generated history, modified some time before it; None: rows a change
        inserts, modified when created and pointing at any existing parent.
        """
        spec = SCHEMA[name]
        exprs = self._sql.expressions(name, until)
        cols, values = [], []
        for f in spec.fields:
            if f.kind is Kind.SET:
                continue
            e = exprs.get(f.name)
            if f.kind is Kind.FK:
                fid, fkey = e if isinstance(e, tuple) else self._sql.default_fk(f)
                cols += [f.name, key_column(f)]
                values += [fid, fkey]
                continue
            if e is None:
                e = self._sql.default(f)
            assert isinstance(e, str)
            cols.append(f.name)
            values.append(e)
        self.db.execute(
            f"insert into {name} ({', '.join(cols)}) select {', '.join(values)} from ({source}) g",
            params,
        )

    def _notify(self, entity: str, ids: Iterable[int]) -> None:
        ids = list(ids)
        for listener in self._listeners:
            listener(entity, ids)
