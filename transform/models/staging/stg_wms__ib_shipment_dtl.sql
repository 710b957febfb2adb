with

source as (

    select * from {{ source('wms', 'ib_shipment_dtl') }}

),

renamed as (

    select
        ---------- ids
        id as ib_shipment_dtl_id,
        shipment_id as ib_shipment_id,
        po_id,
        po_dtl_id,
        item_id,
        batch_number_id,

        ---------- codes and text
        shipment_key as shipment_nbr,
        po_key as po_nbr,
        item_key as item_code,
        batch_number_key as batch_nbr,
        invn_attr_key as inventory_attribute_code,
        lpn_nbr,
        seq_nbr as line_seq_nbr,

        ---------- numerics
        {{ gruponos.quantity('shipped_qty') }} as shipped_qty,
        {{ gruponos.quantity('received_qty') }} as received_qty,

        ---------- dates and timestamps (UTC)
        {{ gruponos.as_date('expiry_date') }} as expiry_date,
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
