{{ config(**gruponos.replace_keys_config('allocation_id')) }}

with

allocations as (

    select * from {{ ref('stg_wms__allocation') }}

),

order_lines as (

    select * from {{ ref('stg_wms__order_dtl') }}

),

orders as (

    select * from {{ ref('stg_wms__order_hdr') }}

),

statuses as (

    select * from {{ ref('wms_allocation_statuses') }}

),

{% if is_incremental() %}

-- the allocations whose row may change: synced since the last build themselves, or
-- through their order line or its order (soft-deleted and restored rows included)
keys as (

    {{ gruponos.allocation_ids_in_window() }}

),

{% endif %}

live_allocations as (

    select allocations.*
    from allocations
    {{ gruponos.join_changed_keys('allocations', 'allocation_id') }}
    where allocations.deleted_at is null

),

live_order_lines as (

    select * from order_lines
    where deleted_at is null

),

live_orders as (

    select * from orders
    where deleted_at is null

),

joined as (

    select
        live_allocations.allocation_id,
        live_allocations.order_dtl_id,
        live_order_lines.order_id,
        live_orders.facility_id,
        live_orders.facility_code,
        live_order_lines.item_id,
        live_allocations.from_inventory_id,
        live_allocations.pick_user,
        live_allocations.status_code,
        statuses.status_label,
        statuses.status_group,
        statuses.is_packed,
        statuses.is_closed,
        statuses.is_cancelled,
        live_allocations.allocated_qty,
        live_allocations.packed_qty,
        live_allocations.created_at,
        {{ gruponos.day_of('live_allocations.created_at') }} as created_date,
        live_allocations.picked_at,
        -- the WMS keeps no packing time: a packed allocation's last change is its packing
        case when statuses.is_packed = 1 then live_allocations.modified_at end as packed_at

    from live_allocations
    left join statuses on statuses.status_code = live_allocations.status_code
    left join live_order_lines on live_order_lines.order_dtl_id = live_allocations.order_dtl_id
    left join live_orders on live_orders.order_id = live_order_lines.order_id

),

timed as (

    select
        joined.*,
        {{ gruponos.seconds_between('joined.created_at', 'joined.picked_at') }} as seconds_to_pick,
        {{ gruponos.seconds_between('joined.picked_at', 'joined.packed_at') }} as seconds_pick_to_pack

    from joined

),

final as (

    select
        timed.*,
        {{ gruponos.flag_when('timed.picked_at is not null') }} as is_picked,
        {{ gruponos.flag_when('timed.seconds_to_pick <= 3600') }} as is_picked_within_1h,
        {{ gruponos.flag_when('timed.picked_at is not null and timed.packed_qty = timed.allocated_qty') }}
            as is_fully_packed,
        {{ gruponos.quantity('case
            when timed.is_closed = 1 then 0
            else timed.allocated_qty - coalesce(timed.packed_qty, 0)
        end') }} as outstanding_qty

    from timed

)

{{ gruponos.select_with_tombstones('final', 'keys', ['allocation_id']) }}
