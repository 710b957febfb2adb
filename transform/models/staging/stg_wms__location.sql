{% call gruponos.staging_model('location', users=false) %}
    ---------- ids
    id as location_id,
    facility_id,

    ---------- codes and text
    facility_key as facility_code,
    locn_str as location_code,
    locn_brcd as location_barcode,
    type_key as location_type_code,
    area,
    aisle,
    bay,
    {{ gruponos.raw_column('level') }} as location_level,
    {{ gruponos.raw_column('position') }} as location_position,
    pick_seq as pick_sequence,

    ---------- numerics
    {{ gruponos.quantity('max_units') }} as max_units,
    {{ gruponos.quantity('max_volume') }} as max_volume,

    ---------- flags
    {{ gruponos.flag('lock_for_location_count_flg') }} as is_locked_for_count
{% endcall %}
