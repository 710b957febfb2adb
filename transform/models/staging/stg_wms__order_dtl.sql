{% call gruponos.staging_model('order_dtl') %}
    ---------- ids
    id as order_dtl_id,
    order_id,
    item_id,

    ---------- codes and text
    item_key as item_code,
    ordered_uom_key as ordered_uom_code,
    invn_attr_key as inventory_attribute_code,
    seq_nbr as line_seq_nbr,
    po_nbr,
    shipment_nbr,
    lock_code,

    ---------- numerics
    {{ gruponos.quantity('ord_qty') }} as ordered_qty,
    {{ gruponos.quantity('orig_ord_qty') }} as original_ordered_qty,
    {{ gruponos.quantity('alloc_qty') }} as allocated_qty,
    {{ gruponos.quantity('ordered_uom_qty') }} as ordered_uom_qty,
    {{ gruponos.quantity('sale_price') }} as sale_price,
    {{ gruponos.quantity('cost') }} as unit_cost,
    {{ gruponos.quantity('unit_declared_value') }} as unit_declared_value,
    allocation_count as wms_allocation_count,

    ---------- status
    status_id as status_code
{% endcall %}
