with

source as (

    select * from {{ source('wms', 'inventory') }}

),

renamed as (

    select
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
        {{ gruponos.as_date('priority_date') }} as priority_date,

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
