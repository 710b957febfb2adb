with

source as (

    select * from {{ source('wms', 'purchase_order_hdr') }}

),

renamed as (

    select
        ---------- ids
        id as po_id,
        facility_id,
        company_id,
        vendor_id,

        ---------- codes and text
        po_nbr,
        facility_key as facility_code,
        company_key as company_code,
        vendor_key as vendor_code,
        po_type_key as po_type_code,
        dept_code,
        ref_nbr,
        purchase_order_dtl_count as wms_line_count,

        ---------- status
        status_id as status_code,

        ---------- dates and timestamps (UTC)
        {{ gruponos.as_date('ord_date') }} as ordered_date,
        {{ gruponos.as_date('ship_date') }} as ship_date,
        {{ gruponos.as_date('delivery_date') }} as delivery_date,
        {{ gruponos.as_date('cancel_date') }} as cancel_date,
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
