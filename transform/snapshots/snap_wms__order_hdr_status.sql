{% snapshot snap_wms__order_hdr_status %}

{% call gruponos.status_snapshot('order_hdr', 'order_id') %}
    id as order_id,
    order_nbr,
    facility_id,
    status_id as status_code,
    {{ gruponos.utc_timestamp('order_shipped_ts') }} as shipped_at,
    {{ gruponos.utc_timestamp('mod_ts') }} as modified_at
{% endcall %}

{% endsnapshot %}
