with

source as (

    select * from {{ source('wms', 'ib_container') }}

),

renamed as (

    select
        ---------- ids
        id as ib_container_id,
        shipment_id as ib_shipment_id,
        container_id,

        ---------- codes and text
        shipment_key as shipment_nbr,
        container_nbr,
        rcvd_user as received_by,

        ---------- status
        status_id as status_code,

        ---------- timestamps (UTC)
        {{ gruponos.utc_timestamp('rcvd_ts') }} as received_at,
        create_user as created_by,
        {{ gruponos.utc_timestamp('create_ts') }} as created_at,
        mod_user as modified_by,
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
