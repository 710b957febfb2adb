{% call gruponos.staging_model('container') %}
    ---------- ids
    id as container_id,
    facility_id,
    company_id,
    curr_location_id as location_id,
    prev_location_id as previous_location_id,
    rcvd_shipment_id as received_ib_shipment_id,

    ---------- codes and text
    container_nbr,
    {{ gruponos.raw_column('type') }} as container_type,
    facility_key as facility_code,
    company_key as company_code,
    curr_location_key as location_code,
    prev_location_key as previous_location_code,
    rcvd_shipment_key as received_shipment_nbr,
    rcvd_trailer_nbr as received_trailer_nbr,
    rcvd_user as received_by,
    putawaytype_key as putaway_type_code,
    lpn_type_key as lpn_type_code,
    ref_po_nbr,
    ref_shipment_nbr,

    ---------- numerics
    {{ gruponos.quantity('weight') }} as weight,
    {{ gruponos.quantity('volume') }} as volume,
    {{ gruponos.quantity(gruponos.raw_column('length')) }} as container_length,
    {{ gruponos.quantity('width') }} as container_width,
    {{ gruponos.quantity('height') }} as container_height,

    ---------- status
    status_id as status_code,

    ---------- dates and timestamps (UTC)
    {{ gruponos.day_of('priority_date') }} as priority_date,
    {{ gruponos.utc_timestamp('rcvd_ts') }} as received_at,
    {{ gruponos.utc_timestamp('first_putaway_ts') }} as first_put_away_at
{% endcall %}
