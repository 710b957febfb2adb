with

source as (

    select * from {{ source('wms', 'ib_shipment') }}

),

renamed as (

    select
        ---------- ids
        id as ib_shipment_id,
        facility_id,
        company_id,
        vendor_id,

        ---------- codes and text
        shipment_nbr,
        facility_key as facility_code,
        company_key as company_code,
        vendor_key as vendor_code,
        shipment_type_key as shipment_type_code,
        trailer_nbr,
        load_nbr,
        manifest_nbr,
        ib_shipment_dtl_count as wms_line_count,

        ---------- status
        status_id as status_code,

        ---------- dates and timestamps (UTC)
        {{ gruponos.as_date('shipped_date') }} as shipped_date,
        {{ gruponos.as_date('appt_date') }} as appointment_date,
        appt_time as appointment_time,
        {{ gruponos.utc_timestamp('checkin_ts') }} as checked_in_at,
        {{ gruponos.utc_timestamp('verified_ts') }} as verified_at,
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
