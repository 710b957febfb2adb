"""The status and type tables, and the codes and keys a tenant is configured with."""

from __future__ import annotations

from gruponos.simulator.schema_declare import lookup

__all__ = [
    "HISTORY_ACTIVITY",
    "INVENTORY_STATUS",
    "LOOKUP_ROWS",
    "ORDER_STATUS",
    "ORDER_TYPE",
    "PURCHASE_ORDER_STATUS",
    "PUTAWAY_TYPE",
    "REFERENCE_KEYS",
    "STATUS_CODES",
]


ORDER_STATUS = lookup("order_status")
INVENTORY_STATUS = lookup("inventory_status")
PURCHASE_ORDER_STATUS = lookup("purchase_order_status")
# A company's own types, named by a code.
_COMPANY_CODE = """
    company_id  fk   company Y
    code        str  25 Y
"""
ORDER_TYPE = lookup("order_type", _COMPANY_CODE, key="code")
PUTAWAY_TYPE = lookup("putaway_type", _COMPANY_CODE, key="code")
# Tenants answer 400 to ordering on some entities; this one refuses any ordering.
HISTORY_ACTIVITY = lookup("history_activity", ordering=False)

# --- tenant configuration (data, not published constants: each tenant has its own) -----

STATUS_CODES: dict[str, tuple[int, ...]] = {
    "allocation": (0, 10, 20, 30, 90, 99),
    "order_hdr": (0, 10, 20, 25, 27, 30, 40, 50, 90, 99),
    "order_dtl": (0, 10, 20, 25, 27, 30, 40, 90, 99),
    "item": (0, 1, 2),
    "inventory": (0, 10, 20),
    "container": (0, 10, 30, 40, 95, 99),
    "ib_container": (0, 10, 30, 40, 95, 99),
    "ib_shipment": (0, 10, 20, 90, 99),
    "purchase_order_hdr": (0, 10, 90, 99),
    "purchase_order_dtl": (0, 10, 90, 99),
    "inventory_history": (0, 10, 90),
}

# Rows of the lookup entities: (id, *values of the fields between id and description, description).
LOOKUP_ROWS: dict[str, tuple[tuple[object, ...], ...]] = {
    "order_status": (
        (0, "Created"),
        (10, "Partly Allocated"),
        (20, "Allocated"),
        (25, "In Picking"),
        (27, "Picked"),
        (30, "In Packing"),
        (40, "Packed"),
        (50, "Loaded"),
        (90, "Shipped"),
        (99, "Cancelled"),
    ),
    "inventory_status": ((0, "Available"), (10, "On Hold"), (20, "Locked")),
    "purchase_order_status": ((0, "Created"), (10, "In Receiving"), (90, "Received"), (99, "Cancelled")),
    "order_type": (
        (1, 1, "STD", "Standard order"),
        (2, 1, "RUSH", "Rush order"),
        (3, 1, "ECOM", "E-commerce order"),
        (4, 1, "B2B", "Business to business"),
        (5, 1, "TRANSFER", "Transfer between facilities"),
    ),
    "putaway_type": (
        (1, 1, "STD", "Standard putaway"),
        (2, 1, "HAZMAT", "Hazardous goods"),
        (3, 1, "COLD", "Cold chain"),
        (4, 1, "BULK", "Bulk reserve"),
    ),
    "history_activity": tuple(
        (i, text)
        for i, text in enumerate(
            (
                "Container Received",
                "Container Located",
                "Inventory Adjusted",
                "Inventory Locked",
                "Inventory Unlocked",
                "Container Split",
                "Container Consumed",
                "Inventory Moved",
                "Allocation Created",
                "Pick Confirmed",
                "Cycle Count",
                "Replenishment",
                "Order Shipped",
                "Load Shipped",
                "Receipt Reversed",
                "Shipment Verified",
                "Container Cancelled",
                "Inventory Attribute Changed",
            ),
            start=1,
        )
    ),
}

# FK targets the tenant does not serve: objects point at small pools of keys, with a blank url.
REFERENCE_KEYS: dict[str, tuple[str, ...]] = {
    "uom": ("UNITS", "CASE", "PACK", "PALLET", "INNER"),
    "facility_type": ("DC", "STORE", "3PL"),
    "location_type": ("ACTIVE", "RESERVE", "DROP", "DOCK"),
    "allocation_type": ("LPN", "UNITS", "CASE"),
    "ob_lpn_type": ("TOTE", "CARTON_S", "CARTON_M", "CARTON_L", "PALLET"),
    "lpn_type": ("PALLET", "CASE", "TOTE"),
    "mhe_system": ("SORTER1", "ASRS1"),
    "task": tuple(f"TSK{i:07d}" for i in range(1, 5001)),
    "wave": tuple(f"WV{i:06d}" for i in range(1, 501)),
    "po_type": ("STD", "DROPSHIP", "RETURN"),
    "shipment_type": ("ASN", "TRANSFER", "RETURN"),
}
