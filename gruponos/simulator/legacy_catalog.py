"""The eight entities the simulator served before it owned its schema (transition copy; the sim branch replaces it).

Field names are the real Oracle WMS ``lgfapi`` names (see shared/reference/wms-api.md).
The *wire* shape (what the API sends) and the *table* shape (what we store, FK objects
flattened) are both derived from the same declaration here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import pyarrow as pa

__all__ = [
    "CATALOG",
    "DECIMAL_TYPE",
    "Check",
    "Column",
    "EntitySpec",
    "Field",
    "Kind",
    "SyncClass",
    "entity",
]

# Quantities, prices and weights travel as strings such as "12.5000"; stored exactly.
DECIMAL_TYPE = pa.decimal128(28, 8)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")


class Kind(StrEnum):
    """What a WMS field is on the wire."""

    INT = "int"  # plain integer
    STR = "str"  # text, with a max length
    DECIMAL = "decimal"  # JSON string holding an exact decimal
    TS = "ts"  # ISO-8601 datetime with a UTC offset
    DATE = "date"  # YYYY-MM-DD
    FLG = "flg"  # boolean
    STATUS = "status"  # bare integer status code (status_id is never an FK object)
    FK = "fk"  # {"id", "key", "url"} or null
    SET = "set"  # {"result_count", "url"} or null


class SyncClass(StrEnum):
    """Operational data syncs incrementally on ``mod_ts``; master data is fully re-read."""

    OPERATIONAL = "operational"
    MASTER = "master"


@dataclass(frozen=True, slots=True)
class Field:
    """One field as the WMS API sends it."""

    name: str
    kind: Kind
    max_length: int | None = None
    target: str | None = None  # FK: the related entity; SET: the child entity
    via: str | None = None  # SET: the child's FK field pointing back here
    required: bool = False

    @property
    def base(self) -> str:
        """The name without its ``_id``/``_set`` suffix (``facility_id`` → ``facility``)."""
        for suffix in ("_id", "_set"):
            if self.name.endswith(suffix):
                return self.name[: -len(suffix)]
        return self.name

    def columns(self) -> tuple[Column, ...]:
        """The table columns this field becomes once flattened."""
        if self.kind is Kind.FK:
            return (
                Column(f"{self.base}_id", pa.int64(), self),
                Column(f"{self.base}_key", pa.string(), self, max_length=255),
            )
        if self.kind is Kind.SET:
            return (Column(f"{self.base}_count", pa.int64(), self),)
        return (Column(self.name, _ARROW[self.kind], self, max_length=self.max_length),)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the flattened (table) shape."""

    name: str
    type: pa.DataType
    source: Field
    max_length: int | None = None


_ARROW: dict[Kind, pa.DataType] = {
    Kind.INT: pa.int64(),
    Kind.STATUS: pa.int64(),
    Kind.STR: pa.string(),
    Kind.DECIMAL: DECIMAL_TYPE,
    Kind.TS: TIMESTAMP_TYPE,
    Kind.DATE: pa.date32(),
    Kind.FLG: pa.bool_(),
}


@dataclass(frozen=True, slots=True)
class Check:
    """A business rule on flattened columns, declared with its entity.

    ``non_negative``: every named column is >= 0 when present.
    ``not_greater``: ``columns[0] <= columns[1]`` when both are present.
    """

    kind: Literal["non_negative", "not_greater"]
    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        if self.kind == "not_greater":
            return f"{self.columns[0]}_le_{self.columns[1]}"
        return f"non_negative:{','.join(self.columns)}"


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """One WMS entity: its fields, keys and how it is synced."""

    name: str
    fields: tuple[Field, ...]
    sync_class: SyncClass
    primary_key: str = "id"
    replication_key: str = "mod_ts"
    description: str = ""
    checks: tuple[Check, ...] = ()
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {f.name: f for f in self.fields}
        if len(by_name) != len(self.fields):
            raise ValueError(f"entity {self.name}: duplicate field names")
        for required in (self.primary_key, self.replication_key):
            if required not in by_name:
                raise ValueError(f"entity {self.name}: missing key field {required!r}")
        columns = {c.name for f in self.fields for c in f.columns()}
        for check in self.checks:
            if unknown := set(check.columns) - columns:
                raise ValueError(f"entity {self.name}: check {check.name} names unknown columns {sorted(unknown)}")
        object.__setattr__(self, "_by_name", by_name)

    def field(self, name: str) -> Field:
        """The field called ``name`` (KeyError names the entity)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"entity {self.name} has no field {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self._by_name

    @property
    def columns(self) -> tuple[Column, ...]:
        return tuple(c for f in self.fields for c in f.columns())

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of decoded, flattened batches."""
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])

    @property
    def fks(self) -> Iterator[Field]:
        return (f for f in self.fields if f.kind is Kind.FK)

    @property
    def incremental(self) -> bool:
        return self.sync_class is SyncClass.OPERATIONAL


# --- building blocks -----------------------------------------------------------------


def _audit() -> tuple[Field, ...]:
    return (
        Field("create_user", Kind.STR, 255),
        Field("create_ts", Kind.TS),
        Field("mod_user", Kind.STR, 255),
        Field("mod_ts", Kind.TS, required=True),
    )


def _id() -> Field:
    return Field("id", Kind.INT, required=True)


def _fk(name: str, target: str, *, required: bool = False) -> Field:
    return Field(name, Kind.FK, target=target, required=required)


def _s(name: str, length: int = 255) -> Field:
    return Field(name, Kind.STR, length)


def _d(name: str) -> Field:
    return Field(name, Kind.DECIMAL)


def _custom(prefix: Literal["cust"] = "cust") -> tuple[Field, ...]:
    """The order header's customer-defined fields (cust_field_1..5 and friends)."""
    return (
        *(_s(f"{prefix}_field_{i}", 255) for i in range(1, 6)),
        *(_s(f"{prefix}_short_text_{i}", 30) for i in range(1, 13)),
        *(Field(f"{prefix}_date_{i}", Kind.DATE) for i in range(1, 6)),
        *(_d(f"{prefix}_decimal_{i}") for i in range(1, 6)),
        *(Field(f"{prefix}_number_{i}", Kind.INT) for i in range(1, 6)),
    )


# --- the entities ----------------------------------------------------------------------

COMPANY = EntitySpec(
    name="company",
    sync_class=SyncClass.MASTER,
    description="A company (tenant business unit) whose data the user may read.",
    fields=(
        _id(),
        _s("code", 25),
        _s("name", 255),
        _fk("parent_company_id", "company"),
        _s("address_1", 255),
        _s("city", 40),
        _s("state", 3),
        _s("zip", 10),
        _s("country", 2),
        _s("phone_nbr", 30),
        Field("active_flg", Kind.FLG),
        *_audit(),
    ),
)

FACILITY = EntitySpec(
    name="facility",
    sync_class=SyncClass.MASTER,
    description="A warehouse (distribution centre).",
    fields=(
        _id(),
        _s("code", 25),
        _s("name", 255),
        _fk("parent_company_id", "company", required=True),
        _fk("facility_type_id", "facility_type"),
        _s("city", 40),
        _s("state", 3),
        _s("country", 2),
        _s("time_zone", 64),
        Field("active_flg", Kind.FLG),
        *_audit(),
    ),
)

ITEM = EntitySpec(
    name="item",
    sync_class=SyncClass.MASTER,
    description="A stock-keeping unit of a company.",
    checks=(Check("non_negative", ("unit_cost", "std_pack_qty", "std_case_qty")),),
    fields=(
        _id(),
        _fk("company_id", "company", required=True),
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
        Field("is_perishable_flg", Kind.FLG),
        Field("status_id", Kind.STATUS),
        *_audit(),
    ),
)

LOCATION = EntitySpec(
    name="location",
    sync_class=SyncClass.MASTER,
    description="A storage or pick location in a facility.",
    fields=(
        _id(),
        _fk("facility_id", "facility", required=True),
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
        Field("pick_seq", Kind.INT),
        Field("lock_for_location_count_flg", Kind.FLG),
        *_audit(),
    ),
)

INVENTORY = EntitySpec(
    name="inventory",
    sync_class=SyncClass.MASTER,
    description="Stock on hand: an item's quantity in a location (or container).",
    checks=(Check("non_negative", ("curr_qty", "orig_qty", "pack_qty", "case_qty")),),
    fields=(
        _id(),
        _fk("facility_id", "facility", required=True),
        _fk("item_id", "item", required=True),
        _fk("location_id", "location"),
        _fk("container_id", "container"),
        _fk("invn_attr_id", "inventory_attribute"),
        _d("curr_qty"),
        _d("orig_qty"),
        _d("pack_qty"),
        _d("case_qty"),
        Field("status_id", Kind.STATUS),
        Field("priority_date", Kind.DATE),
        *_audit(),
    ),
)

ORDER_HDR = EntitySpec(
    name="order_hdr",
    sync_class=SyncClass.OPERATIONAL,
    description="An outbound order header.",
    checks=(Check("non_negative", ("total_orig_ord_qty",)),),
    fields=(
        _id(),
        _fk("company_id", "company", required=True),
        _fk("facility_id", "facility", required=True),
        _s("order_nbr", 50),
        _fk("order_type_id", "order_type"),
        Field("status_id", Kind.STATUS),
        Field("ord_date", Kind.DATE),
        Field("req_ship_date", Kind.DATE),
        Field("sched_ship_date", Kind.DATE),
        Field("start_ship_date", Kind.DATE),
        Field("stop_ship_date", Kind.DATE),
        Field("order_shipped_ts", Kind.TS),
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
        Field("priority", Kind.INT),
        Field("order_dtl_set", Kind.SET, target="order_dtl", via="order_id"),
        *_custom(),
        *_audit(),
    ),
)

ORDER_DTL = EntitySpec(
    name="order_dtl",
    sync_class=SyncClass.OPERATIONAL,
    description="An outbound order line.",
    checks=(Check("non_negative", ("ord_qty", "orig_ord_qty", "alloc_qty", "ordered_uom_qty")),),
    fields=(
        _id(),
        _fk("order_id", "order_hdr", required=True),
        _fk("item_id", "item", required=True),
        Field("seq_nbr", Kind.INT),
        _d("ord_qty"),
        _d("orig_ord_qty"),
        _d("alloc_qty"),
        _fk("ordered_uom_id", "uom"),
        _d("ordered_uom_qty"),
        _d("sale_price"),
        _d("cost"),
        _d("unit_declared_value"),
        Field("status_id", Kind.STATUS),
        _s("po_nbr", 50),
        _s("shipment_nbr", 50),
        _s("lock_code", 10),
        _fk("invn_attr_id", "inventory_attribute"),
        Field("allocation_set", Kind.SET, target="allocation", via="order_dtl_id"),
        _s("cust_field_1", 255),
        _s("cust_field_2", 255),
        *_audit(),
    ),
)

ALLOCATION = EntitySpec(
    name="allocation",
    sync_class=SyncClass.OPERATIONAL,
    description="Inventory allocated to an order line (what to pick, from where, how much).",
    checks=(Check("non_negative", ("alloc_qty", "packed_qty")), Check("not_greater", ("packed_qty", "alloc_qty"))),
    fields=(
        _id(),
        _d("alloc_qty"),
        _d("packed_qty"),
        _fk("alloc_uom_id", "uom"),
        _fk("cartonize_uom_id", "uom"),
        _s("final_oblpn_nbr", 50),
        _fk("from_inventory_id", "inventory"),
        _fk("to_inventory_id", "inventory"),
        Field("is_picking_flg", Kind.FLG),
        _fk("mhe_system_id", "mhe_system"),
        _fk("ob_lpn_type_id", "ob_lpn_type"),
        _fk("order_dtl_id", "order_dtl", required=True),
        _s("pick_locn_str", 50),
        _s("pick_user", 255),
        Field("picked_ts", Kind.TS),
        Field("status_id", Kind.STATUS),
        _fk("task_id", "task"),
        Field("task_seq_nbr", Kind.INT),
        _fk("type_id", "allocation_type"),
        _fk("wave_id", "wave"),
        *_audit(),
    ),
)

CATALOG: dict[str, EntitySpec] = {
    spec.name: spec for spec in (ALLOCATION, ORDER_HDR, ORDER_DTL, ITEM, LOCATION, INVENTORY, FACILITY, COMPANY)
}


def entity(name: str) -> EntitySpec:
    """The catalog entry for ``name``; the error lists the known entities."""
    try:
        return CATALOG[name]
    except KeyError:
        known = ", ".join(sorted(CATALOG))
        raise KeyError(f"unknown entity {name!r}; known entities: {known}") from None
