{% call gruponos.staging_model('item', users=false) %}
    ---------- ids
    id as item_id,
    company_id,

    ---------- text
    code as item_code,
    description as item_description,
    barcode,
    item_category_1 as item_category,

    ---------- numerics
    {{ gruponos.quantity('unit_cost') }} as unit_cost,
    {{ gruponos.quantity('unit_length') }} as unit_length,
    {{ gruponos.quantity('unit_width') }} as unit_width,
    {{ gruponos.quantity('unit_height') }} as unit_height,
    {{ gruponos.quantity('unit_weight') }} as unit_weight,
    {{ gruponos.quantity('unit_volume') }} as unit_volume,
    {{ gruponos.quantity('std_pack_qty') }} as standard_pack_qty,
    {{ gruponos.quantity('std_case_qty') }} as standard_case_qty,

    ---------- flags and status
    {{ gruponos.flag('is_perishable_flg') }} as is_perishable,
    status_id as status_code
{% endcall %}
