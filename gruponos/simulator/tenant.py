"""A fake WMS tenant's data: typed rows in an in-memory DuckDB, made from a seed.

Values come from ``hash(id, seed, salt)`` so the same seed and scale always give the same
tenant. ``scale`` is the number of allocations; other entities follow in proportion.
The clock moves with :meth:`Tenant.advance`, which modifies, inserts and deletes rows the way
a working warehouse does (``mod_ts`` grows; deletes are never announced).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from gruponos.simulator.legacy_catalog import CATALOG, EntitySpec, Field, Kind

__all__ = ["EPOCH", "STATUS_CODES", "Changes", "Tenant"]

# The tenant's clock starts here (UTC); rows were created in the 120 days before it.
EPOCH = datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC)
HISTORY_DAYS = 120

# Tenant configuration, not published constants: each tenant has its own codes.
STATUS_CODES: dict[str, tuple[int, ...]] = {
    "allocation": (0, 10, 20, 30, 90, 99),
    "order_hdr": (0, 10, 20, 25, 27, 30, 40, 50, 90, 99),
    "order_dtl": (0, 10, 20, 25, 27, 30, 40, 90, 99),
    "item": (0, 1, 2),
    "inventory": (0, 10, 20),
}

# Related entities outside the catalog: FK objects point at small reference pools.
_REFERENCE_KEYS: dict[str, tuple[str, ...]] = {
    "uom": ("UNITS", "CASE", "PACK", "PALLET", "INNER"),
    "facility_type": ("DC", "STORE", "3PL"),
    "location_type": ("ACTIVE", "RESERVE", "DROP", "DOCK"),
    "order_type": ("STD", "RUSH", "ECOM", "B2B", "TRANSFER"),
    "allocation_type": ("LPN", "UNITS", "CASE"),
    "ob_lpn_type": ("TOTE", "CARTON_S", "CARTON_M", "CARTON_L", "PALLET"),
    "mhe_system": ("SORTER1", "ASRS1"),
    "inventory_attribute": tuple(f"ATTR{i:03d}" for i in range(1, 41)),
    "container": tuple(f"LPN{i:08d}" for i in range(1, 2001)),
    "task": tuple(f"TSK{i:07d}" for i in range(1, 5001)),
    "wave": tuple(f"WV{i:06d}" for i in range(1, 501)),
}


def _counts(scale: int) -> dict[str, int]:
    return {
        "company": 2 + scale // 500_000,
        "facility": 3 + scale // 250_000,
        "item": max(50, scale // 50),
        "location": max(100, scale // 20),
        "inventory": max(100, scale // 5),
        "order_hdr": max(20, scale // 10),
        "order_dtl": max(50, scale // 3),
        "allocation": max(1, scale),
    }


_SQL_TYPES: dict[Kind, str] = {
    Kind.INT: "BIGINT",
    Kind.STATUS: "INTEGER",
    Kind.STR: "VARCHAR",
    Kind.DECIMAL: "DECIMAL(18,4)",
    Kind.TS: "TIMESTAMP",  # naive UTC
    Kind.DATE: "DATE",
    Kind.FLG: "BOOLEAN",
    Kind.FK: "BIGINT",
}


def key_column(f: Field) -> str:
    """The column holding an FK object's ``key`` beside its id."""
    return f"_k_{f.name}"


@dataclass(slots=True)
class Changes:
    """What one clock advance did, per entity."""

    now: datetime
    modified: dict[str, list[int]] = field(default_factory=dict)
    inserted: dict[str, list[int]] = field(default_factory=dict)
    deleted: dict[str, list[int]] = field(default_factory=dict)

    def total(self) -> int:
        return sum(len(v) for d in (self.modified, self.inserted, self.deleted) for v in d.values())


class Tenant:
    """The simulated tenant's rows and clock. Thread-safe for readers; writes take a lock."""

    def __init__(self, *, scale: int, seed: int = 42) -> None:
        self.scale = scale
        self.seed = seed
        self.now = EPOCH
        self.counts = _counts(scale)
        self.db = duckdb.connect(":memory:", config={"threads": 2})
        self.db.execute("set enable_progress_bar = false")
        self.lock = threading.RLock()
        self._step = 0
        self._scope = ""  # salts the per-row hashes with the entity being generated
        self._next_id: dict[str, int] = {}
        self._live: dict[str, list[int]] = {}  # sorted ids per entity
        self._listeners: list[Callable[[str, Iterable[int]], None]] = []
        self._local = threading.local()
        for name in CATALOG:
            self._create(CATALOG[name])
        self._generate()

    # --- reading ----------------------------------------------------------------------

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB cursor for the calling thread."""
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            cur = self.db.cursor()
            self._local.cur = cur
        return cur

    def ids(self, entity: str) -> list[int]:
        """The current ids of ``entity``, ascending (a copy)."""
        with self.lock:
            return list(self._live[entity])

    def live(self, entity: str) -> list[int]:
        """The live sorted id list itself (read-only; for the server's fast path)."""
        return self._live[entity]

    def count(self, entity: str) -> int:
        return len(self._live[entity])

    def mod_ts(self, entity: str) -> dict[int, datetime]:
        """``id → mod_ts`` (UTC) of every current row."""
        rows = self.cursor().execute(f"select id, mod_ts from {entity}").fetchall()
        return {i: ts.replace(tzinfo=UTC) for i, ts in rows}

    def rows(self, entity: str, ids: list[int] | None = None) -> list[dict[str, Any]]:
        """Typed rows as stored (naive-UTC timestamps), for tests."""
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

    def _create(self, spec: EntitySpec) -> None:
        cols = []
        for f in spec.fields:
            if f.kind is Kind.SET:
                continue
            cols.append(f"{f.name} {_SQL_TYPES[f.kind]}")
            if f.kind is Kind.FK:
                cols.append(f"{key_column(f)} VARCHAR")
        self.db.execute(f"create table {spec.name} ({', '.join(cols)})")

    def _generate(self) -> None:
        for name in (
            "company",
            "facility",
            "item",
            "location",
            "inventory",
            "order_hdr",
            "order_dtl",
            "allocation",
        ):
            n = self.counts[name]
            self._insert_range(name, 1, n, EPOCH - timedelta(days=HISTORY_DAYS), EPOCH)
            self._next_id[name] = n + 1
        for name in CATALOG:
            self._live[name] = [r[0] for r in self.db.execute(f"select id from {name} order by id").fetchall()]

    def _r(self, salt: str) -> str:
        """SQL for a deterministic uniform value in [0, 1) per row."""
        return f"((hash(i, {self.seed}, '{self._scope}:{salt}') % 1000003) / 1000003.0)"

    def _pick(self, salt: str, n: int | str) -> str:
        """SQL for a deterministic integer in [1, n] per row."""
        return f"cast(1 + (hash(i, {self.seed}, '{self._scope}:{salt}') % ({n})) as bigint)"

    def _ref(self, f: Field, salt: str, *, null_share: float = 0.0) -> tuple[str, str]:
        """SQL for an FK into a reference pool (id and key), null for ``null_share`` of rows."""
        assert f.target is not None
        keys = _REFERENCE_KEYS[f.target]
        pid = self._pick(salt, len(keys))
        lit = "[" + ", ".join(f"'{k}'" for k in keys) + "]"
        cond = f"{self._r(salt + 'n')} < {null_share}"
        return (
            f"case when {cond} then null else {pid} end",
            f"case when {cond} then null else {lit}[{pid}] end",
        )

    def _insert_range(self, name: str, lo: int, hi: int, start: datetime, end: datetime) -> list[int]:
        """Insert ids ``lo..hi`` created in ``[start, end)``; returns the ids."""
        if hi < lo:
            return []
        spec = CATALOG[name]
        self._scope = name
        exprs = self._expressions(name, start, end)
        cols, values = [], []
        for f in spec.fields:
            if f.kind is Kind.SET:
                continue
            e = exprs.get(f.name)
            if f.kind is Kind.FK:
                fid, fkey = e if isinstance(e, tuple) else self._ref(f, f.name, null_share=0.3)
                cols += [f.name, key_column(f)]
                values += [fid, fkey]
                continue
            if e is None:
                e = self._default(f)
            assert isinstance(e, str)
            cols.append(f.name)
            values.append(e)
        sql = (
            f"insert into {name} ({', '.join(cols)}) "
            f"select {', '.join(values)} from (select i, {_ts_sql(start)} + "
            f"to_microseconds(cast({self._r('create')} * {_us(end - start)} as bigint)) as _created "
            f"from range({lo}, {hi + 1}) t(i)) g"
        )
        self.db.execute(sql)
        return list(range(lo, hi + 1))

    def _default(self, f: Field) -> str:
        """SQL for a field with no entity-specific rule (custom fields mostly null)."""
        sparse = f.name.startswith("cust_")
        null = f"{self._r(f.name + 'n')} < {0.8 if sparse else 0.1}"
        kind_sql = {
            Kind.STR: f"left('{f.name[:6].upper()}-' || {self._pick(f.name, 997)}, {f.max_length or 255})",
            Kind.INT: f"{self._pick(f.name, 100)}",
            Kind.DECIMAL: f"cast(round({self._r(f.name)} * 1000, 2) as decimal(18,4))",
            Kind.DATE: f"cast(_created as date) + cast({self._pick(f.name, 30)} as integer)",
            Kind.FLG: f"{self._r(f.name)} < 0.3",
            Kind.TS: "_created",
        }
        return f"case when {null} then null else {kind_sql[f.kind]} end"

    def _expressions(self, name: str, start: datetime, end: datetime) -> dict[str, Any]:
        """Entity-specific SQL per field; audit fields for all."""
        c = self.counts
        r, pick = self._r, self._pick
        users = "['ana.souza', 'bruno.lima', 'carla.dias', 'diego.rocha', 'edu.alves', 'fabi.nunes']"
        mod = (
            f"_created + to_microseconds(cast({r('mod')} * {r('mod2')} * "
            f"(epoch_us({_ts_sql(end)}) - 1 - epoch_us(_created)) as bigint))"
        )
        e: dict[str, Any] = {
            "id": "i",
            "create_user": f"{users}[{pick('cu', 6)}]",
            "mod_user": f"{users}[{pick('mu', 6)}]",
            "create_ts": "_created",
            "mod_ts": mod,
        }
        statuses = STATUS_CODES.get(name)
        if statuses:
            lit = "[" + ", ".join(map(str, statuses)) + "]"
            e["status_id"] = f"{lit}[{pick('status', len(statuses))}]"
        company = f"(1 + (i - 1) % {c['company']})"
        facility = f"(1 + (i - 1) % {c['facility']})"
        if name == "company":
            e |= {
                "code": "'CO' || lpad(cast(i as varchar), 2, '0')",
                "name": "'Grupo Nos Company ' || i",
                "parent_company_id": (
                    "case when i = 1 then null else 1 end",
                    "case when i = 1 then null else 'CO01' end",
                ),
                "country": "'BR'",
                "state": "['SP', 'RJ', 'MG', 'PR'][" + pick("st", 4) + "]",
                "active_flg": "true",
            }
        elif name == "facility":
            e |= {
                "code": "'DC' || lpad(cast(i as varchar), 2, '0')",
                "name": "'Distribution Centre ' || i",
                "parent_company_id": (company, f"'CO' || lpad(cast({company} as varchar), 2, '0')"),
                "country": "'BR'",
                "time_zone": "'America/Sao_Paulo'",
                "active_flg": "true",
            }
        elif name == "item":
            e |= {
                "company_id": (company, f"'CO' || lpad(cast({company} as varchar), 2, '0')"),
                "code": "'ITM' || lpad(cast(i as varchar), 7, '0')",
                "description": "'Item ' || i || ' ' || ['bolt', 'cable', 'tape', 'box', 'glove', 'lamp']["
                + pick("d", 6)
                + "]",
                "barcode": "'789' || lpad(cast(i as varchar), 10, '0')",
                "unit_cost": f"cast(round(1 + {r('cost')} * 250, 2) as decimal(18,4))",
                "std_pack_qty": f"cast({pick('pk', 12)} as decimal(18,4))",
                "std_case_qty": f"cast(12 * {pick('cs', 4)} as decimal(18,4))",
            }
        elif name == "location":
            e |= {
                "facility_id": (facility, f"'DC' || lpad(cast({facility} as varchar), 2, '0')"),
                "locn_str": "'L' || lpad(cast(i as varchar), 8, '0')",
                "locn_brcd": "'B' || lpad(cast(i as varchar), 8, '0')",
                "area": "['A', 'B', 'C', 'R'][" + pick("ar", 4) + "]",
                "aisle": f"lpad(cast({pick('ai', 40)} as varchar), 2, '0')",
                "bay": f"lpad(cast({pick('ba', 60)} as varchar), 2, '0')",
                "level": f"cast({pick('lv', 6)} as varchar)",
                "position": f"cast({pick('po', 4)} as varchar)",
                "pick_seq": "i",
            }
        elif name == "inventory":
            item = pick("item", c["item"])
            # a location of the same facility: ids congruent to the facility modulo F
            per_facility = c["location"] // c["facility"]
            loc = f"({facility} + {c['facility']} * cast(hash(i, {self.seed}, 'loc') % {per_facility} as bigint))"
            qty = f"cast({pick('q', 500)} as decimal(18,4))"
            e |= {
                "facility_id": (facility, f"'DC' || lpad(cast({facility} as varchar), 2, '0')"),
                "item_id": (item, f"'ITM' || lpad(cast({item} as varchar), 7, '0')"),
                "location_id": (loc, f"'L' || lpad(cast({loc} as varchar), 8, '0')"),
                "curr_qty": qty,
                "orig_qty": qty,
                "priority_date": "cast(_created as date)",
            }
        elif name == "order_hdr":
            e |= {
                "company_id": (company, f"'CO' || lpad(cast({company} as varchar), 2, '0')"),
                "facility_id": (facility, f"'DC' || lpad(cast({facility} as varchar), 2, '0')"),
                "order_nbr": "'SO' || lpad(cast(i as varchar), 9, '0')",
                "ord_date": "cast(_created as date)",
                "req_ship_date": f"cast(_created as date) + cast({pick('rq', 7)} as integer)",
                "sched_ship_date": f"cast(_created as date) + cast({pick('sc', 7)} as integer)",
                "order_shipped_ts": f"case when {r('sh')} < 0.6 then {mod} else null end",
                "cust_name": "'Customer ' || " + pick("cn", 5000),
                "cust_nbr": "'C' || lpad(cast(" + pick("cn", 5000) + " as varchar), 6, '0')",
                "shipto_country": "'BR'",
                "priority": pick("pr", 5),
            }
        elif name == "order_dtl":
            order = f"(1 + ((i - 1) * {c['order_hdr']}) // {c['order_dtl']})"
            if start >= EPOCH:  # lines inserted later belong to any existing order
                order = pick("ord", c["order_hdr"])
            item = pick("item", c["item"])
            qty = f"cast({pick('q', 48)} as decimal(18,4))"
            e |= {
                "order_id": (order, f"'SO' || lpad(cast({order} as varchar), 9, '0')"),
                "item_id": (item, f"'ITM' || lpad(cast({item} as varchar), 7, '0')"),
                "seq_nbr": "1 + (i % 7)",
                "ord_qty": qty,
                "orig_ord_qty": qty,
                "alloc_qty": f"cast(floor({qty} * {r('aq')}) as decimal(18,4))",
                "sale_price": f"cast(round(2 + {r('sp')} * 300, 2) as decimal(18,4))",
                "cost": f"cast(round(1 + {r('co')} * 200, 2) as decimal(18,4))",
            }
        elif name == "allocation":
            line = f"(1 + ((i - 1) * {c['order_dtl']}) // {c['allocation']})"
            if start >= EPOCH:
                line = pick("line", c["order_dtl"])
            inv = pick("inv", c["inventory"])
            qty = f"cast({pick('q', 24)} as decimal(18,4))"
            picked = f"{r('pk')} < 0.7"
            e |= {
                "order_dtl_id": (line, f"cast({line} as varchar)"),
                "from_inventory_id": (inv, f"'INV' || {inv}"),
                "to_inventory_id": (
                    f"case when {picked} then {inv} end",
                    f"case when {picked} then 'INV' || {inv} end",
                ),
                "alloc_qty": qty,
                "packed_qty": f"case when {picked} then cast(floor({qty} * {r('pq')}) as decimal(18,4)) else 0 end",
                "is_picking_flg": f"{r('ip')} < 0.2",
                "pick_locn_str": "'L' || lpad(cast(" + pick("pl", c["location"]) + " as varchar), 8, '0')",
                "pick_user": f"case when {picked} then {users}[{pick('pu', 6)}] end",
                "picked_ts": f"case when {picked} then {mod} end",
                "final_oblpn_nbr": f"case when {picked} then 'OLPN' || lpad({pick('ol', 99999)}::varchar, 8, '0') end",
                "task_seq_nbr": pick("ts", 40),
            }
        return e

    # --- time moves -------------------------------------------------------------------

    def advance(
        self,
        *,
        minutes: float = 60,
        modify: float = 0.01,
        insert: float = 0.002,
        delete: float = 0.0,
        entities: Iterable[str] | None = None,
    ) -> Changes:
        """Move the clock forward; modify, insert and delete shares of each entity's rows."""
        names = list(entities) if entities is not None else [n for n in CATALOG if n not in ("company", "facility")]
        with self.lock:
            self._step += 1
            start, end = self.now, self.now + timedelta(minutes=minutes)
            changes = Changes(now=end)
            for name in names:
                n = len(self._live[name])
                if modify > 0 and n:
                    changes.modified[name] = self._modify(name, round(n * modify), start, end)
                if insert > 0:
                    lo = self._next_id[name]
                    hi = lo + max(1, round(n * insert)) - 1
                    changes.inserted[name] = self._insert_range(name, lo, hi, start, end)
                    self._next_id[name] = hi + 1
                    self._live[name].extend(changes.inserted[name])
                    self._touch_parents(name, changes.inserted[name])
                if delete > 0 and n and name not in _REQUIRED_TARGETS:
                    changes.deleted[name] = self.delete(name, self._sample(name, round(n * delete), "del"))
            self.now = end
            for name, ids in changes.modified.items():
                self._notify(name, ids)
            return changes

    def set_values(self, entity: str, ids: Iterable[int], values: dict[str, Any]) -> None:
        """Overwrite columns of some rows (tests use it to plant bad data); values are bound."""
        spec = CATALOG[entity]
        names = list(values)
        for name in names:
            if not spec.has(name) and not name.startswith("_k_"):
                raise KeyError(f"entity {entity} has no field {name!r}")
        sets = ", ".join(f"{name} = ?" for name in names)
        ids = sorted(set(ids))
        with self.lock:
            self.db.execute(
                f"update {entity} set {sets} where id in (select unnest(?::bigint[]))", [*values.values(), ids]
            )
            self._notify(entity, ids)

    def delete(self, entity: str, ids: Iterable[int]) -> list[int]:
        """Physically delete rows (the real API never announces deletes)."""
        ids = sorted(set(ids))
        with self.lock:
            self.db.execute(f"delete from {entity} where id in (select unnest($1::bigint[]))", [ids])
            live = self._live[entity]
            for i in ids:
                pos = bisect_left(live, i)
                if pos < len(live) and live[pos] == i:
                    del live[pos]
            self._notify(entity, ids)
        return ids

    def _sample(self, name: str, k: int, salt: str) -> list[int]:
        if k <= 0:
            return []
        rows = self.db.execute(
            f"select id from {name} order by hash(id, {self.seed}, {self._step}, '{salt}') limit {k}"
        ).fetchall()
        return sorted(r[0] for r in rows)

    def _modify(self, name: str, k: int, start: datetime, end: datetime) -> list[int]:
        ids = self._sample(name, k, "mod")
        if not ids:
            return ids
        spec = CATALOG[name]
        sets = [
            f"mod_ts = {_ts_sql(start)} + to_microseconds(1 + cast((hash(id, {self._step}, 'm') % 1000003) "
            f"/ 1000003.0 * {_us(end - start) - 2} as bigint))",
            "mod_user = 'wms.sim'",
        ]
        if spec.has("status_id") and name in STATUS_CODES:
            lit = "[" + ", ".join(map(str, STATUS_CODES[name])) + "]"
            sets.append(
                f"status_id = {lit}[cast(1 + (hash(id, {self._step}, 's') % {len(STATUS_CODES[name])}) as bigint)]"
            )
        if name == "allocation":
            sets.append("packed_qty = alloc_qty, is_picking_flg = false")
        if name == "inventory":
            sets.append("curr_qty = cast(greatest(0, curr_qty - 1) as decimal(18,4))")
        self.db.execute(
            f"update {name} set {', '.join(sets)} where id in (select unnest($1::bigint[]))",
            [ids],
        )
        return ids

    def _touch_parents(self, child: str, ids: list[int]) -> None:
        """A new child changes its parent's ``*_set`` count: re-render the parent."""
        for parent in CATALOG.values():
            for f in parent.fields:
                if f.kind is Kind.SET and f.target == child and f.via:
                    rows = self.db.execute(
                        f"select distinct {f.via} from {child} where id in (select unnest($1::bigint[]))",
                        [ids],
                    ).fetchall()
                    self._notify(parent.name, [r[0] for r in rows if r[0] is not None])

    def _notify(self, entity: str, ids: Iterable[int]) -> None:
        ids = list(ids)
        for listener in self._listeners:
            listener(entity, ids)


# Entities other rows must point at: advance() never deletes them (delete() still can).
_REQUIRED_TARGETS = frozenset(
    f.target for spec in CATALOG.values() for f in spec.fields if f.kind is Kind.FK and f.required and f.target
)


def _ts_sql(ts: datetime) -> str:
    return f"timestamp '{ts.astimezone(UTC).replace(tzinfo=None).isoformat(sep=' ')}'"


def _us(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1_000_000)
