with

source as (

    select * from {{ source('wms', 'purchase_order_dtl') }}

),

renamed as (

    select
        ---------- ids
        id as po_dtl_id,
        po_id,
        item_id,

        ---------- codes and text
        po_key as po_nbr,
        item_key as item_code,
        uom_key as uom_code,
        invn_attr_key as inventory_attribute_code,
        seq_nbr as line_seq_nbr,

        ---------- numerics
        {{ gruponos.quantity('ord_qty') }} as ordered_qty,
        {{ gruponos.quantity('orig_ord_qty') }} as original_ordered_qty,
        {{ gruponos.quantity('shipped_qty') }} as shipped_qty,
        {{ gruponos.quantity('received_qty') }} as received_qty,
        {{ gruponos.quantity('unit_cost') }} as unit_cost,

        ---------- status
        status_id as status_code,

        ---------- timestamps (UTC)
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
