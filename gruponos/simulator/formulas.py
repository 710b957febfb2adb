"""The formulas every row of the simulated tenant is made from, as SQL over a row index ``i``.

Values come from ``hash(index, seed, salt)``, so the same seed and scale always give the same
tenant. Cross-entity facts (the item of a PO line, the container a line was received in,
the location of a container) are functions of the other row's index too, so foreign keys
agree without joins: purchase order ``p`` has lines ``3p-2..3p``, is shipped on ASN ``p``
and each line is received in its own container of the PO's facility; 70 % of inventory sits
in a container (in that container's location, holding the line's item when it was received).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gruponos.simulator.schema import LOOKUP_ROWS, REFERENCE_KEYS, SCHEMA, STATUS_CODES, Field, Kind

__all__ = ["HISTORY_DAYS", "Formulas", "row_counts"]

HISTORY_DAYS = 120  # rows were created in the days before the tenant's epoch

_USERS = "['ana.souza', 'bruno.lima', 'carla.dias', 'diego.rocha', 'edu.alves', 'fabi.nunes']"
_ASN_LINES_PER_PO = 3


def row_counts(scale: int) -> dict[str, int]:
    """Rows per entity: ``scale`` allocations, the rest in proportion (lookups: their rows)."""
    facilities = 3 + scale // 250_000
    pos = max(10, scale // 50)
    # Container c sits in facility 1 + (c - 1) % facilities, so their number is a multiple of it;
    # the first ones are the LPNs received on ASN lines (about one per line).
    containers = max(_ASN_LINES_PER_PO * facilities * -(-pos // facilities), scale // 10)
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
        "purchase_order_dtl": _ASN_LINES_PER_PO * pos,
        "ib_shipment": pos,
        "ib_shipment_dtl": _ASN_LINES_PER_PO * pos,
        "ib_container": _ASN_LINES_PER_PO * pos,
        "container": containers,
        "container_lock_xref": max(5, containers // 20),
        "inventory_history": max(50, scale // 20),
    }
    counts["item_metric"] = counts["item"]
    for name, rows in LOOKUP_ROWS.items():
        counts[name] = len(rows)
    return counts


def _ts_sql(ts: datetime) -> str:
    return f"timestamp '{ts.astimezone(UTC).replace(tzinfo=None).isoformat(sep=' ')}'"


def _us(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1_000_000)


# The natural keys of served entities: a prefix and the id padded to a width (CO01, SO000000042).
_KEY_FORMATS: dict[str, tuple[str, int]] = {
    "company": ("CO", 2),
    "facility": ("DC", 2),
    "item": ("ITM", 7),
    "location": ("L", 8),
    "order_hdr": ("SO", 9),
    "container": ("LPN", 8),
    "inventory_attribute": ("ATTR", 3),
    "vendor": ("V", 5),
    "batch_number": ("B", 8),
    "purchase_order_hdr": ("PO", 9),
    "ib_shipment": ("ASN", 9),
    "inventory_lock": ("LOCK", 2),
}


def _lpad(prefix: str, expr: str, width: int) -> str:
    return f"'{prefix}' || lpad(cast({expr} as varchar), {width}, '0')"


class Formulas:
    """SQL expressions for every field of every entity, as functions of a row index ``i``.

    Cross-entity facts (the item of a PO line, the container a line was received in) are
    functions of the other row's index too, so foreign keys agree without joins.
    """

    def __init__(self, *, seed: int, counts: dict[str, int], epoch: datetime) -> None:
        self.seed = seed
        self.c = counts
        self.epoch = epoch

    # --- primitives ----------------------------------------------------------------------

    def u(self, expr: str, salt: str) -> str:
        """A deterministic uniform value in [0, 1) of ``expr``."""
        return f"((hash({expr}, {self.seed}, '{salt}') % 1000003) / 1000003.0)"

    def pick(self, expr: str, salt: str, n: int | str) -> str:
        """A deterministic integer in [1, n] of ``expr``."""
        return f"cast(1 + (hash({expr}, {self.seed}, '{salt}') % ({n})) as bigint)"

    def key(self, target: str, ident: str) -> str:
        """SQL for the FK ``key`` of row ``ident`` of ``target`` (what its key field holds)."""
        if target in _KEY_FORMATS:
            prefix, width = _KEY_FORMATS[target]
            return _lpad(prefix, ident, width)
        match target:
            case "inventory":
                return f"'{SCHEMA['inventory'].key_prefix}' || cast({ident} as varchar)"
            case _ if target in LOOKUP_ROWS:
                spec = SCHEMA[target]
                at = [f.name for f in spec.fields].index(spec.key)
                lit = "[" + ", ".join(_quote(str(row[at])) for row in LOOKUP_ROWS[target]) + "]"
                ids = "[" + ", ".join(str(row[0]) for row in LOOKUP_ROWS[target]) + "]"
                return f"{lit}[list_position({ids}, {ident})]"
            case _ if target in REFERENCE_KEYS:
                lit = "[" + ", ".join(_quote(k) for k in REFERENCE_KEYS[target]) + "]"
                return f"{lit}[{ident}]"
            case _:
                return f"cast({ident} as varchar)"

    def fk(self, target: str, ident: str, *, null_if: str | None = None) -> tuple[str, str]:
        """(id, key) SQL of an FK to row ``ident`` of ``target``, null where ``null_if`` holds."""
        if null_if is None:
            return ident, self.key(target, ident)
        return (
            f"case when {null_if} then null else {ident} end",
            f"case when {null_if} then null else {self.key(target, ident)} end",
        )

    def size(self, target: str) -> int:
        if target in REFERENCE_KEYS:
            return len(REFERENCE_KEYS[target])
        return self.c[target]

    def default_fk(self, f: Field) -> tuple[str, str]:
        """An FK with no entity-specific rule: any row of its target (30 % null unless required)."""
        assert f.target is not None
        ident = self.pick("i", f"{self.scope}:{f.name}", self.size(f.target))
        if f.target in LOOKUP_ROWS:
            ids = "[" + ", ".join(str(r[0]) for r in LOOKUP_ROWS[f.target]) + "]"
            ident = f"{ids}[{ident}]"
        null = None if f.mandatory else f"{self.u('i', f'{self.scope}:{f.name}n')} < 0.3"
        return self.fk(f.target, ident, null_if=null)

    def default(self, f: Field) -> str:
        """SQL for a field with no entity-specific rule (custom fields mostly null)."""
        sparse = f.name.startswith("cust_")
        null = f"{self.u('i', f'{self.scope}:{f.name}n')} < {0.8 if sparse else 0.1}"
        r, pick = self.r, self.p
        kind_sql = {
            Kind.STR: f"left('{f.name[:6].upper()}-' || {pick(f.name, 997)}, {f.max_length or 255})",
            Kind.INT: f"{pick(f.name, 100)}",
            Kind.STATUS: f"{pick(f.name, 100)}",
            Kind.DECIMAL: f"cast(round({r(f.name)} * 1000, 2) as decimal(18,4))",
            Kind.DATE: f"cast(_created as date) + cast({pick(f.name, 30)} as integer)",
            Kind.TIME: "cast(date_trunc('second', _created) as time)",
            Kind.FLG: f"{r(f.name)} < 0.3",
            Kind.TS: "_created",
        }
        return f"case when {null} then null else {kind_sql[f.kind]} end"

    # Per-entity salted shorthands on the row index ``i`` (``scope`` is the entity generated).
    scope = ""

    def r(self, salt: str) -> str:
        return self.u("i", f"{self.scope}:{salt}")

    def p(self, salt: str, n: int | str) -> str:
        return self.pick("i", f"{self.scope}:{salt}", n)

    # --- the inbound chain: PO p has lines 3p-2..3p, shipped on ASN p, received in containers ---

    def facility_of(self, expr: str) -> str:
        return f"(1 + (({expr}) - 1) % {self.c['facility']})"

    def company_of_facility(self, expr: str) -> str:
        return f"(1 + (({expr}) - 1) % {self.c['company']})"

    def po_of_line(self, j: str) -> str:
        return f"(1 + (({j}) - 1) // {_ASN_LINES_PER_PO})"

    def item_of_line(self, j: str) -> str:
        return self.pick(j, "purchase_order_dtl:item", self.c["item"])

    def po_status(self, p: str) -> str:
        """0 created (in transit), 10 in receiving, 90 received, 99 cancelled."""
        x = self.u(p, "purchase_order_hdr:status")
        return f"(case when {x} < 0.1 then 0 when {x} < 0.2 then 10 when {x} < 0.97 then 90 else 99 end)"

    def line_received(self, j: str) -> str:
        p = self.po_of_line(j)
        return f"({self.po_status(p)} = 90 or ({self.po_status(p)} = 10 and (({j}) - 1) % {_ASN_LINES_PER_PO} = 0))"

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
        span = _us(timedelta(days=HISTORY_DAYS - 10))
        first = _ts_sql(self.epoch - timedelta(days=HISTORY_DAYS))
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
        k = f"(3 * ((({p}) - 1) // {f_count}) + (({j}) - 1) % {_ASN_LINES_PER_PO})"
        return f"({self.facility_of(p)} + {f_count} * {k})"

    def line_of_container(self, c: str) -> str:
        """The ASN line container ``c`` was received on (null for the others)."""
        f_count = self.c["facility"]
        k = f"((({c}) - 1) // {f_count})"
        p = f"({self.facility_of(c)} + {f_count} * ({k} // 3))"
        j = f"({_ASN_LINES_PER_PO} * ({p} - 1) + {k} % 3 + 1)"
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

    # --- rows ---------------------------------------------------------------------------

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
            created = f"{_ts_sql(start)} + to_microseconds(cast({self.r('create')} * {_us(end - start)} as bigint))"
        return f"select i, {created} as _created from range({lo}, {hi + 1}) t(i)"

    def expressions(self, name: str, until: datetime | None) -> dict[str, Any]:
        """Entity-specific SQL per field (``i`` the row index, ``_created`` its creation)."""
        self.scope = name
        c, r, pick, u = self.c, self.r, self.p, self.u
        later = until is None  # rows a change inserts: any existing parent
        if until is not None:
            mod = (
                f"_created + to_microseconds(cast({r('mod')} * {r('mod2')} * "
                f"(epoch_us({_ts_sql(until)}) - 1 - epoch_us(_created)) as bigint))"
            )
        else:  # rows stamped by a change: modified when created
            mod = "_created"
        e: dict[str, Any] = {"id": "i", "create_ts": "_created", "mod_ts": mod}
        if SCHEMA[name].tracked:
            e["create_user"] = f"{_USERS}[{pick('cu', 6)}]"
            e["mod_user"] = f"{_USERS}[{pick('mu', 6)}]"
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

    # Each builder returns the entity-specific expressions (keyword arguments are shared helpers).

    def _company(self, **k: Any) -> dict[str, Any]:
        return {
            "code": self.key("company", "i"),
            "name": "'Grupo Nos Company ' || i",
            "parent_company_id": self.fk("company", "1", null_if="i = 1"),
            "country": "'BR'",
            "state": "['SP', 'RJ', 'MG', 'PR'][" + k["pick"]("st", 4) + "]",
            "active_flg": "true",
        }

    def _facility(self, **k: Any) -> dict[str, Any]:
        company = self.company_of_facility("i")
        return {
            "code": self.key("facility", "i"),
            "name": "'Distribution Centre ' || i",
            "parent_company_id": self.fk("company", company),
            "country": "'BR'",
            "time_zone": "'America/Sao_Paulo'",
            "active_flg": "true",
        }

    def _item(self, **k: Any) -> dict[str, Any]:
        r, pick = k["r"], k["pick"]
        return {
            "company_id": k["co_fk"],
            "code": self.key("item", "i"),
            "description": "'Item ' || i || ' ' || ['bolt', 'cable', 'tape', 'box', 'glove', 'lamp']["
            + pick("d", 6)
            + "]",
            "barcode": "'789' || lpad(cast(i as varchar), 10, '0')",
            "unit_cost": f"cast(round(1 + {r('cost')} * 250, 2) as decimal(18,4))",
            "std_pack_qty": f"cast({pick('pk', 12)} as decimal(18,4))",
            "std_case_qty": f"cast(12 * {pick('cs', 4)} as decimal(18,4))",
        }

    def _location(self, **k: Any) -> dict[str, Any]:
        pick = k["pick"]
        return {
            "facility_id": k["fac_fk"],
            "locn_str": self.key("location", "i"),
            "locn_brcd": "'B' || lpad(cast(i as varchar), 8, '0')",
            "area": "['A', 'B', 'C', 'R'][" + pick("ar", 4) + "]",
            "aisle": f"lpad(cast({pick('ai', 40)} as varchar), 2, '0')",
            "bay": f"lpad(cast({pick('ba', 60)} as varchar), 2, '0')",
            "level": f"cast({pick('lv', 6)} as varchar)",
            "position": f"cast({pick('po', 4)} as varchar)",
            "pick_seq": "i",
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
            "pick_user": f"case when {picked} then {_USERS}[{pick('pu', 6)}] end",
            "picked_ts": f"case when {picked} then {k['mod']} end",
            "final_oblpn_nbr": f"case when {picked} then 'OLPN' || lpad({pick('ol', 99999)}::varchar, 8, '0') end",
            "task_seq_nbr": pick("ts", 40),
        }

    def _vendor(self, **k: Any) -> dict[str, Any]:
        pick = k["pick"]
        return {
            "company_id": self.fk("company", f"(1 + (i - 1) % {self.c['company']})"),
            "vendor_code": self.key("vendor", "i"),
            "name": "'Supplier ' || i || ' ' || ['Ltda', 'SA', 'Comercio', 'Industria'][" + pick("n", 4) + "]",
            "country": "'BR'",
            "state": "['SP', 'RJ', 'MG', 'PR', 'SC'][" + pick("st", 5) + "]",
            "active_flg": f"{k['r']('act')} < 0.95",
        }

    def _inventory_attribute(self, **k: Any) -> dict[str, Any]:
        pick = k["pick"]
        return {
            "company_id": self.fk("company", "1"),
            "invn_attr_a": self.key("inventory_attribute", "i"),
            "invn_attr_b": "['NEW', 'REFURB', 'RETURN'][" + pick("b", 3) + "]",
            "invn_attr_c": "['BR', 'CN', 'US', 'DE'][" + pick("c", 4) + "]",
        }

    def _inventory_lock(self, **k: Any) -> dict[str, Any]:
        reasons = "['Damaged', 'Quality hold', 'Recall', 'Expired', 'Count', 'Customs']"
        return {
            "company_id": self.fk("company", "1"),
            "code": self.key("inventory_lock", "i"),
            "description": f"{reasons}[1 + (i - 1) % 6] || ' ' || i",
            "allow_allocation_flg": "i % 4 = 0",
            "active_flg": "true",
        }

    def _batch_number(self, **k: Any) -> dict[str, Any]:
        pick = k["pick"]
        item = pick("item", self.c["item"])
        made = f"cast(_created as date) - cast({pick('age', 60)} as integer)"
        return {
            "company_id": self.fk("company", f"(1 + ({item} - 1) % {self.c['company']})"),
            "item_id": self.fk("item", item),
            "batch_nbr": self.key("batch_number", "i"),
            "manufacture_date": made,
            "expiry_date": f"{made} + cast(180 + {pick('life', 540)} as integer)",
            "is_active_flg": "true",
        }

    def _item_metric(self, **k: Any) -> dict[str, Any]:
        r, pick = k["r"], k["pick"]
        item = f"(1 + (i - 1) % {self.c['item']})"
        return {
            "facility_id": k["fac_fk"],
            "item_id": self.fk("item", item),
            "abc_class": f"case when {r('abc')} < 0.2 then 'A' when {r('abc')} < 0.5 then 'B' else 'C' end",
            "pick_count_30d": pick("pc", 400),
            "units_picked_30d": f"cast({pick('up', 4000)} as decimal(18,4))",
            "avg_daily_units": f"cast(round({pick('up', 4000)} / 30.0, 2) as decimal(18,4))",
            "last_pick_date": f"cast(_created as date) + cast({pick('lp', 20)} as integer)",
        }

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
            "seq_nbr": f"1 + (i - 1) % {_ASN_LINES_PER_PO}",
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
            "seq_nbr": f"1 + ({line} - 1) % {_ASN_LINES_PER_PO}",
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
            "rcvd_user": f"case when {received} then {_USERS}[{self.pick(line, 'line:user', 6)}] end",
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
            "rcvd_user": f"case when {received} then {_USERS}[{self.pick(line, 'line:user', 6)}] end",
        }

    def _container_lock_xref(self, **k: Any) -> dict[str, Any]:
        return {
            "container_id": self.fk("container", k["pick"]("c", self.c["container"])),
            "lock_code_id": self.fk("inventory_lock", k["pick"]("l", self.c["inventory_lock"])),
        }

    def _inventory_history(self, **k: Any) -> dict[str, Any]:
        c, r, pick = self.c, k["r"], k["pick"]
        facility = self.facility_of("i")
        item = pick("item", c["item"])
        activities = len(LOOKUP_ROWS["history_activity"])
        container = f"({facility} + {c['facility']} * ({pick('cn', max(1, c['container'] // c['facility']))} - 1))"
        return {
            "company_id": self.fk("company", self.company_of_facility(facility)),
            "facility_id": self.fk("facility", facility),
            "history_activity_id": self.fk("history_activity", pick("act", activities)),
            "group_nbr": "'G' || lpad(cast(1 + (i - 1) // 4 as varchar), 8, '0')",
            "item_code": self.key("item", item),
            "item_alternate_code": f"'789' || lpad(cast({item} as varchar), 10, '0')",
            "container_nbr": f"case when {r('nc')} < 0.3 then null else {self.key('container', container)} end",
            "location": self.key("location", pick("loc", c["location"])),
            "orig_qty": f"cast({pick('oq', 200)} as decimal(18,4))",
            "adj_qty": f"cast({pick('aq', 21)} - 11 as decimal(18,4))",
            "reason_code": "['CC', 'DMG', 'RCV', 'ADJ', 'PICK'][" + pick("rc", 5) + "]",
        }


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
