{% call gruponos.staging_model('inventory', users=false) %}
    ---------- ids
    id as inventory_id,
    facility_id,
    item_id,
    location_id,
    container_id,

    ---------- codes
    container_key as container_code,
    invn_attr_key as inventory_attribute_code,

    ---------- numerics
    {{ gruponos.quantity('curr_qty') }} as on_hand_qty,
    {{ gruponos.quantity('orig_qty') }} as original_qty,
    {{ gruponos.quantity('pack_qty') }} as pack_qty,
    {{ gruponos.quantity('case_qty') }} as case_qty,

    ---------- status and dates
    status_id as status_code,
    {{ gruponos.day_of('priority_date') }} as priority_date
{% endcall %}
