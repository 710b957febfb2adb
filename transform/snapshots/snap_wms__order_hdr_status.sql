{% snapshot snap_wms__order_hdr_status %}

{{
    config(
        unique_key='order_id',
        strategy='timestamp',
        updated_at='modified_at',
        hard_deletes='ignore',
        pre_hook=gruponos.window_pre_hooks(),
        post_hook=["{{ gruponos.close_deleted_versions('order_hdr', 'order_id') }}"] + gruponos.window_post_hooks(),
    )
}}

with

source as (

    select * from {{ source('wms', 'order_hdr') }}

),

renamed as (

    select
        id as order_id,
        order_nbr,
        facility_id,
        status_id as status_code,
        {{ gruponos.utc_timestamp('order_shipped_ts') }} as shipped_at,
        {{ gruponos.utc_timestamp('mod_ts') }} as modified_at,
        {{ gruponos.utc_timestamp(gruponos.raw_column('_loaded_at')) }} as loaded_at,
        {{ gruponos.raw_column('_run_id') }} as sync_run_id,
        {{ gruponos.utc_timestamp(gruponos.raw_column('_deleted_at')) }} as deleted_at

    from source

)

select order_id, order_nbr, facility_id, status_code, shipped_at, modified_at
from renamed
where deleted_at is null
    -- only the orders synced since the last snapshot can have a new version (all, the first time)
    and {{ gruponos.in_window('renamed') }}

{% endsnapshot %}
