{% call gruponos.staging_model('purchase_order_dtl') %}
    ---------- ids
    id as po_dtl_id,
    po_id,
    item_id,

    ---------- codes and text
    po_key as po_nbr,
    item_key as item_code,
    uom_key as uom_code,
    invn_attr_key as inventory_attribute_code,
    seq_nbr as line_seq_nbr,

    ---------- numerics
    {{ gruponos.quantity('ord_qty') }} as ordered_qty,
    {{ gruponos.quantity('orig_ord_qty') }} as original_ordered_qty,
    {{ gruponos.quantity('shipped_qty') }} as shipped_qty,
    {{ gruponos.quantity('received_qty') }} as received_qty,
    {{ gruponos.quantity('unit_cost') }} as unit_cost,

    ---------- status
    status_id as status_code
{% endcall %}
