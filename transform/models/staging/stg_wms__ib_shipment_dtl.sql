{% call gruponos.staging_model('ib_shipment_dtl') %}
    ---------- ids
    id as ib_shipment_dtl_id,
    shipment_id as ib_shipment_id,
    po_id,
    po_dtl_id,
    item_id,
    batch_number_id,

    ---------- codes and text
    shipment_key as shipment_nbr,
    po_key as po_nbr,
    item_key as item_code,
    batch_number_key as batch_nbr,
    invn_attr_key as inventory_attribute_code,
    lpn_nbr,
    seq_nbr as line_seq_nbr,

    ---------- numerics
    {{ gruponos.quantity('shipped_qty') }} as shipped_qty,
    {{ gruponos.quantity('received_qty') }} as received_qty,

    ---------- dates and timestamps (UTC)
    {{ gruponos.day_of('expiry_date') }} as expiry_date
{% endcall %}
