"""A fake WMS tenant: its stored rows (``store.py``) and the changes time brings to them.

The clock is ``fixed`` (starts at :data:`EPOCH`, moves only with :meth:`Tenant.advance`, for
tests) or ``realtime`` (follows the wall clock; rows were created in the 120 days before the
tenant started). Changes are stamped with the clock; a *late commit* keeps its ``mod_ts``
but becomes visible ``late_s`` seconds after it, as a long WMS transaction does.
"""

from __future__ import annotations

import random
import threading
from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from gruponos.simulator.schema import SCHEMA, STATUS_CODES
from gruponos.simulator.store import EPOCH, Clock, Store, key_column

__all__ = ["EPOCH", "STATUS_CODES", "Changes", "Clock", "Tenant", "key_column"]

# Entities whose rows are never changed after they are written (history is appended).
_APPEND_ONLY = frozenset({"inventory_history"})


@dataclass(slots=True)
class Changes:
    """What one clock advance (or churn step) did, per entity. ``late``: changed, not yet visible."""

    now: datetime
    modified: dict[str, list[int]] = field(default_factory=dict)
    inserted: dict[str, list[int]] = field(default_factory=dict)
    deleted: dict[str, list[int]] = field(default_factory=dict)
    late: dict[str, list[int]] = field(default_factory=dict)

    def total(self) -> int:
        return sum(len(v) for d in (self.modified, self.inserted, self.deleted) for v in d.values())


@dataclass(frozen=True, slots=True)
class _Pending:
    """A change made at ``stamp`` that becomes visible at ``due`` (a late commit)."""

    due: datetime
    entity: str
    op: Literal["modify", "insert"]
    id: int
    stamp: datetime


class Tenant(Store):
    """The simulated tenant's rows and clock. Readers need no lock; writes take ``lock``."""

    def __init__(self, *, scale: int, seed: int = 42, clock: Clock = "fixed") -> None:
        super().__init__(scale=scale, seed=seed, clock=clock)
        self.lock = threading.RLock()
        self.late_share = 0.0
        self.late_s = 0.0
        self._rng = random.Random(seed)
        self._pending: list[_Pending] = []
        self._step = 0

    @property
    def pending(self) -> int:
        """Changes made but not yet visible (late commits)."""
        with self.lock:
            return len(self._pending)

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
        """Modify, insert and delete shares of each entity's rows.

        Fixed clock: the clock moves ``minutes`` forward and the changes are stamped inside
        that span. Realtime clock: the clock cannot be moved, so every change is stamped
        *now* (``minutes`` is ignored) — a tenant never back-dates a change.
        """
        default = [n for n, s in SCHEMA.items() if s.tracked and n not in ("company", "facility")]
        names = list(entities) if entities is not None else default
        for name in names:
            if not SCHEMA[name].tracked:
                raise ValueError(f"entity {name} has no mod_ts: its rows are not changed by the clock")
        with self.lock:
            self._step += 1
            if self.clock == "realtime":
                start = end = self.now
            else:
                start, end = self._now, self._now + timedelta(minutes=minutes)
            changes = Changes(now=end)
            for name in names:
                n = len(self._live[name])
                if modify > 0 and n and name not in _APPEND_ONLY:
                    ids = self._sample(name, round(n * modify), "mod")
                    self._modify(name, ids, self._stamps(len(ids), start, end), changes)
                if insert > 0:
                    k = max(1, round(n * insert))
                    ids = list(range(self._next_id[name], self._next_id[name] + k))
                    self._next_id[name] += k
                    self._add(name, ids, self._stamps(k, start, end), changes)
                if delete > 0 and n and name not in _REQUIRED_TARGETS and name not in _APPEND_ONLY:
                    changes.deleted[name] = self.delete(name, self._sample(name, round(n * delete), "del"))
            if self.clock == "fixed":
                self._now = end
            self.flush(end)
            return changes

    def churn(self, plan: dict[tuple[str, str], int], changes: Changes) -> None:
        """Apply ``{(entity, op): count}`` now, stamped with the clock (the churn writer's step)."""
        with self.lock:
            self._step += 1
            for (name, op), k in plan.items():
                if k <= 0:
                    continue
                stamp = self.now
                if op == "modify" and name not in _APPEND_ONLY:
                    ids = self._pick_live(name, k)
                    self._modify(name, ids, [stamp] * len(ids), changes)
                elif op == "insert" or (op == "modify" and name in _APPEND_ONLY):
                    ids = list(range(self._next_id[name], self._next_id[name] + k))
                    self._next_id[name] += k
                    self._add(name, ids, [stamp] * k, changes)
                elif op == "delete" and name not in _REQUIRED_TARGETS and name not in _APPEND_ONLY:
                    gone = self.delete(name, self._pick_live(name, k))
                    changes.deleted.setdefault(name, []).extend(gone)

    def flush(self, now: datetime | None = None) -> int:
        """Make the late commits due by ``now`` visible; returns how many."""
        with self.lock:
            moment = self.now if now is None else now
            due = [p for p in self._pending if p.due <= moment]
            if not due:
                return 0
            self._pending = [p for p in self._pending if p.due > moment]
            groups: dict[tuple[str, str], dict[int, datetime]] = {}
            for p in due:
                groups.setdefault((p.entity, p.op), {})[p.id] = p.stamp
            for (name, op), stamps in groups.items():
                ids = sorted(stamps)
                if op == "modify":
                    self._apply_modify(name, ids, [stamps[i] for i in ids], late=True)
                else:
                    self._apply_insert(name, ids, [stamps[i] for i in ids])
            return len(due)

    def next_due(self) -> datetime | None:
        """When the next late commit becomes visible (None: none pending)."""
        with self.lock:
            return min((p.due for p in self._pending), default=None)

    def set_values(self, entity: str, ids: Iterable[int], values: dict[str, Any]) -> None:
        """Overwrite columns of some rows (tests use it to plant bad data); values are bound."""
        spec = SCHEMA[entity]
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
            parents = self._parents(entity, ids)
            self.db.execute(f"delete from {entity} where id in (select unnest($1::bigint[]))", [ids])
            with self.live_lock:
                live = self._live[entity]
                for i in ids:
                    pos = bisect_left(live, i)
                    if pos < len(live) and live[pos] == i:
                        del live[pos]
            self._notify(entity, ids)
            for parent, parent_ids in parents.items():
                self._notify(parent, parent_ids)
        return ids

    # --- change mechanics ---------------------------------------------------------------

    def _modify(self, name: str, ids: list[int], stamps: list[datetime], changes: Changes) -> None:
        now_ids, now_stamps = self._defer_late(name, "modify", ids, stamps, changes)
        if now_ids:
            self._apply_modify(name, now_ids, now_stamps)
        changes.modified.setdefault(name, []).extend(now_ids)

    def _add(self, name: str, ids: list[int], stamps: list[datetime], changes: Changes) -> None:
        now_ids, now_stamps = self._defer_late(name, "insert", ids, stamps, changes)
        if now_ids:
            self._apply_insert(name, now_ids, now_stamps)
        changes.inserted.setdefault(name, []).extend(now_ids)

    def _defer_late(
        self, name: str, op: Literal["modify", "insert"], ids: list[int], stamps: list[datetime], changes: Changes
    ) -> tuple[list[int], list[datetime]]:
        """Queue the late share of these changes; return the ids and stamps to apply now."""
        now_ids, now_stamps = [], []
        for i, stamp in zip(ids, stamps, strict=True):
            if self.late_share > 0 and self._rng.random() < self.late_share:
                self._pending.append(_Pending(stamp + timedelta(seconds=self.late_s), name, op, i, stamp))
                changes.late.setdefault(name, []).append(i)
            else:
                now_ids.append(i)
                now_stamps.append(stamp)
        return now_ids, now_stamps

    def _apply_insert(self, name: str, ids: list[int], stamps: list[datetime]) -> None:
        source = "select unnest($1::bigint[]) as i, unnest($2::timestamp[]) as _created"
        naive = [s.astimezone(UTC).replace(tzinfo=None) for s in stamps]
        self._insert(name, source, [ids, naive], until=None)
        with self.live_lock:
            live = self._live[name]
            for i in ids:
                insort(live, i)
        self._notify(name, ids)
        for parent, parent_ids in self._parents(name, ids).items():
            self._notify(parent, parent_ids)

    def _apply_modify(self, name: str, ids: list[int], stamps: list[datetime], *, late: bool = False) -> None:
        """Stamp ``ids`` with ``stamps`` and change them as work does (a late one never undoes a newer one)."""
        sets = ["mod_ts = s.ts", "mod_user = 'wms.sim'"]
        codes = STATUS_CODES.get(name)
        if codes and SCHEMA[name].has("status_id"):
            lit = "[" + ", ".join(map(str, codes)) + "]"
            sets.append(f"status_id = {lit}[cast(1 + (hash(t.id, {self._step}, 's') % {len(codes)}) as bigint)]")
        sets += _WORK.get(name, [])
        naive = [s.astimezone(UTC).replace(tzinfo=None) for s in stamps]
        where = "t.id = s.id" + (" and t.mod_ts < s.ts" if late else "")
        self.db.execute(
            f"update {name} t set {', '.join(sets)} "
            f"from (select unnest($1::bigint[]) as id, unnest($2::timestamp[]) as ts) s where {where}",
            [ids, naive],
        )
        self._notify(name, ids)

    def _stamps(self, k: int, start: datetime, end: datetime) -> list[datetime]:
        """``k`` stamps inside ``(start, end)`` (all ``end`` when the span is empty)."""
        span = int((end - start).total_seconds() * 1_000_000)
        if span <= 2:
            return [end] * k
        return [start + timedelta(microseconds=1 + int(self._rng.random() * (span - 2))) for _ in range(k)]

    def _sample(self, name: str, k: int, salt: str) -> list[int]:
        if k <= 0:
            return []
        rows = self.db.execute(
            f"select id from {name} order by hash(id, {self.seed}, {self._step}, '{salt}') limit {k}"
        ).fetchall()
        return sorted(r[0] for r in rows)

    def _pick_live(self, name: str, k: int) -> list[int]:
        live = self._live[name]
        if not live:
            return []
        return sorted({live[self._rng.randrange(len(live))] for _ in range(k)})

    def _parents(self, child: str, ids: list[int]) -> dict[str, list[int]]:
        """Rows whose ``*_set`` count changes when these children come or go."""
        out: dict[str, list[int]] = {}
        for parent in SCHEMA.values():
            for f in parent.sets:
                if f.target == child and f.via:
                    rows = self.db.execute(
                        f"select distinct {f.via} from {child} where id in (select unnest($1::bigint[]))", [ids]
                    ).fetchall()
                    found = [r[0] for r in rows if r[0] is not None]
                    if found:
                        out.setdefault(parent.name, []).extend(found)
        return out


# What a modification does besides the stamp and the status, per entity.
_WORK: dict[str, list[str]] = {
    "allocation": ["packed_qty = alloc_qty", "is_picking_flg = false"],
    "inventory": ["curr_qty = cast(greatest(0, curr_qty - 1) as decimal(18,4))"],
    "item_metric": ["pick_count_30d = coalesce(pick_count_30d, 0) + 1"],
    "purchase_order_dtl": ["received_qty = coalesce(shipped_qty, received_qty)"],
    "ib_shipment_dtl": ["received_qty = coalesce(shipped_qty, received_qty)"],
}

# Entities other rows must point at: advance() and churn never delete them (delete() still can).
_REQUIRED_TARGETS = frozenset(
    f.target for spec in SCHEMA.values() for f in spec.fks if f.mandatory and f.target in SCHEMA
)
