with

source as (

    select * from {{ source('wms', 'facility') }}

),

renamed as (

    select
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
        {{ gruponos.flag('active_flg') }} as is_active,

        ---------- timestamps (UTC)
        {{ gruponos.utc_timestamp('create_ts') }} as created_at,
        {{ gruponos.utc_timestamp('mod_ts') }} as modified_at,

        ---------- the sync's bookkeeping (deleted_at: a full sync no longer found the id)
        {{ gruponos.utc_timestamp(gruponos.raw_column('_loaded_at')) }} as loaded_at,
        {{ gruponos.raw_column('_run_id') }} as sync_run_id,
        {{ gruponos.utc_timestamp(gruponos.raw_column('_deleted_at')) }} as deleted_at

    from source

),

final as (

    select * from renamed

)

select * from final
