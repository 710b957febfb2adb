{% call gruponos.staging_model('allocation') %}
    ---------- ids
    id as allocation_id,
    order_dtl_id,
    from_inventory_id,
    to_inventory_id,
    task_id,
    wave_id,

    ---------- codes (FK keys)
    type_key as allocation_type_code,
    alloc_uom_key as alloc_uom_code,
    cartonize_uom_key as cartonize_uom_code,
    ob_lpn_type_key as outbound_lpn_type_code,
    mhe_system_key as mhe_system_code,
    task_key as task_code,
    wave_key as wave_code,

    ---------- text
    final_oblpn_nbr as outbound_lpn_nbr,
    pick_locn_str as pick_location_code,
    pick_user,
    task_seq_nbr,

    ---------- numerics
    {{ gruponos.quantity('alloc_qty') }} as allocated_qty,
    {{ gruponos.quantity('packed_qty') }} as packed_qty,

    ---------- flags and status
    {{ gruponos.flag('is_picking_flg') }} as is_picking,
    status_id as status_code,

    ---------- timestamps (UTC)
    {{ gruponos.utc_timestamp('picked_ts') }} as picked_at
{% endcall %}
