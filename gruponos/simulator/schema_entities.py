"""Every tracked entity the simulated tenant serves, declared field by field, by area.

Eight of them (company, facility, item, location, inventory, order_hdr, order_dtl and
allocation) keep the wire shape the client's hand-written catalog first expected.
"""

from __future__ import annotations

from gruponos.simulator.schema_declare import (
    date,
    decimal,
    fk,
    flag,
    integer,
    related_set,
    status,
    text,
    timestamp,
    tracked,
)
from gruponos.simulator.schema_types import Field, Kind

__all__ = [
    "ALLOCATION",
    "BATCH_NUMBER",
    "COMPANY",
    "CONTAINER",
    "CONTAINER_LOCK_XREF",
    "FACILITY",
    "IB_CONTAINER",
    "IB_SHIPMENT",
    "IB_SHIPMENT_DTL",
    "INVENTORY",
    "INVENTORY_ATTRIBUTE",
    "INVENTORY_HISTORY",
    "INVENTORY_LOCK",
    "ITEM",
    "ITEM_METRIC",
    "LOCATION",
    "ORDER_DTL",
    "ORDER_HDR",
    "PURCHASE_ORDER_DTL",
    "PURCHASE_ORDER_HDR",
    "VENDOR",
]

# --- master data: parties, items, places -----------------------------------------------


def _address() -> tuple[Field, ...]:
    """A party's postal address and phone (companies, vendors)."""
    return (
        text("address_1", 255),
        text("city", 40),
        text("state", 3),
        text("zip", 10),
        text("country", 2),
        text("phone_nbr", 30),
    )


COMPANY = tracked(
    "company",
    text("code", 25),
    text("name", 255),
    fk("parent_company_id", "company"),
    *_address(),
    flag("active_flg"),
    key="code",
)

FACILITY = tracked(
    "facility",
    text("code", 25),
    text("name", 255),
    fk("parent_company_id", "company", "Y"),
    fk("facility_type_id", "facility_type"),
    text("city", 40),
    text("state", 3),
    text("country", 2),
    text("time_zone", 64),
    flag("active_flg"),
    key="code",
)

VENDOR = tracked(
    "vendor",
    fk("company_id", "company", "Y"),
    text("vendor_code", 25, "Y"),
    text("name", 255),
    *_address(),
    text("email", 255),
    flag("active_flg"),
    key="vendor_code",
)

ITEM = tracked(
    "item",
    fk("company_id", "company", "Y"),
    text("code", 50),
    text("description", 255),
    text("barcode", 100),
    text("item_category_1", 25),
    decimal("unit_cost"),
    decimal("unit_length"),
    decimal("unit_width"),
    decimal("unit_height"),
    decimal("unit_weight"),
    decimal("unit_volume"),
    decimal("std_pack_qty"),
    decimal("std_case_qty"),
    flag("is_perishable_flg"),
    status(),
    key="code",
)

ITEM_METRIC = tracked(
    "item_metric",
    fk("facility_id", "facility", "Y"),
    fk("item_id", "item", "Y"),
    text("abc_class", 1),
    integer("pick_count_30d"),
    decimal("units_picked_30d"),
    decimal("avg_daily_units"),
    date("last_pick_date"),
)

LOCATION = tracked(
    "location",
    fk("facility_id", "facility", "Y"),
    text("locn_str", 50),
    text("locn_brcd", 50),
    text("area", 4),
    text("aisle", 4),
    text("bay", 4),
    text("level", 4),
    text("position", 4),
    fk("type_id", "location_type"),
    decimal("max_units"),
    decimal("max_volume"),
    integer("pick_seq"),
    flag("lock_for_location_count_flg"),
    key="locn_str",
)

# --- outbound: customer orders, their lines, the allocations that pick them ------------


def _custom() -> tuple[Field, ...]:
    """The order header's customer-defined fields."""
    return (
        *(text(f"cust_field_{i}", 255) for i in range(1, 6)),
        *(text(f"cust_short_text_{i}", 30) for i in range(1, 13)),
        *(date(f"cust_date_{i}") for i in range(1, 6)),
        *(decimal(f"cust_decimal_{i}") for i in range(1, 6)),
        *(integer(f"cust_number_{i}") for i in range(1, 6)),
    )


ORDER_HDR = tracked(
    "order_hdr",
    fk("company_id", "company", "Y"),
    fk("facility_id", "facility", "Y"),
    text("order_nbr", 50),
    fk("order_type_id", "order_type"),
    status(),
    date("ord_date"),
    date("req_ship_date"),
    date("sched_ship_date"),
    date("start_ship_date"),
    date("stop_ship_date"),
    timestamp("order_shipped_ts"),
    text("cust_name", 100),
    text("cust_nbr", 50),
    text("shipto_name", 100),
    text("shipto_addr", 255),
    text("shipto_addr2", 255),
    text("shipto_city", 40),
    text("shipto_state", 3),
    text("shipto_zip", 10),
    text("shipto_country", 2),
    text("shipto_phone_nbr", 30),
    text("shipto_email", 255),
    decimal("total_orig_ord_qty"),
    decimal("orig_sale_price"),
    integer("priority"),
    related_set("order_dtl_set", "order_dtl", "order_id"),
    *_custom(),
    key="order_nbr",
)

ORDER_DTL = tracked(
    "order_dtl",
    fk("order_id", "order_hdr", "Y"),
    fk("item_id", "item", "Y"),
    integer("seq_nbr"),
    decimal("ord_qty"),
    decimal("orig_ord_qty"),
    decimal("alloc_qty"),
    fk("ordered_uom_id", "uom"),
    decimal("ordered_uom_qty"),
    decimal("sale_price"),
    decimal("cost"),
    decimal("unit_declared_value"),
    status(),
    text("po_nbr", 50),
    text("shipment_nbr", 50),
    text("lock_code", 10),
    fk("invn_attr_id", "inventory_attribute"),
    related_set("allocation_set", "allocation", "order_dtl_id"),
    text("cust_field_1", 255),
    text("cust_field_2", 255),
)

ALLOCATION = tracked(
    "allocation",
    decimal("alloc_qty"),
    decimal("packed_qty"),
    fk("alloc_uom_id", "uom"),
    fk("cartonize_uom_id", "uom"),
    text("final_oblpn_nbr", 50),
    fk("from_inventory_id", "inventory"),
    fk("to_inventory_id", "inventory"),
    flag("is_picking_flg"),
    fk("mhe_system_id", "mhe_system"),
    fk("ob_lpn_type_id", "ob_lpn_type"),
    fk("order_dtl_id", "order_dtl", "Y"),
    text("pick_locn_str", 50),
    text("pick_user", 255),
    timestamp("picked_ts"),
    status(),
    fk("task_id", "task"),
    integer("task_seq_nbr"),
    fk("type_id", "allocation_type"),
    fk("wave_id", "wave"),
)

# --- inbound: purchase orders, the ASNs they are shipped on, the containers received ---

PURCHASE_ORDER_HDR = tracked(
    "purchase_order_hdr",
    fk("facility_id", "facility", "Y"),
    fk("company_id", "company", "Y"),
    text("po_nbr", 50, "Y"),
    fk("vendor_id", "vendor"),
    status(),
    fk("po_type_id", "po_type"),
    date("ord_date"),
    date("ship_date"),
    date("delivery_date"),
    date("cancel_date"),
    text("dept_code", 30),
    text("ref_nbr", 50),
    related_set("purchase_order_dtl_set", "purchase_order_dtl", "po_id"),
    text("cust_field_1", 255),
    key="po_nbr",
)

PURCHASE_ORDER_DTL = tracked(
    "purchase_order_dtl",
    fk("po_id", "purchase_order_hdr", "Y"),
    integer("seq_nbr"),
    fk("item_id", "item", "Y"),
    decimal("ord_qty"),
    decimal("orig_ord_qty"),
    decimal("shipped_qty"),
    decimal("received_qty"),
    decimal("unit_cost"),
    fk("uom_id", "uom"),
    status(),
    fk("invn_attr_id", "inventory_attribute"),
)

IB_SHIPMENT = tracked(
    "ib_shipment",
    fk("facility_id", "facility", "Y"),
    fk("company_id", "company", "Y"),
    text("shipment_nbr", 50, "Y"),
    fk("shipment_type_id", "shipment_type"),
    status(),
    fk("vendor_id", "vendor"),
    text("trailer_nbr", 50),
    text("load_nbr", 50),
    text("manifest_nbr", 50),
    date("shipped_date"),
    date("appt_date"),
    Field("appt_time", Kind.TIME),
    timestamp("checkin_ts"),
    timestamp("verified_ts"),
    related_set("ib_shipment_dtl_set", "ib_shipment_dtl", "shipment_id"),
    key="shipment_nbr",
)

IB_SHIPMENT_DTL = tracked(
    "ib_shipment_dtl",
    fk("shipment_id", "ib_shipment", "Y"),
    integer("seq_nbr"),
    fk("item_id", "item", "Y"),
    fk("po_id", "purchase_order_hdr"),
    fk("po_dtl_id", "purchase_order_dtl"),
    text("lpn_nbr", 50),
    decimal("shipped_qty"),
    decimal("received_qty"),
    fk("batch_number_id", "batch_number"),
    date("expiry_date"),
    fk("invn_attr_id", "inventory_attribute"),
)

IB_CONTAINER = tracked(
    "ib_container",
    fk("shipment_id", "ib_shipment", "Y"),
    fk("container_id", "container", "Y"),
    text("container_nbr", 50),
    status(),
    timestamp("rcvd_ts"),
    text("rcvd_user", 255),
)

# --- inventory: stock, containers, attributes, locks, batches, history -----------------

INVENTORY = tracked(
    "inventory",
    fk("facility_id", "facility", "Y"),
    fk("item_id", "item", "Y"),
    fk("location_id", "location", "C"),
    fk("container_id", "container", "C"),
    fk("invn_attr_id", "inventory_attribute"),
    decimal("curr_qty"),
    decimal("orig_qty"),
    decimal("pack_qty"),
    decimal("case_qty"),
    status(),
    date("priority_date"),
    key_prefix="INV",
)

CONTAINER = tracked(
    "container",
    fk("facility_id", "facility", "Y"),
    fk("company_id", "company", "Y"),
    text("container_nbr", 50, "Y"),
    text("type", 1),
    status(),
    fk("curr_location_id", "location", "C"),
    fk("prev_location_id", "location"),
    date("priority_date"),
    fk("rcvd_shipment_id", "ib_shipment", "C"),
    timestamp("rcvd_ts"),
    text("rcvd_user", 255),
    text("rcvd_trailer_nbr", 50),
    timestamp("first_putaway_ts"),
    fk("putawaytype_id", "putaway_type"),
    fk("lpn_type_id", "lpn_type"),
    text("ref_po_nbr", 50),
    text("ref_shipment_nbr", 50),
    decimal("weight"),
    decimal("volume"),
    decimal("length"),
    decimal("width"),
    decimal("height"),
    key="container_nbr",
)

CONTAINER_LOCK_XREF = tracked(
    "container_lock_xref",
    fk("container_id", "container", "Y"),
    fk("lock_code_id", "inventory_lock", "Y"),
)

INVENTORY_ATTRIBUTE = tracked(
    "inventory_attribute",
    fk("company_id", "company", "Y"),
    text("invn_attr_a", 255),
    text("invn_attr_b", 255),
    text("invn_attr_c", 255),
    text("invn_attr_d", 255),
    text("invn_attr_e", 255),
    key="invn_attr_a",
)

INVENTORY_LOCK = tracked(
    "inventory_lock",
    fk("company_id", "company", "Y"),
    text("code", 25, "Y"),
    text("description", 255),
    flag("allow_allocation_flg"),
    flag("active_flg"),
    key="code",
)

BATCH_NUMBER = tracked(
    "batch_number",
    fk("company_id", "company", "Y"),
    fk("item_id", "item", "Y"),
    text("batch_nbr", 50, "Y"),
    date("manufacture_date"),
    date("expiry_date"),
    flag("is_active_flg"),
    key="batch_nbr",
)

INVENTORY_HISTORY = tracked(
    "inventory_history",
    fk("company_id", "company", "Y"),
    fk("facility_id", "facility", "Y"),
    fk("history_activity_id", "history_activity", "Y"),
    status(),
    text("group_nbr", 50),
    text("item_code", 50),
    text("item_alternate_code", 100),
    text("container_nbr", 50),
    text("location", 50),
    text("po_nbr", 50),
    text("shipment_nbr", 50),
    decimal("orig_qty"),
    decimal("adj_qty"),
    text("reason_code", 25),
    text("ref_code_1", 25),
    text("ref_value_1", 255),
    # Oracle: "certain combinations of query string fields are required" on this large table.
    filter_rule=(
        ("company_id__code", "facility_id__code", "group_nbr"),
        ("company_id__code", "facility_id__code", "history_activity_id", "status_id"),
        ("company_id__code", "facility_id__code", "history_activity_id", "item_code"),
        ("company_id__code", "facility_id__code", "history_activity_id", "item_alternate_code"),
        ("company_id__code", "facility_id__code", "history_activity_id", "container_nbr"),
    ),
)
