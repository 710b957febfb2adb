with

source as (

    select * from {{ source('wms', 'facility') }}

),

renamed as (

    select
        ----------  ids
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
        {{ gruponos.flag('active_flg') }} as is_active,

        ---------- timestamps (UTC)
        {{ gruponos.utc_timestamp('create_ts') }} as created_at,
        {{ gruponos.utc_timestamp('mod_ts') }} as modified_at,
        {{ gruponos.utc_timestamp(gruponos.raw_column('_loaded_at')) }} as loaded_at

    from source
    where {{ gruponos.raw_column('_deleted_at') }} is null

),

final as (

    select * from renamed

)

select * from final
