"""Every tracked entity the simulated tenant serves, declared field by field, by area.

Each entity is a table of its fields (``schema_declare`` says how a line reads), between the
``id`` and the audit fields every tracked entity has. Eight of them (company, facility, item,
location, inventory, order_hdr, order_dtl and allocation) keep the wire shape the client's
hand-written catalog first expected.
"""

from __future__ import annotations

from gruponos.simulator.schema_declare import tracked

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

# A party's postal address and phone (companies, vendors).
_ADDRESS = """
    address_1  str  255
    city       str  40
    state      str  3
    zip        str  10
    country    str  2
    phone_nbr  str  30
"""

COMPANY = tracked(
    "company",
    f"""
    code               str    25
    name               str    255
    parent_company_id  fk     company
    {_ADDRESS}
    active_flg         flg
    """,
    natural_key="code CO01",
)

FACILITY = tracked(
    "facility",
    """
    code               str    25
    name               str    255
    parent_company_id  fk     company Y
    facility_type_id   fk     facility_type
    city               str    40
    state              str    3
    country            str    2
    time_zone          str    64
    active_flg         flg
    """,
    natural_key="code DC01",
)

VENDOR = tracked(
    "vendor",
    f"""
    company_id   fk     company Y
    vendor_code  str    25 Y
    name         str    255
    {_ADDRESS}
    email        str    255
    active_flg   flg
    """,
    natural_key="vendor_code V00001",
)

ITEM = tracked(
    "item",
    """
    company_id         fk     company Y
    code               str    50
    description        str    255
    barcode            str    100
    item_category_1    str    25
    unit_cost          decimal
    unit_length        decimal
    unit_width         decimal
    unit_height        decimal
    unit_weight        decimal
    unit_volume        decimal
    std_pack_qty       decimal
    std_case_qty       decimal
    is_perishable_flg  flg
    status_id          status
    """,
    natural_key="code ITM0000001",
)

ITEM_METRIC = tracked(
    "item_metric",
    """
    facility_id       fk     facility Y
    item_id           fk     item Y
    abc_class         str    1
    pick_count_30d    int
    units_picked_30d  decimal
    avg_daily_units   decimal
    last_pick_date    date
    """,
)

LOCATION = tracked(
    "location",
    """
    facility_id                  fk     facility Y
    locn_str                     str    50
    locn_brcd                    str    50
    area                         str    4
    aisle                        str    4
    bay                          str    4
    level                        str    4
    position                     str    4
    type_id                      fk     location_type
    max_units                    decimal
    max_volume                   decimal
    pick_seq                     int
    lock_for_location_count_flg  flg
    """,
    natural_key="locn_str L00000001",
)

# --- outbound: customer orders, their lines, the allocations that pick them ------------

# The order header's customer-defined fields.
_CUSTOM = "\n".join(
    [
        *(f"cust_field_{i} str 255" for i in range(1, 6)),
        *(f"cust_short_text_{i} str 30" for i in range(1, 13)),
        *(f"cust_date_{i} date" for i in range(1, 6)),
        *(f"cust_decimal_{i} decimal" for i in range(1, 6)),
        *(f"cust_number_{i} int" for i in range(1, 6)),
    ]
)

ORDER_HDR = tracked(
    "order_hdr",
    f"""
    company_id          fk     company Y
    facility_id         fk     facility Y
    order_nbr           str    50
    order_type_id       fk     order_type
    status_id           status
    ord_date            date
    req_ship_date       date
    sched_ship_date     date
    start_ship_date     date
    stop_ship_date      date
    order_shipped_ts    ts
    cust_name           str    100
    cust_nbr            str    50
    shipto_name         str    100
    shipto_addr         str    255
    shipto_addr2        str    255
    shipto_city         str    40
    shipto_state        str    3
    shipto_zip          str    10
    shipto_country      str    2
    shipto_phone_nbr    str    30
    shipto_email        str    255
    total_orig_ord_qty  decimal
    orig_sale_price     decimal
    priority            int
    order_dtl_set       set    order_dtl order_id
    {_CUSTOM}
    """,
    natural_key="order_nbr SO000000001",
)

ORDER_DTL = tracked(
    "order_dtl",
    """
    order_id             fk     order_hdr Y
    item_id              fk     item Y
    seq_nbr              int
    ord_qty              decimal
    orig_ord_qty         decimal
    alloc_qty            decimal
    ordered_uom_id       fk     uom
    ordered_uom_qty      decimal
    sale_price           decimal
    cost                 decimal
    unit_declared_value  decimal
    status_id            status
    po_nbr               str    50
    shipment_nbr         str    50
    lock_code            str    10
    invn_attr_id         fk     inventory_attribute
    allocation_set       set    allocation order_dtl_id
    cust_field_1         str    255
    cust_field_2         str    255
    """,
)

ALLOCATION = tracked(
    "allocation",
    """
    alloc_qty          decimal
    packed_qty         decimal
    alloc_uom_id       fk     uom
    cartonize_uom_id   fk     uom
    final_oblpn_nbr    str    50
    from_inventory_id  fk     inventory
    to_inventory_id    fk     inventory
    is_picking_flg     flg
    mhe_system_id      fk     mhe_system
    ob_lpn_type_id     fk     ob_lpn_type
    order_dtl_id       fk     order_dtl Y
    pick_locn_str      str    50
    pick_user          str    255
    picked_ts          ts
    status_id          status
    task_id            fk     task
    task_seq_nbr       int
    type_id            fk     allocation_type
    wave_id            fk     wave
    """,
)

# --- inbound: purchase orders, the ASNs they are shipped on, the containers received ---

PURCHASE_ORDER_HDR = tracked(
    "purchase_order_hdr",
    """
    facility_id             fk     facility Y
    company_id              fk     company Y
    po_nbr                  str    50 Y
    vendor_id               fk     vendor
    status_id               status
    po_type_id              fk     po_type
    ord_date                date
    ship_date               date
    delivery_date           date
    cancel_date             date
    dept_code               str    30
    ref_nbr                 str    50
    purchase_order_dtl_set  set    purchase_order_dtl po_id
    cust_field_1            str    255
    """,
    natural_key="po_nbr PO000000001",
)

PURCHASE_ORDER_DTL = tracked(
    "purchase_order_dtl",
    """
    po_id         fk     purchase_order_hdr Y
    seq_nbr       int
    item_id       fk     item Y
    ord_qty       decimal
    orig_ord_qty  decimal
    shipped_qty   decimal
    received_qty  decimal
    unit_cost     decimal
    uom_id        fk     uom
    status_id     status
    invn_attr_id  fk     inventory_attribute
    """,
)

IB_SHIPMENT = tracked(
    "ib_shipment",
    """
    facility_id          fk     facility Y
    company_id           fk     company Y
    shipment_nbr         str    50 Y
    shipment_type_id     fk     shipment_type
    status_id            status
    vendor_id            fk     vendor
    trailer_nbr          str    50
    load_nbr             str    50
    manifest_nbr         str    50
    shipped_date         date
    appt_date            date
    appt_time            time
    checkin_ts           ts
    verified_ts          ts
    ib_shipment_dtl_set  set    ib_shipment_dtl shipment_id
    """,
    natural_key="shipment_nbr ASN000000001",
)

IB_SHIPMENT_DTL = tracked(
    "ib_shipment_dtl",
    """
    shipment_id      fk     ib_shipment Y
    seq_nbr          int
    item_id          fk     item Y
    po_id            fk     purchase_order_hdr
    po_dtl_id        fk     purchase_order_dtl
    lpn_nbr          str    50
    shipped_qty      decimal
    received_qty     decimal
    batch_number_id  fk     batch_number
    expiry_date      date
    invn_attr_id     fk     inventory_attribute
    """,
)

IB_CONTAINER = tracked(
    "ib_container",
    """
    shipment_id    fk     ib_shipment Y
    container_id   fk     container Y
    container_nbr  str    50
    status_id      status
    rcvd_ts        ts
    rcvd_user      str    255
    """,
)

# --- inventory: stock, containers, attributes, locks, batches, history -----------------

INVENTORY = tracked(
    "inventory",
    """
    facility_id    fk     facility Y
    item_id        fk     item Y
    location_id    fk     location C
    container_id   fk     container C
    invn_attr_id   fk     inventory_attribute
    curr_qty       decimal
    orig_qty       decimal
    pack_qty       decimal
    case_qty       decimal
    status_id      status
    priority_date  date
    """,
    key_prefix="INV",
)

CONTAINER = tracked(
    "container",
    """
    facility_id       fk     facility Y
    company_id        fk     company Y
    container_nbr     str    50 Y
    type              str    1
    status_id         status
    curr_location_id  fk     location C
    prev_location_id  fk     location
    priority_date     date
    rcvd_shipment_id  fk     ib_shipment C
    rcvd_ts           ts
    rcvd_user         str    255
    rcvd_trailer_nbr  str    50
    first_putaway_ts  ts
    putawaytype_id    fk     putaway_type
    lpn_type_id       fk     lpn_type
    ref_po_nbr        str    50
    ref_shipment_nbr  str    50
    weight            decimal
    volume            decimal
    length            decimal
    width             decimal
    height            decimal
    """,
    natural_key="container_nbr LPN00000001",
)

CONTAINER_LOCK_XREF = tracked(
    "container_lock_xref",
    """
    container_id  fk     container Y
    lock_code_id  fk     inventory_lock Y
    """,
)

INVENTORY_ATTRIBUTE = tracked(
    "inventory_attribute",
    """
    company_id   fk     company Y
    invn_attr_a  str    255
    invn_attr_b  str    255
    invn_attr_c  str    255
    invn_attr_d  str    255
    invn_attr_e  str    255
    """,
    natural_key="invn_attr_a ATTR001",
)

INVENTORY_LOCK = tracked(
    "inventory_lock",
    """
    company_id            fk     company Y
    code                  str    25 Y
    description           str    255
    allow_allocation_flg  flg
    active_flg            flg
    """,
    natural_key="code LOCK01",
)

BATCH_NUMBER = tracked(
    "batch_number",
    """
    company_id        fk     company Y
    item_id           fk     item Y
    batch_nbr         str    50 Y
    manufacture_date  date
    expiry_date       date
    is_active_flg     flg
    """,
    natural_key="batch_nbr B00000001",
)

INVENTORY_HISTORY = tracked(
    "inventory_history",
    """
    company_id           fk     company Y
    facility_id          fk     facility Y
    history_activity_id  fk     history_activity Y
    status_id            status
    group_nbr            str    50
    item_code            str    50
    item_alternate_code  str    100
    container_nbr        str    50
    location             str    50
    po_nbr               str    50
    shipment_nbr         str    50
    orig_qty             decimal
    adj_qty              decimal
    reason_code          str    25
    ref_code_1           str    25
    ref_value_1          str    255
    """,
    # Oracle: "certain combinations of query string fields are required" on this large table.
    filter_rule=(
        ("company_id__code", "facility_id__code", "group_nbr"),
        ("company_id__code", "facility_id__code", "history_activity_id", "status_id"),
        ("company_id__code", "facility_id__code", "history_activity_id", "item_code"),
        ("company_id__code", "facility_id__code", "history_activity_id", "item_alternate_code"),
        ("company_id__code", "facility_id__code", "history_activity_id", "container_nbr"),
    ),
)
