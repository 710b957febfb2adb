{% snapshot snap_wms__allocation_status %}

{% call gruponos.status_snapshot('allocation', 'allocation_id') %}
    id as allocation_id,
    order_dtl_id,
    status_id as status_code,
    {{ gruponos.quantity('alloc_qty') }} as allocated_qty,
    {{ gruponos.quantity('packed_qty') }} as packed_qty,
    pick_user,
    {{ gruponos.utc_timestamp('picked_ts') }} as picked_at,
    {{ gruponos.utc_timestamp('mod_ts') }} as modified_at
{% endcall %}

{% endsnapshot %}
