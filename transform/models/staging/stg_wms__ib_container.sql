{% call gruponos.staging_model('ib_container') %}
    ---------- ids
    id as ib_container_id,
    shipment_id as ib_shipment_id,
    container_id,

    ---------- codes and text
    shipment_key as shipment_nbr,
    container_nbr,
    rcvd_user as received_by,

    ---------- status
    status_id as status_code,

    ---------- timestamps (UTC)
    {{ gruponos.utc_timestamp('rcvd_ts') }} as received_at
{% endcall %}
