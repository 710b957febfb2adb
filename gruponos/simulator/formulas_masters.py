"""Formulas for the entities outside both chains: master data, locks, batches, metrics, history."""

from __future__ import annotations

from typing import Any

from gruponos.simulator.formulas_base import FormulaBase
from gruponos.simulator.schema import LOOKUP_ROWS

__all__ = ["MasterFormulas"]


class MasterFormulas(FormulaBase):
    """The rows of the parties, items, places and the records that hang off them."""

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
