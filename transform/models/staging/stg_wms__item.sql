with

source as (

    select * from {{ source('wms', 'item') }}

),

renamed as (

    select
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
        status_id as status_code,

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
