"""The work a live warehouse does while you read: a background writer changing records.

``rate`` changes a second, split into modifications, inserts and deletes by their shares,
spread over the entities by :data:`WEIGHTS` (allocations and order lines move most; lookup
tables never). Every change is stamped with the tenant's clock when it is made, so it lands
between the pages of any scan in progress. A ``late_share`` of them commit ``late_s``
seconds after their ``mod_ts`` (a long WMS transaction): the race an incremental overlap
exists for.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from gruponos.simulator.options import from_mapping
from gruponos.simulator.schema import SCHEMA
from gruponos.simulator.tenant import Changes, Tenant

__all__ = ["WEIGHTS", "Workload", "Writer"]

# Relative share of the changes each entity receives.
WEIGHTS: dict[str, float] = {
    "allocation": 30,
    "order_dtl": 12,
    "order_hdr": 6,
    "inventory": 10,
    "inventory_history": 12,
    "container": 6,
    "ib_container": 3,
    "ib_shipment_dtl": 3,
    "ib_shipment": 2,
    "purchase_order_dtl": 2,
    "purchase_order_hdr": 1,
    "item_metric": 2,
    "container_lock_xref": 1,
    "item": 0.5,
    "location": 0.5,
    "batch_number": 0.5,
    "vendor": 0.2,
}
assert all(SCHEMA[name].tracked for name in WEIGHTS), "only entities with mod_ts churn"


@dataclass(frozen=True, slots=True)
class Workload:
    """How the tenant changes by itself (realtime clock only)."""

    rate: float = 0.0  # changes per second
    modify: float = 0.80
    insert: float = 0.15
    delete: float = 0.05
    late_share: float = 0.0  # share of changes that commit late…
    late_s: float = 0.0  # …this many seconds after their mod_ts
    entities: tuple[str, ...] = ()  # only these (default: every entity of WEIGHTS)

    def __post_init__(self) -> None:
        problems = []
        for name in ("rate", "modify", "insert", "delete", "late_share", "late_s"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if self.rate > 0 and self.modify + self.insert + self.delete <= 0:
            problems.append("modify, insert and delete shares are all zero")
        if self.late_share > 1:
            problems.append("late_share is a share (0 to 1)")
        unknown = [n for n in self.entities if n not in WEIGHTS]
        if unknown:
            problems.append(f"entities that do not churn: {', '.join(unknown)} (churning: {', '.join(WEIGHTS)})")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workload:
        values = dict(data)
        if "entities" in values:
            raw = values["entities"]
            values["entities"] = tuple(raw.split(",") if isinstance(raw, str) else raw)
        return from_mapping(cls, values, "workload")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Writer(threading.Thread):
    """Applies the workload and the late commits that fall due, every ``tick`` seconds."""

    def __init__(
        self, tenant: Tenant, workload: Workload, *, tick: float = 0.25, after: Callable[[], None] | None = None
    ) -> None:
        super().__init__(name="wms-sim-writer", daemon=True)
        self.tenant = tenant
        self.workload = workload
        self.tick = tick
        self.after = after  # called after each step (the simulator re-renders the changed rows)
        self.totals: Counter[str] = Counter()
        self._halt = threading.Event()
        self._rng = random.Random(tenant.seed + 1)

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        carry = 0.0
        last = time.monotonic()
        while not self._halt.wait(self.tick):
            now = time.monotonic()
            elapsed, last = now - last, now
            self.totals["committed_late"] += self.tenant.flush()
            w = self.workload
            if w.rate <= 0:
                carry = 0.0
            else:
                carry += w.rate * elapsed
                n, carry = int(carry), carry - int(carry)
                if n:
                    self._step(w, n)
            if self.after is not None:
                self.after()

    def _step(self, w: Workload, n: int) -> None:
        names = list(w.entities or WEIGHTS)
        weights = [WEIGHTS[name] for name in names]
        ops = ("modify", "insert", "delete")
        shares = (w.modify, w.insert, w.delete)
        plan: Counter[tuple[str, str]] = Counter()
        for _ in range(n):
            plan[(self._rng.choices(names, weights)[0], self._rng.choices(ops, shares)[0])] += 1
        changes = Changes(now=self.tenant.now)
        self.tenant.churn(dict(plan), changes)
        for kind, found in (
            ("modified", changes.modified),
            ("inserted", changes.inserted),
            ("deleted", changes.deleted),
            ("late", changes.late),
        ):
            self.totals[kind] += sum(len(v) for v in found.values())
