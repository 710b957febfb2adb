"""The formulas every row of the simulated tenant is made from, as SQL over a row index ``i``.

Values come from ``hash(index, seed, salt)``, so the same seed and scale always give the same
tenant. Cross-entity facts are functions of the other row's index too, so foreign keys agree
without joins. Here: how many rows each entity has, and :class:`Formulas`, which turns an
entity's formulas into the SQL of its rows. The formulas themselves live by area: the
primitives in ``formulas_base``, the inbound chain (purchase orders → ASNs → containers →
inventory) in ``formulas_inbound``, the outbound chain (orders → lines → allocations) in
``formulas_outbound``, and everything outside both chains in ``formulas_masters``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gruponos.simulator.formulas_base import ASN_LINES_PER_PO, HISTORY_DAYS, USERS, ts_sql, us
from gruponos.simulator.formulas_inbound import InboundFormulas
from gruponos.simulator.formulas_masters import MasterFormulas
from gruponos.simulator.formulas_outbound import OutboundFormulas
from gruponos.simulator.schema import LOOKUP_ROWS, SCHEMA, STATUS_CODES

__all__ = ["HISTORY_DAYS", "Formulas", "row_counts"]


def row_counts(scale: int) -> dict[str, int]:
    """Rows per entity: ``scale`` allocations, the rest in proportion (lookups: their rows)."""
    facilities = 3 + scale // 250_000
    pos = max(10, scale // 50)
    # Container c sits in facility 1 + (c - 1) % facilities, so their number is a multiple of it;
    # the first ones are the LPNs received on ASN lines (about one per line).
    containers = max(ASN_LINES_PER_PO * facilities * -(-pos // facilities), scale // 10)
    containers = facilities * -(-containers // facilities)
    counts = {
        "company": 2 + scale // 500_000,
        "facility": facilities,
        "item": max(50, scale // 50),
        "location": max(100, scale // 20),
        "inventory": max(100, scale // 5),
        "order_hdr": max(20, scale // 10),
        "order_dtl": max(50, scale // 3),
        "allocation": max(1, scale),
        "vendor": max(10, scale // 2_000),
        "inventory_attribute": 40,
        "inventory_lock": 12,
        "batch_number": max(20, scale // 100),
        "purchase_order_hdr": pos,
        "purchase_order_dtl": ASN_LINES_PER_PO * pos,
        "ib_shipment": pos,
        "ib_shipment_dtl": ASN_LINES_PER_PO * pos,
        "ib_container": ASN_LINES_PER_PO * pos,
        "container": containers,
        "container_lock_xref": max(5, containers // 20),
        "inventory_history": max(50, scale // 20),
    }
    counts["item_metric"] = counts["item"]
    for name, rows in LOOKUP_ROWS.items():
        counts[name] = len(rows)
    return counts


class Formulas(MasterFormulas, InboundFormulas, OutboundFormulas):
    """SQL expressions for every field of every entity, as functions of a row index ``i``.

    Each entity's builder (``_<entity>``, in the area classes this one joins) returns its
    entity-specific expressions; the keyword arguments are shared helpers.
    """

    def range_source(self, name: str, lo: int, hi: int, start: datetime, end: datetime) -> str:
        """Rows ``lo..hi``, created in ``[start, end)`` (or when their story says)."""
        created = {
            "purchase_order_hdr": self.po_day("i"),
            "ib_shipment": f"({self.po_day('i')} + interval 1 day)",
            "purchase_order_dtl": self.po_day(self.po_of_line("i")),
            "ib_shipment_dtl": f"({self.po_day(self.po_of_line('i'))} + interval 1 day)",
            "ib_container": f"({self.po_day(self.po_of_line('i'))} + interval 1 day)",
        }.get(name)
        if created is None:
            self.scope = name
            created = f"{ts_sql(start)} + to_microseconds(cast({self.r('create')} * {us(end - start)} as bigint))"
        return f"select i, {created} as _created from range({lo}, {hi + 1}) t(i)"

    def expressions(self, name: str, until: datetime | None) -> dict[str, Any]:
        """Entity-specific SQL per field (``i`` the row index, ``_created`` its creation)."""
        self.scope = name
        c, r, pick, u = self.c, self.r, self.p, self.u
        later = until is None  # rows a change inserts: any existing parent
        if until is not None:
            mod = (
                f"_created + to_microseconds(cast({r('mod')} * {r('mod2')} * "
                f"(epoch_us({ts_sql(until)}) - 1 - epoch_us(_created)) as bigint))"
            )
        else:  # rows stamped by a change: modified when created
            mod = "_created"
        e: dict[str, Any] = {"id": "i", "create_ts": "_created", "mod_ts": mod}
        if SCHEMA[name].tracked:
            e["create_user"] = f"{USERS}[{pick('cu', 6)}]"
            e["mod_user"] = f"{USERS}[{pick('mu', 6)}]"
        statuses = STATUS_CODES.get(name)
        if statuses:
            lit = "[" + ", ".join(map(str, statuses)) + "]"
            e["status_id"] = f"{lit}[{pick('status', len(statuses))}]"
        facility = self.facility_of("i")
        company = self.company_of_facility(facility) if name != "item" else f"(1 + (i - 1) % {c['company']})"
        fac_fk = self.fk("facility", facility)
        co_fk = self.fk("company", company)
        per_facility = c["location"] // c["facility"]
        builder = getattr(self, f"_{name}", None)
        if builder is not None:
            e |= builder(
                later=later,
                mod=mod,
                facility=facility,
                company=company,
                fac_fk=fac_fk,
                co_fk=co_fk,
                per_facility=per_facility,
                u=u,
                r=r,
                pick=pick,
            )
        return e
