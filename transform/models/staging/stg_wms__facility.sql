{% call gruponos.staging_model('facility', users=false) %}
    ---------- ids
    id as facility_id,
    parent_company_id as company_id,

    ---------- text
    code as facility_code,
    name as facility_name,
    facility_type_key as facility_type_code,
    city,
    state,
    country,
    time_zone,

    ---------- flags
    {{ gruponos.flag('active_flg') }} as is_active
{% endcall %}
