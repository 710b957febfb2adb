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

joined as (

    select
        allocations.allocation_id,
        allocations.order_dtl_id,
        order_lines.order_id,
        orders.facility_id,
        orders.facility_code,
        order_lines.item_id,
        allocations.from_inventory_id,
        allocations.pick_user,
        allocations.status_code,
        allocations.status_label,
        allocations.status_group,
        allocations.is_packed,
        allocations.is_closed,
        allocations.is_cancelled,
        allocations.allocated_qty,
        allocations.packed_qty,
        allocations.created_at,
        allocations.picked_at,
        -- the WMS keeps no packing time: a packed allocation's last change is its packing
        case when allocations.is_packed = 1 then allocations.modified_at end as packed_at

    from allocations
    left join order_lines on order_lines.order_dtl_id = allocations.order_dtl_id
    left join orders on orders.order_id = order_lines.order_id

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
        case
            when timed.is_closed = 1 then 0
            else timed.allocated_qty - coalesce(timed.packed_qty, 0)
        end as outstanding_qty

    from timed

)

select * from final
