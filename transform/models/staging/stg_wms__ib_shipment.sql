{% call gruponos.staging_model('ib_shipment') %}
    ---------- ids
    id as ib_shipment_id,
    facility_id,
    company_id,
    vendor_id,

    ---------- codes and text
    shipment_nbr,
    facility_key as facility_code,
    company_key as company_code,
    vendor_key as vendor_code,
    shipment_type_key as shipment_type_code,
    trailer_nbr,
    load_nbr,
    manifest_nbr,
    ib_shipment_dtl_count as wms_line_count,

    ---------- status
    status_id as status_code,

    ---------- dates and timestamps (UTC)
    {{ gruponos.day_of('shipped_date') }} as shipped_date,
    {{ gruponos.day_of('appt_date') }} as appointment_date,
    appt_time as appointment_time,
    {{ gruponos.utc_timestamp('checkin_ts') }} as checked_in_at,
    {{ gruponos.utc_timestamp('verified_ts') }} as verified_at
{% endcall %}
