{{ config(**gruponos.replace_keys_config('order_dtl_id')) }}

with

-- read by incremental builds only
-- depends_on: {{ ref('stg_wms__allocation') }}

order_lines as (

    select * from {{ ref('stg_wms__order_dtl') }}

),

orders as (

    select * from {{ ref('stg_wms__order_hdr') }}

),

statuses as (

    select * from {{ ref('wms_order_dtl_statuses') }}

),

lifecycles as (

    select * from {{ ref('int_allocation_lifecycle') }}

),

{% if is_incremental() %}

-- the lines whose row may change: synced since the last build themselves, through their
-- order, or through one of their allocations (soft-deleted and restored rows included)
keys as (

    {{ gruponos.keys_in_window('stg_wms__order_dtl', 'order_dtl_id') }}
    union
    {{ gruponos.keys_changed_through('stg_wms__order_dtl', 'order_dtl_id', 'order_id', 'stg_wms__order_hdr', 'order_id') }}
    union
    {{ gruponos.keys_in_window('stg_wms__allocation', 'order_dtl_id') }}

),

{% endif %}

live_order_lines as (

    select order_lines.*
    from order_lines
    {{ gruponos.join_changed_keys('order_lines', 'order_dtl_id') }}
    where order_lines.deleted_at is null

),

live_orders as (

    select * from orders
    where deleted_at is null

),

allocation_totals as (

    select
        lifecycles.order_dtl_id,
        count(*) as allocation_count,
        sum(lifecycles.allocated_qty) as allocations_allocated_qty,
        sum(lifecycles.packed_qty) as packed_qty,
        sum(lifecycles.outstanding_qty) as outstanding_qty,
        min(lifecycles.picked_at) as first_picked_at,
        max(lifecycles.picked_at) as last_picked_at

    from lifecycles
    {{ gruponos.join_changed_keys('lifecycles', 'order_dtl_id') }}
    where lifecycles.is_cancelled = 0
    group by lifecycles.order_dtl_id

),

joined as (

    select
        live_order_lines.order_dtl_id,
        live_order_lines.order_id,
        live_orders.order_nbr,
        live_orders.facility_id,
        live_order_lines.item_id,
        live_order_lines.item_code,
        live_order_lines.line_seq_nbr,
        live_order_lines.status_code,
        statuses.status_label,
        statuses.status_group,
        statuses.is_cancelled,
        live_order_lines.ordered_uom_code,
        live_order_lines.ordered_qty,
        live_order_lines.allocated_qty,
        live_order_lines.sale_price,
        live_order_lines.unit_cost,
        live_orders.ordered_date,
        live_orders.requested_ship_date,
        live_orders.shipped_at,
        coalesce(allocation_totals.allocation_count, 0) as allocation_count,
        {{ gruponos.quantity('coalesce(allocation_totals.allocations_allocated_qty, 0)') }} as allocations_allocated_qty,
        {{ gruponos.quantity('coalesce(allocation_totals.packed_qty, 0)') }} as packed_qty,
        {{ gruponos.quantity('coalesce(allocation_totals.outstanding_qty, 0)') }} as outstanding_qty,
        allocation_totals.first_picked_at,
        allocation_totals.last_picked_at

    from live_order_lines
    left join statuses on statuses.status_code = live_order_lines.status_code
    left join live_orders on live_orders.order_id = live_order_lines.order_id
    left join allocation_totals on allocation_totals.order_dtl_id = live_order_lines.order_dtl_id

),

final as (

    select
        joined.*,
        -- what left with the shipment: the packed units, never more than were ordered
        {{ gruponos.quantity('case
            when joined.shipped_at is null then 0
            when joined.packed_qty < joined.ordered_qty then joined.packed_qty
            else joined.ordered_qty
        end') }} as shipped_qty,
        {{ gruponos.quantity('joined.ordered_qty * joined.sale_price') }} as ordered_value

    from joined

)

{{ gruponos.select_with_tombstones('final', 'keys', ['order_dtl_id']) }}
