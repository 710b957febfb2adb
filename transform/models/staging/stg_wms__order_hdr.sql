with

source as (

    select * from {{ source('wms', 'order_hdr') }}

),

renamed as (

    select
        ---------- ids
        id as order_id,
        company_id,
        facility_id,

        ---------- codes and text
        order_nbr,
        company_key as company_code,
        facility_key as facility_code,
        order_type_key as order_type_code,
        cust_nbr as customer_nbr,
        cust_name as customer_name,
        shipto_city,
        shipto_state,
        shipto_country,
        priority,

        ---------- numerics
        {{ gruponos.quantity('total_orig_ord_qty') }} as total_ordered_qty,
        {{ gruponos.quantity('orig_sale_price') }} as original_sale_price,
        order_dtl_count as wms_line_count,

        ---------- status
        status_id as status_code,

        ---------- dates and timestamps (UTC)
        {{ gruponos.as_date('ord_date') }} as ordered_date,
        {{ gruponos.as_date('req_ship_date') }} as requested_ship_date,
        {{ gruponos.as_date('sched_ship_date') }} as scheduled_ship_date,
        {{ gruponos.as_date('start_ship_date') }} as start_ship_date,
        {{ gruponos.as_date('stop_ship_date') }} as stop_ship_date,
        {{ gruponos.utc_timestamp('order_shipped_ts') }} as shipped_at,
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
