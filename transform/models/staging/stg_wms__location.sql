with

source as (

    select * from {{ source('wms', 'location') }}

),

renamed as (

    select
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
        {{ gruponos.flag('lock_for_location_count_flg') }} as is_locked_for_count,

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
