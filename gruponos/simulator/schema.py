"""The simulated tenant's own schema: every entity it serves, field by field.

The simulator plays the *other* side of the API, so it owns its schema instead of reading
the client's catalog. Field names are the real Oracle WMS ``lgfapi`` names where they are
known (shared/reference/wms-api.md, Oracle's REST API guide); the rest are plausible.

``describe`` speaks this type vocabulary (one word per :class:`Kind`):

=============  =====================================================================
``integer``    a whole number (``id``, counters, ``status_id``)
``string``     text; ``max_length`` gives its limit
``decimal``    an exact number sent as a JSON string (``"12.5000"``)
``datetime``   ISO-8601 with a UTC offset (``2026-11-01T10:00:00.000000-03:00``)
``date``       ``YYYY-MM-DD``
``time``       ``HH:MM:SS``
``boolean``    ``true``/``false``
``relation``   an FK object ``{"id", "key", "url"}``; ``related_entity`` names the target
               when the tenant serves it (else the object's ``url`` is blank)
``related set`` a child set ``{"result_count", "url"}``; ``related_entity`` names the child,
               ``related_field`` the child's FK back to this entity
=============  =====================================================================

``required`` is Oracle's letter: ``X`` or ``Y`` required, ``N`` not, ``C`` conditional.
Lookup entities (statuses, types) have no audit fields at all, so no ``mod_ts``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

__all__ = [
    "LOOKUP_ROWS",
    "REFERENCE_KEYS",
    "SCHEMA",
    "STATUS_CODES",
    "Entity",
    "Field",
    "Kind",
]

Required = Literal["X", "Y", "N", "C"]


class Kind(StrEnum):
    """What a field is on the wire."""

    INT = "integer"
    STATUS = "status"  # a bare integer status code (never an FK object)
    STR = "string"
    DECIMAL = "decimal"
    TS = "datetime"
    DATE = "date"
    TIME = "time"
    FLG = "boolean"
    FK = "relation"
    SET = "related set"


@dataclass(frozen=True, slots=True)
class Field:
    """One field as the API sends it."""

    name: str
    kind: Kind
    max_length: int | None = None
    target: str | None = None  # FK: the related entity (served or not); SET: the child entity
    via: str | None = None  # SET: the child's FK field pointing back here
    required: Required = "N"

    @property
    def mandatory(self) -> bool:
        return self.required in ("X", "Y")


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity the tenant serves."""

    name: str
    fields: tuple[Field, ...]
    key: str = "id"  # the field whose value is the ``key`` of FK objects pointing here…
    key_prefix: str = ""  # …after this prefix
    ordering: bool = True  # False: any ``ordering`` parameter answers 400
    # List requests must filter on one of these combinations (inventory_history does).
    filter_rule: tuple[tuple[str, ...], ...] = ()
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})
        if len(self._by_name) != len(self.fields):
            raise ValueError(f"entity {self.name}: duplicate field names")

    def field(self, name: str) -> Field:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"entity {self.name} has no field {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self._by_name

    @property
    def tracked(self) -> bool:
        """True when rows carry ``mod_ts`` (changes are stamped; Last-Modified is sent)."""
        return "mod_ts" in self._by_name

    @property
    def fks(self) -> Iterator[Field]:
        return (f for f in self.fields if f.kind is Kind.FK)

    @property
    def sets(self) -> Iterator[Field]:
        return (f for f in self.fields if f.kind is Kind.SET)


# --- building blocks -------------------------------------------------------------------


def _id() -> Field:
    return Field("id", Kind.INT, required="X")


def _audit() -> tuple[Field, ...]:
    return (
        Field("create_user", Kind.STR, 255),
        Field("create_ts", Kind.TS),
        Field("mod_user", Kind.STR, 255),
        Field("mod_ts", Kind.TS, required="Y"),
    )


def _fk(name: str, target: str, required: Required = "N") -> Field:
    return Field(name, Kind.FK, target=target, required=required)


def _s(name: str, length: int = 255, required: Required = "N") -> Field:
    return Field(name, Kind.STR, length, required=required)


def _d(name: str) -> Field:
    return Field(name, Kind.DECIMAL)


def _ts(name: str) -> Field:
    return Field(name, Kind.TS)


def _date(name: str) -> Field:
    return Field(name, Kind.DATE)


def _flg(name: str) -> Field:
    return Field(name, Kind.FLG)


def _int(name: str) -> Field:
    return Field(name, Kind.INT)


def _status() -> Field:
    return Field("status_id", Kind.STATUS)


def _set(name: str, child: str, via: str) -> Field:
    return Field(name, Kind.SET, target=child, via=via)


def _address() -> tuple[Field, ...]:
    """A party's postal address and phone (companies, vendors)."""
    return (
        _s("address_1", 255),
        _s("city", 40),
        _s("state", 3),
        _s("zip", 10),
        _s("country", 2),
        _s("phone_nbr", 30),
    )


def _custom() -> tuple[Field, ...]:
    """The order header's customer-defined fields."""
    return (
        *(_s(f"cust_field_{i}", 255) for i in range(1, 6)),
        *(_s(f"cust_short_text_{i}", 30) for i in range(1, 13)),
        *(_date(f"cust_date_{i}") for i in range(1, 6)),
        *(_d(f"cust_decimal_{i}") for i in range(1, 6)),
        *(_int(f"cust_number_{i}") for i in range(1, 6)),
    )


def _tracked(name: str, *fields: Field, **options: Any) -> Entity:
    """An entity whose rows are stamped: ``id`` first, the audit fields (with ``mod_ts``) last."""
    return Entity(name, (_id(), *fields, *_audit()), **options)


def _lookup(name: str, *extra: Field, key: str = "description", ordering: bool = True) -> Entity:
    """A status or type table: no audit fields, no ``mod_ts``."""
    return Entity(name, (_id(), *extra, _s("description", 255)), key=key, ordering=ordering)


# --- the eight entities whose wire shape the client's hand-written catalog expects -----

COMPANY = _tracked(
    "company",
    _s("code", 25),
    _s("name", 255),
    _fk("parent_company_id", "company"),
    *_address(),
    _flg("active_flg"),
    key="code",
)

FACILITY = _tracked(
    "facility",
    _s("code", 25),
    _s("name", 255),
    _fk("parent_company_id", "company", "Y"),
    _fk("facility_type_id", "facility_type"),
    _s("city", 40),
    _s("state", 3),
    _s("country", 2),
    _s("time_zone", 64),
    _flg("active_flg"),
    key="code",
)

ITEM = _tracked(
    "item",
    _fk("company_id", "company", "Y"),
    _s("code", 50),
    _s("description", 255),
    _s("barcode", 100),
    _s("item_category_1", 25),
    _d("unit_cost"),
    _d("unit_length"),
    _d("unit_width"),
    _d("unit_height"),
    _d("unit_weight"),
    _d("unit_volume"),
    _d("std_pack_qty"),
    _d("std_case_qty"),
    _flg("is_perishable_flg"),
    _status(),
    key="code",
)

LOCATION = _tracked(
    "location",
    _fk("facility_id", "facility", "Y"),
    _s("locn_str", 50),
    _s("locn_brcd", 50),
    _s("area", 4),
    _s("aisle", 4),
    _s("bay", 4),
    _s("level", 4),
    _s("position", 4),
    _fk("type_id", "location_type"),
    _d("max_units"),
    _d("max_volume"),
    _int("pick_seq"),
    _flg("lock_for_location_count_flg"),
    key="locn_str",
)

INVENTORY = _tracked(
    "inventory",
    _fk("facility_id", "facility", "Y"),
    _fk("item_id", "item", "Y"),
    _fk("location_id", "location", "C"),
    _fk("container_id", "container", "C"),
    _fk("invn_attr_id", "inventory_attribute"),
    _d("curr_qty"),
    _d("orig_qty"),
    _d("pack_qty"),
    _d("case_qty"),
    _status(),
    _date("priority_date"),
    key_prefix="INV",
)

ORDER_HDR = _tracked(
    "order_hdr",
    _fk("company_id", "company", "Y"),
    _fk("facility_id", "facility", "Y"),
    _s("order_nbr", 50),
    _fk("order_type_id", "order_type"),
    _status(),
    _date("ord_date"),
    _date("req_ship_date"),
    _date("sched_ship_date"),
    _date("start_ship_date"),
    _date("stop_ship_date"),
    _ts("order_shipped_ts"),
    _s("cust_name", 100),
    _s("cust_nbr", 50),
    _s("shipto_name", 100),
    _s("shipto_addr", 255),
    _s("shipto_addr2", 255),
    _s("shipto_city", 40),
    _s("shipto_state", 3),
    _s("shipto_zip", 10),
    _s("shipto_country", 2),
    _s("shipto_phone_nbr", 30),
    _s("shipto_email", 255),
    _d("total_orig_ord_qty"),
    _d("orig_sale_price"),
    _int("priority"),
    _set("order_dtl_set", "order_dtl", "order_id"),
    *_custom(),
    key="order_nbr",
)

ORDER_DTL = _tracked(
    "order_dtl",
    _fk("order_id", "order_hdr", "Y"),
    _fk("item_id", "item", "Y"),
    _int("seq_nbr"),
    _d("ord_qty"),
    _d("orig_ord_qty"),
    _d("alloc_qty"),
    _fk("ordered_uom_id", "uom"),
    _d("ordered_uom_qty"),
    _d("sale_price"),
    _d("cost"),
    _d("unit_declared_value"),
    _status(),
    _s("po_nbr", 50),
    _s("shipment_nbr", 50),
    _s("lock_code", 10),
    _fk("invn_attr_id", "inventory_attribute"),
    _set("allocation_set", "allocation", "order_dtl_id"),
    _s("cust_field_1", 255),
    _s("cust_field_2", 255),
)

ALLOCATION = _tracked(
    "allocation",
    _d("alloc_qty"),
    _d("packed_qty"),
    _fk("alloc_uom_id", "uom"),
    _fk("cartonize_uom_id", "uom"),
    _s("final_oblpn_nbr", 50),
    _fk("from_inventory_id", "inventory"),
    _fk("to_inventory_id", "inventory"),
    _flg("is_picking_flg"),
    _fk("mhe_system_id", "mhe_system"),
    _fk("ob_lpn_type_id", "ob_lpn_type"),
    _fk("order_dtl_id", "order_dtl", "Y"),
    _s("pick_locn_str", 50),
    _s("pick_user", 255),
    _ts("picked_ts"),
    _status(),
    _fk("task_id", "task"),
    _int("task_seq_nbr"),
    _fk("type_id", "allocation_type"),
    _fk("wave_id", "wave"),
)

# --- the rest of a distributor's tenant ------------------------------------------------

VENDOR = _tracked(
    "vendor",
    _fk("company_id", "company", "Y"),
    _s("vendor_code", 25, "Y"),
    _s("name", 255),
    *_address(),
    _s("email", 255),
    _flg("active_flg"),
    key="vendor_code",
)

ORDER_STATUS = _lookup("order_status")
INVENTORY_STATUS = _lookup("inventory_status")
PURCHASE_ORDER_STATUS = _lookup("purchase_order_status")
ORDER_TYPE = _lookup("order_type", _fk("company_id", "company", "Y"), _s("code", 25, "Y"), key="code")
PUTAWAY_TYPE = _lookup("putaway_type", _fk("company_id", "company", "Y"), _s("code", 25, "Y"), key="code")
# Tenants answer 400 to ordering on some entities; this one refuses any ordering.
HISTORY_ACTIVITY = _lookup("history_activity", ordering=False)

INVENTORY_ATTRIBUTE = _tracked(
    "inventory_attribute",
    _fk("company_id", "company", "Y"),
    _s("invn_attr_a", 255),
    _s("invn_attr_b", 255),
    _s("invn_attr_c", 255),
    _s("invn_attr_d", 255),
    _s("invn_attr_e", 255),
    key="invn_attr_a",
)

INVENTORY_LOCK = _tracked(
    "inventory_lock",
    _fk("company_id", "company", "Y"),
    _s("code", 25, "Y"),
    _s("description", 255),
    _flg("allow_allocation_flg"),
    _flg("active_flg"),
    key="code",
)

BATCH_NUMBER = _tracked(
    "batch_number",
    _fk("company_id", "company", "Y"),
    _fk("item_id", "item", "Y"),
    _s("batch_nbr", 50, "Y"),
    _date("manufacture_date"),
    _date("expiry_date"),
    _flg("is_active_flg"),
    key="batch_nbr",
)

ITEM_METRIC = _tracked(
    "item_metric",
    _fk("facility_id", "facility", "Y"),
    _fk("item_id", "item", "Y"),
    _s("abc_class", 1),
    _int("pick_count_30d"),
    _d("units_picked_30d"),
    _d("avg_daily_units"),
    _date("last_pick_date"),
)

PURCHASE_ORDER_HDR = _tracked(
    "purchase_order_hdr",
    _fk("facility_id", "facility", "Y"),
    _fk("company_id", "company", "Y"),
    _s("po_nbr", 50, "Y"),
    _fk("vendor_id", "vendor"),
    _status(),
    _fk("po_type_id", "po_type"),
    _date("ord_date"),
    _date("ship_date"),
    _date("delivery_date"),
    _date("cancel_date"),
    _s("dept_code", 30),
    _s("ref_nbr", 50),
    _set("purchase_order_dtl_set", "purchase_order_dtl", "po_id"),
    _s("cust_field_1", 255),
    key="po_nbr",
)

PURCHASE_ORDER_DTL = _tracked(
    "purchase_order_dtl",
    _fk("po_id", "purchase_order_hdr", "Y"),
    _int("seq_nbr"),
    _fk("item_id", "item", "Y"),
    _d("ord_qty"),
    _d("orig_ord_qty"),
    _d("shipped_qty"),
    _d("received_qty"),
    _d("unit_cost"),
    _fk("uom_id", "uom"),
    _status(),
    _fk("invn_attr_id", "inventory_attribute"),
)

IB_SHIPMENT = _tracked(
    "ib_shipment",
    _fk("facility_id", "facility", "Y"),
    _fk("company_id", "company", "Y"),
    _s("shipment_nbr", 50, "Y"),
    _fk("shipment_type_id", "shipment_type"),
    _status(),
    _fk("vendor_id", "vendor"),
    _s("trailer_nbr", 50),
    _s("load_nbr", 50),
    _s("manifest_nbr", 50),
    _date("shipped_date"),
    _date("appt_date"),
    Field("appt_time", Kind.TIME),
    _ts("checkin_ts"),
    _ts("verified_ts"),
    _set("ib_shipment_dtl_set", "ib_shipment_dtl", "shipment_id"),
    key="shipment_nbr",
)

IB_SHIPMENT_DTL = _tracked(
    "ib_shipment_dtl",
    _fk("shipment_id", "ib_shipment", "Y"),
    _int("seq_nbr"),
    _fk("item_id", "item", "Y"),
    _fk("po_id", "purchase_order_hdr"),
    _fk("po_dtl_id", "purchase_order_dtl"),
    _s("lpn_nbr", 50),
    _d("shipped_qty"),
    _d("received_qty"),
    _fk("batch_number_id", "batch_number"),
    _date("expiry_date"),
    _fk("invn_attr_id", "inventory_attribute"),
)

CONTAINER = _tracked(
    "container",
    _fk("facility_id", "facility", "Y"),
    _fk("company_id", "company", "Y"),
    _s("container_nbr", 50, "Y"),
    _s("type", 1),
    _status(),
    _fk("curr_location_id", "location", "C"),
    _fk("prev_location_id", "location"),
    _date("priority_date"),
    _fk("rcvd_shipment_id", "ib_shipment", "C"),
    _ts("rcvd_ts"),
    _s("rcvd_user", 255),
    _s("rcvd_trailer_nbr", 50),
    _ts("first_putaway_ts"),
    _fk("putawaytype_id", "putaway_type"),
    _fk("lpn_type_id", "lpn_type"),
    _s("ref_po_nbr", 50),
    _s("ref_shipment_nbr", 50),
    _d("weight"),
    _d("volume"),
    _d("length"),
    _d("width"),
    _d("height"),
    key="container_nbr",
)

IB_CONTAINER = _tracked(
    "ib_container",
    _fk("shipment_id", "ib_shipment", "Y"),
    _fk("container_id", "container", "Y"),
    _s("container_nbr", 50),
    _status(),
    _ts("rcvd_ts"),
    _s("rcvd_user", 255),
)

CONTAINER_LOCK_XREF = _tracked(
    "container_lock_xref",
    _fk("container_id", "container", "Y"),
    _fk("lock_code_id", "inventory_lock", "Y"),
)

INVENTORY_HISTORY = _tracked(
    "inventory_history",
    _fk("company_id", "company", "Y"),
    _fk("facility_id", "facility", "Y"),
    _fk("history_activity_id", "history_activity", "Y"),
    _status(),
    _s("group_nbr", 50),
    _s("item_code", 50),
    _s("item_alternate_code", 100),
    _s("container_nbr", 50),
    _s("location", 50),
    _s("po_nbr", 50),
    _s("shipment_nbr", 50),
    _d("orig_qty"),
    _d("adj_qty"),
    _s("reason_code", 25),
    _s("ref_code_1", 25),
    _s("ref_value_1", 255),
    # Oracle: "certain combinations of query string fields are required" on this large table.
    filter_rule=(
        ("company_id__code", "facility_id__code", "group_nbr"),
        ("company_id__code", "facility_id__code", "history_activity_id", "status_id"),
        ("company_id__code", "facility_id__code", "history_activity_id", "item_code"),
        ("company_id__code", "facility_id__code", "history_activity_id", "item_alternate_code"),
        ("company_id__code", "facility_id__code", "history_activity_id", "container_nbr"),
    ),
)

SCHEMA: dict[str, Entity] = {
    e.name: e
    for e in (
        ALLOCATION,
        ORDER_HDR,
        ORDER_DTL,
        ITEM,
        LOCATION,
        INVENTORY,
        FACILITY,
        COMPANY,
        CONTAINER,
        CONTAINER_LOCK_XREF,
        INVENTORY_ATTRIBUTE,
        BATCH_NUMBER,
        PURCHASE_ORDER_DTL,
        IB_SHIPMENT,
        IB_SHIPMENT_DTL,
        PURCHASE_ORDER_HDR,
        INVENTORY_LOCK,
        ITEM_METRIC,
        IB_CONTAINER,
        HISTORY_ACTIVITY,
        PUTAWAY_TYPE,
        ORDER_TYPE,
        PURCHASE_ORDER_STATUS,
        ORDER_STATUS,
        INVENTORY_STATUS,
        VENDOR,
        INVENTORY_HISTORY,
    )
}

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
