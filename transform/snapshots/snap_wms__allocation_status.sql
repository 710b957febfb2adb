{% snapshot snap_wms__allocation_status %}

{{
    config(
        unique_key='allocation_id',
        strategy='timestamp',
        updated_at='modified_at',
        hard_deletes='ignore',
        pre_hook=gruponos.window_pre_hooks(),
        post_hook=["{{ gruponos.close_deleted_versions('allocation', 'allocation_id') }}"] + gruponos.window_post_hooks(),
    )
}}

with

source as (

    select * from {{ source('wms', 'allocation') }}

),

renamed as (

    select
        id as allocation_id,
        order_dtl_id,
        status_id as status_code,
        {{ gruponos.quantity('alloc_qty') }} as allocated_qty,
        {{ gruponos.quantity('packed_qty') }} as packed_qty,
        pick_user,
        {{ gruponos.utc_timestamp('picked_ts') }} as picked_at,
        {{ gruponos.utc_timestamp('mod_ts') }} as modified_at,
        {{ gruponos.utc_timestamp(gruponos.raw_column('_loaded_at')) }} as loaded_at,
        {{ gruponos.raw_column('_run_id') }} as sync_run_id,
        {{ gruponos.utc_timestamp(gruponos.raw_column('_deleted_at')) }} as deleted_at

    from source

)

select allocation_id, order_dtl_id, status_code, allocated_qty, packed_qty, pick_user, picked_at, modified_at
from renamed
where deleted_at is null
    -- only the allocations synced since the last snapshot can have a new version (all, the first time)
    and {{ gruponos.in_window('renamed') }}

{% endsnapshot %}
