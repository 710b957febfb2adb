"""The inbound chain as formulas: purchase orders, their ASNs, the containers received and the stock in them.

Purchase order ``p`` has lines ``3p-2..3p``, is shipped on ASN ``p``, and each line is received
in its own container of the PO's facility; 70 % of inventory sits in a container (in that
container's location, holding the line's item when it was received). Each fact is a function of
the other row's index, so the foreign keys agree without joins.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gruponos.simulator.formulas_base import ASN_LINES_PER_PO, HISTORY_DAYS, USERS, FormulaBase, ts_sql, us

__all__ = ["InboundFormulas"]


class InboundFormulas(FormulaBase):
    """The inbound chain's facts, and the rows of the entities made from it."""

    # --- the chain: PO p has lines 3p-2..3p, shipped on ASN p, received in containers -------

    def po_of_line(self, j: str) -> str:
        return f"(1 + (({j}) - 1) // {ASN_LINES_PER_PO})"

    def item_of_line(self, j: str) -> str:
        return self.pick(j, "purchase_order_dtl:item", self.c["item"])

    def po_status(self, p: str) -> str:
        """0 created (in transit), 10 in receiving, 90 received, 99 cancelled."""
        x = self.u(p, "purchase_order_hdr:status")
        return f"(case when {x} < 0.1 then 0 when {x} < 0.2 then 10 when {x} < 0.97 then 90 else 99 end)"

    def line_received(self, j: str) -> str:
        p = self.po_of_line(j)
        return f"({self.po_status(p)} = 90 or ({self.po_status(p)} = 10 and (({j}) - 1) % {ASN_LINES_PER_PO} = 0))"

    def line_qty(self, j: str) -> str:
        return f"cast(6 * {self.pick(j, 'purchase_order_dtl:q', 40)} as decimal(18,4))"

    def shipped_qty(self, j: str) -> str:
        p = self.po_of_line(j)
        short = f"floor({self.u(j, 'purchase_order_dtl:short')} * 3)"
        return f"cast(case when {self.po_status(p)} = 99 then 0 else {self.line_qty(j)} - {short} end as decimal(18,4))"

    def received_qty(self, j: str) -> str:
        damaged = f"(case when {self.u(j, 'ib_shipment_dtl:dmg')} < 0.1 then 1 else 0 end)"
        return (
            f"cast(case when {self.line_received(j)} then greatest(0, {self.shipped_qty(j)} - {damaged}) "
            "else 0 end as decimal(18,4))"
        )

    def po_day(self, p: str) -> str:
        span = us(timedelta(days=HISTORY_DAYS - 10))
        first = ts_sql(self.epoch - timedelta(days=HISTORY_DAYS))
        return f"{first} + to_microseconds(cast({self.u(p, 'po:day')} * {span} as bigint))"

    def checkin_ts(self, p: str) -> str:
        return f"({self.po_day(p)} + to_microseconds(cast((2 + 3 * {self.u(p, 'po:ci')}) * 86400e6 as bigint)))"

    def rcvd_ts(self, j: str) -> str:
        p = self.po_of_line(j)
        return f"({self.checkin_ts(p)} + to_microseconds(cast({self.u(j, 'line:rcv')} * 6 * 3600e6 as bigint)))"

    def putaway_ts(self, j: str) -> str:
        return (
            f"({self.rcvd_ts(j)} + to_microseconds(cast((600 + {self.u(j, 'line:pa')} * 20 * 3600) * 1e6 as bigint)))"
        )

    def trailer(self, p: str) -> str:
        """The trailer ASN ``p`` arrived on."""
        return f"'TRL' || lpad(cast({self.pick(p, 'ib_shipment:trl', 900)} as varchar), 4, '0')"

    def container_of_line(self, j: str) -> str:
        """The LPN line ``j`` was shipped in: the k-th container of its PO's facility."""
        f_count = self.c["facility"]
        p = self.po_of_line(j)
        k = f"(3 * ((({p}) - 1) // {f_count}) + (({j}) - 1) % {ASN_LINES_PER_PO})"
        return f"({self.facility_of(p)} + {f_count} * {k})"

    def line_of_container(self, c: str) -> str:
        """The ASN line container ``c`` was received on (null for the others)."""
        f_count = self.c["facility"]
        k = f"((({c}) - 1) // {f_count})"
        p = f"({self.facility_of(c)} + {f_count} * ({k} // 3))"
        j = f"({ASN_LINES_PER_PO} * ({p} - 1) + {k} % 3 + 1)"
        return f"(case when {p} <= {self.c['purchase_order_hdr']} then {j} end)"

    def container_status(self, c: str) -> str:
        j = self.line_of_container(c)
        p = self.po_of_line(j)
        located = f"(case when {self.u(c, 'container:consumed')} < 0.2 then 95 else 30 end)"
        return (
            f"(case when {j} is null then {located} when {self.line_received(j)} then {located} "
            f"when {self.po_status(p)} = 99 then 99 else 0 end)"
        )

    def container_location(self, c: str) -> str:
        per_facility = self.c["location"] // self.c["facility"]
        slot = f"cast(hash({c}, {self.seed}, 'container:loc') % {per_facility} as bigint)"
        return f"({self.facility_of(c)} + {self.c['facility']} * {slot})"

    # --- the rows ---------------------------------------------------------------------

    def _inbound(self, *, later: bool) -> dict[str, Any]:
        """What PO ``i`` and its ASN ``i`` share: facility, company, vendor and status."""
        facility = self.facility_of("i")
        return {
            "facility_id": self.fk("facility", facility),
            "company_id": self.fk("company", self.company_of_facility(facility)),
            "vendor_id": self.fk("vendor", self.pick("i", "purchase_order_hdr:vendor", self.c["vendor"])),
            "status_id": self.po_status("i") if not later else "0",
        }

    def _purchase_order_hdr(self, **k: Any) -> dict[str, Any]:
        pick = k["pick"]
        return self._inbound(later=k["later"]) | {
            "po_nbr": self.key("purchase_order_hdr", "i"),
            "ord_date": "cast(_created as date)",
            "ship_date": "cast(_created as date) + 1",
            "delivery_date": f"cast(_created as date) + cast(2 + {pick('dd', 5)} as integer)",
            "cancel_date": "cast(_created as date) + 30",
            "dept_code": "['FERRAGENS', 'ELETRICA', 'EPI', 'EMBALAGEM'][" + pick("dept", 4) + "]",
            "ref_nbr": "'REF' || i",
        }

    def _purchase_order_dtl(self, **k: Any) -> dict[str, Any]:
        po = (
            self.po_of_line("i")
            if not k["later"]
            else self.pick("i", "purchase_order_dtl:po", self.c["purchase_order_hdr"])
        )
        item = self.item_of_line("i")
        received = self.line_received("i") if not k["later"] else "false"
        status = f"(case when {self.po_status(po)} = 99 then 99 when {received} then 90 else {self.po_status(po)} end)"
        return {
            "po_id": self.fk("purchase_order_hdr", po),
            "seq_nbr": f"1 + (i - 1) % {ASN_LINES_PER_PO}",
            "item_id": self.fk("item", item),
            "ord_qty": self.line_qty("i"),
            "orig_ord_qty": self.line_qty("i"),
            "shipped_qty": self.shipped_qty("i") if not k["later"] else "cast(0 as decimal(18,4))",
            "received_qty": self.received_qty("i") if not k["later"] else "cast(0 as decimal(18,4))",
            "unit_cost": f"cast(round(1 + {self.u(item, 'item:cost')} * 250, 2) as decimal(18,4))",
            "status_id": status if not k["later"] else "0",
        }

    def _ib_shipment(self, **k: Any) -> dict[str, Any]:
        pick = k["pick"]
        status = self.po_status("i") if not k["later"] else "0"
        return self._inbound(later=k["later"]) | {
            "shipment_nbr": self.key("ib_shipment", "i"),
            "trailer_nbr": self.trailer("i"),
            "load_nbr": "'LD' || lpad(cast(i as varchar), 7, '0')",
            "shipped_date": "cast(_created as date)",
            "appt_date": "cast(_created as date) + 1",
            "appt_time": f"cast(time '06:00:00' + to_minutes(30 * {pick('slot', 24)} - 30) as time)",
            "checkin_ts": f"case when {status} in (10, 90) then {self.checkin_ts('i')} end",
            "verified_ts": f"case when {status} = 90 then {self.checkin_ts('i')} + interval 8 hour end",
        }

    def _ib_shipment_dtl(self, **k: Any) -> dict[str, Any]:
        line = "i" if not k["later"] else self.pick("i", "ib_shipment_dtl:line", self.c["purchase_order_dtl"])
        po = self.po_of_line(line)
        return {
            "shipment_id": self.fk("ib_shipment", po),
            "seq_nbr": f"1 + ({line} - 1) % {ASN_LINES_PER_PO}",
            "item_id": self.fk("item", self.item_of_line(line)),
            "po_id": self.fk("purchase_order_hdr", po),
            "po_dtl_id": self.fk("purchase_order_dtl", line),
            "lpn_nbr": self.key("container", self.container_of_line(line)),
            "shipped_qty": self.shipped_qty(line),
            "received_qty": self.received_qty(line) if not k["later"] else "cast(0 as decimal(18,4))",
            "batch_number_id": self.fk(
                "batch_number",
                self.pick(line, "line:batch", self.c["batch_number"]),
                null_if=f"{self.u(line, 'line:nobatch')} < 0.5",
            ),
        }

    def _container(self, **k: Any) -> dict[str, Any]:
        u = k["u"]
        facility = self.facility_of("i")
        line = self.line_of_container("i") if not k["later"] else "cast(null as bigint)"
        po = self.po_of_line(line)
        received = f"({line} is not null and {self.line_received(line)})"
        status = self.container_status("i") if not k["later"] else "10"
        per_facility = k["per_facility"]
        slot = f"cast(hash(i, {self.seed}, 'container:prev') % {per_facility} as bigint)"
        prev = f"({facility} + {self.c['facility']} * {slot})"
        trailer = self.trailer(po)
        return {
            "facility_id": self.fk("facility", facility),
            "company_id": self.fk("company", self.company_of_facility(facility)),
            "container_nbr": self.key("container", "i"),
            "type": "'I'",
            "status_id": status,
            "curr_location_id": self.fk("location", self.container_location("i")),
            "prev_location_id": self.fk("location", prev, null_if=f"{u('i', 'container:moved')} < 0.7"),
            "priority_date": "cast(_created as date)",
            "rcvd_shipment_id": self.fk("ib_shipment", po, null_if=f"{line} is null"),
            "rcvd_ts": f"case when {received} then {self.rcvd_ts(line)} end",
            "rcvd_user": f"case when {received} then {USERS}[{self.pick(line, 'line:user', 6)}] end",
            "rcvd_trailer_nbr": f"case when {received} then {trailer} end",
            "first_putaway_ts": f"case when {received} and {status} in (30, 95) then {self.putaway_ts(line)} end",
            "putawaytype_id": self.fk(
                "putaway_type", self.pick("i", "container:pt", 4), null_if=f"{u('i', 'container:ptn')} < 0.5"
            ),
            "ref_po_nbr": f"case when {line} is not null then {self.key('purchase_order_hdr', po)} end",
            "ref_shipment_nbr": f"case when {line} is not null then {self.key('ib_shipment', po)} end",
        }

    def _ib_container(self, **k: Any) -> dict[str, Any]:
        line = "i" if not k["later"] else self.pick("i", "ib_container:line", self.c["purchase_order_dtl"])
        po = self.po_of_line(line)
        container = self.container_of_line(line)
        received = self.line_received(line)
        return {
            "shipment_id": self.fk("ib_shipment", po),
            "container_id": self.fk("container", container),
            "container_nbr": self.key("container", container),
            "status_id": self.container_status(container),
            "rcvd_ts": f"case when {received} then {self.rcvd_ts(line)} end",
            "rcvd_user": f"case when {received} then {USERS}[{self.pick(line, 'line:user', 6)}] end",
        }

    def _inventory(self, **k: Any) -> dict[str, Any]:
        c, pick = self.c, k["pick"]
        facility = k["facility"]
        # 70 % sits in a container of its facility (in that container's location), the rest loose.
        container = f"(1 + (i - 1) % {c['container']})"
        boxed = "(i % 10 < 7)"
        loose = f"({facility} + {c['facility']} * cast(hash(i, {self.seed}, 'loc') % {k['per_facility']} as bigint))"
        loc = f"(case when {boxed} then {self.container_location(container)} else {loose} end)"
        line = self.line_of_container(container)
        received = self.item_of_line(line)
        item = f"(case when {boxed} and {line} is not null then {received} else {pick('item', c['item'])} end)"
        qty = f"cast({pick('q', 500)} as decimal(18,4))"
        return {
            "facility_id": k["fac_fk"],
            "item_id": self.fk("item", item),
            "location_id": self.fk("location", loc),
            "container_id": self.fk("container", container, null_if=f"not {boxed}"),
            "curr_qty": qty,
            "orig_qty": qty,
            "priority_date": "cast(_created as date)",
        }
