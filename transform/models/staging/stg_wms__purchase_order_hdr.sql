{% call gruponos.staging_model('purchase_order_hdr') %}
    ---------- ids
    id as po_id,
    facility_id,
    company_id,
    vendor_id,

    ---------- codes and text
    po_nbr,
    facility_key as facility_code,
    company_key as company_code,
    vendor_key as vendor_code,
    po_type_key as po_type_code,
    dept_code,
    ref_nbr,
    purchase_order_dtl_count as wms_line_count,

    ---------- status
    status_id as status_code,

    ---------- dates and timestamps (UTC)
    {{ gruponos.day_of('ord_date') }} as ordered_date,
    {{ gruponos.day_of('ship_date') }} as ship_date,
    {{ gruponos.day_of('delivery_date') }} as delivery_date,
    {{ gruponos.day_of('cancel_date') }} as cancel_date
{% endcall %}
