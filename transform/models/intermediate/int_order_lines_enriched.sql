with

order_lines as (

    select * from {{ ref('stg_wms__order_dtl') }}

),

orders as (

    select * from {{ ref('stg_wms__order_hdr') }}

),

allocations as (

    select * from {{ ref('int_allocation_lifecycle') }}

),

allocation_totals as (

    select
        order_dtl_id,
        count(*) as allocation_count,
        sum(allocated_qty) as allocations_allocated_qty,
        sum(packed_qty) as packed_qty,
        sum(outstanding_qty) as outstanding_qty,
        min(picked_at) as first_picked_at,
        max(picked_at) as last_picked_at

    from allocations
    where is_cancelled = 0
    group by order_dtl_id

),

joined as (

    select
        order_lines.order_dtl_id,
        order_lines.order_id,
        orders.order_nbr,
        orders.facility_id,
        order_lines.item_id,
        order_lines.item_code,
        order_lines.line_seq_nbr,
        order_lines.status_code,
        order_lines.status_label,
        order_lines.status_group,
        order_lines.is_cancelled,
        order_lines.ordered_uom_code,
        order_lines.ordered_qty,
        order_lines.allocated_qty,
        order_lines.sale_price,
        order_lines.unit_cost,
        orders.ordered_date,
        orders.requested_ship_date,
        orders.shipped_at,
        coalesce(allocation_totals.allocation_count, 0) as allocation_count,
        coalesce(allocation_totals.allocations_allocated_qty, 0) as allocations_allocated_qty,
        coalesce(allocation_totals.packed_qty, 0) as packed_qty,
        coalesce(allocation_totals.outstanding_qty, 0) as outstanding_qty,
        allocation_totals.first_picked_at,
        allocation_totals.last_picked_at

    from order_lines
    left join orders on orders.order_id = order_lines.order_id
    left join allocation_totals on allocation_totals.order_dtl_id = order_lines.order_dtl_id

),

final as (

    select
        joined.*,
        -- what left with the shipment: the packed units, never more than were ordered
        case
            when joined.shipped_at is null then 0
            when joined.packed_qty < joined.ordered_qty then joined.packed_qty
            else joined.ordered_qty
        end as shipped_qty,
        joined.ordered_qty * joined.sale_price as ordered_value

    from joined

)

select * from final
