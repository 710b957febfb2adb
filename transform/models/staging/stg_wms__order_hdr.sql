{% call gruponos.staging_model('order_hdr') %}
    ---------- ids
    id as order_id,
    company_id,
    facility_id,

    ---------- codes and text
    order_nbr,
    company_key as company_code,
    facility_key as facility_code,
    order_type_key as order_type_code,
    cust_nbr as customer_nbr,
    cust_name as customer_name,
    shipto_city,
    shipto_state,
    shipto_country,
    priority,

    ---------- numerics
    {{ gruponos.quantity('total_orig_ord_qty') }} as total_ordered_qty,
    {{ gruponos.quantity('orig_sale_price') }} as original_sale_price,
    order_dtl_count as wms_line_count,

    ---------- status
    status_id as status_code,

    ---------- dates and timestamps (UTC)
    {{ gruponos.day_of('ord_date') }} as ordered_date,
    {{ gruponos.day_of('req_ship_date') }} as requested_ship_date,
    {{ gruponos.day_of('sched_ship_date') }} as scheduled_ship_date,
    {{ gruponos.day_of('start_ship_date') }} as start_ship_date,
    {{ gruponos.day_of('stop_ship_date') }} as stop_ship_date,
    {{ gruponos.utc_timestamp('order_shipped_ts') }} as shipped_at
{% endcall %}
