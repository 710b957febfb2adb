"""The outbound chain as formulas: customer orders, their lines, and the allocations picked for them.

Order lines spread evenly over the orders and allocations over the lines (``later`` rows, those
a change inserts, point at any existing parent); an allocation picks from any inventory row.
"""

from __future__ import annotations

from typing import Any

from gruponos.simulator.formulas_base import USERS, FormulaBase

__all__ = ["OutboundFormulas"]


class OutboundFormulas(FormulaBase):
    """The rows of the outbound entities."""

    def _order_hdr(self, **k: Any) -> dict[str, Any]:
        r, pick = k["r"], k["pick"]
        return {
            "company_id": self.fk("company", f"(1 + (i - 1) % {self.c['company']})"),
            "facility_id": k["fac_fk"],
            "order_nbr": self.key("order_hdr", "i"),
            "ord_date": "cast(_created as date)",
            "req_ship_date": f"cast(_created as date) + cast({pick('rq', 7)} as integer)",
            "sched_ship_date": f"cast(_created as date) + cast({pick('sc', 7)} as integer)",
            "order_shipped_ts": f"case when {r('sh')} < 0.6 then {k['mod']} else null end",
            "cust_name": "'Customer ' || " + pick("cn", 5000),
            "cust_nbr": "'C' || lpad(cast(" + pick("cn", 5000) + " as varchar), 6, '0')",
            "shipto_country": "'BR'",
            "priority": pick("pr", 5),
        }

    def _order_dtl(self, **k: Any) -> dict[str, Any]:
        c, r, pick = self.c, k["r"], k["pick"]
        order = f"(1 + ((i - 1) * {c['order_hdr']}) // {c['order_dtl']})"
        if k["later"]:
            order = pick("ord", c["order_hdr"])
        qty = f"cast({pick('q', 48)} as decimal(18,4))"
        return {
            "order_id": self.fk("order_hdr", order),
            "item_id": self.fk("item", pick("item", c["item"])),
            "seq_nbr": "1 + (i % 7)",
            "ord_qty": qty,
            "orig_ord_qty": qty,
            "alloc_qty": f"cast(floor({qty} * {r('aq')}) as decimal(18,4))",
            "sale_price": f"cast(round(2 + {r('sp')} * 300, 2) as decimal(18,4))",
            "cost": f"cast(round(1 + {r('co')} * 200, 2) as decimal(18,4))",
        }

    def _allocation(self, **k: Any) -> dict[str, Any]:
        c, r, pick = self.c, k["r"], k["pick"]
        line = f"(1 + ((i - 1) * {c['order_dtl']}) // {c['allocation']})"
        if k["later"]:
            line = pick("line", c["order_dtl"])
        inv = pick("inv", c["inventory"])
        qty = f"cast({pick('q', 24)} as decimal(18,4))"
        picked = f"{r('pk')} < 0.7"
        return {
            "order_dtl_id": self.fk("order_dtl", line),
            "from_inventory_id": self.fk("inventory", inv),
            "to_inventory_id": self.fk("inventory", inv, null_if=f"not ({picked})"),
            "alloc_qty": qty,
            "packed_qty": f"case when {picked} then cast(floor({qty} * {r('pq')}) as decimal(18,4)) else 0 end",
            "is_picking_flg": f"{r('ip')} < 0.2",
            "pick_locn_str": "'L' || lpad(cast(" + pick("pl", c["location"]) + " as varchar), 8, '0')",
            "pick_user": f"case when {picked} then {USERS}[{pick('pu', 6)}] end",
            "picked_ts": f"case when {picked} then {k['mod']} end",
            "final_oblpn_nbr": f"case when {picked} then 'OLPN' || lpad({pick('ol', 99999)}::varchar, 8, '0') end",
            "task_seq_nbr": pick("ts", 40),
        }
