{{ config(**gruponos.replace_keys_config('order_id')) }}

with

-- read by incremental builds only
-- depends_on: {{ ref('stg_wms__order_hdr') }}
-- depends_on: {{ ref('stg_wms__order_dtl') }}
-- depends_on: {{ ref('stg_wms__allocation') }}

orders as (

    select * from {{ ref('int_orders') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_enriched') }}

),

{% if is_incremental() %}

-- the orders whose row may change: synced since the last build themselves, or through
-- one of their lines or one of their lines' allocations (soft-deleted rows included)
keys as (

    {{ gruponos.keys_in_window('stg_wms__order_hdr', 'order_id') }}
    union
    {{ gruponos.keys_changed_through('stg_wms__order_dtl', 'order_id', 'order_dtl_id', 'stg_wms__allocation', 'order_dtl_id') }}
    union
    {{ gruponos.keys_in_window('stg_wms__order_dtl', 'order_id') }}

),

{% endif %}

line_totals as (

    select
        order_lines.order_id,
        count(*) as line_count,
        sum(order_lines.ordered_qty) as ordered_qty,
        sum(order_lines.allocated_qty) as allocated_qty,
        sum(order_lines.packed_qty) as packed_qty,
        sum(order_lines.shipped_qty) as shipped_qty,
        sum(order_lines.ordered_value) as ordered_value

    from order_lines
    {{ gruponos.join_changed_keys('order_lines', 'order_id') }}
    group by order_lines.order_id

),

joined as (

    select
        orders.order_id,
        orders.order_nbr,
        orders.facility_id,
        orders.facility_code,
        orders.company_id,
        orders.order_type_code,
        orders.customer_nbr,
        orders.status_code,
        orders.status_label,
        orders.status_group,
        orders.is_cancelled,
        coalesce(orders.ordered_date, {{ gruponos.day_of('orders.created_at') }}) as ordered_date,
        orders.requested_ship_date,
        orders.created_at,
        orders.shipped_at,
        {{ gruponos.day_of('orders.shipped_at') }} as shipped_date,
        coalesce(line_totals.line_count, 0) as line_count,
        {{ gruponos.quantity('coalesce(line_totals.ordered_qty, 0)') }} as ordered_qty,
        {{ gruponos.quantity('coalesce(line_totals.allocated_qty, 0)') }} as allocated_qty,
        {{ gruponos.quantity('coalesce(line_totals.packed_qty, 0)') }} as packed_qty,
        {{ gruponos.quantity('coalesce(line_totals.shipped_qty, 0)') }} as shipped_qty,
        {{ gruponos.quantity('coalesce(line_totals.ordered_value, 0)') }} as ordered_value

    from orders
    {{ gruponos.join_changed_keys('orders', 'order_id') }}
    left join line_totals on line_totals.order_id = orders.order_id

),

final as (

    select
        joined.*,
        {{ gruponos.flag_when('joined.shipped_at is not null') }} as is_shipped,
        case
            when joined.shipped_at is not null
                then {{ gruponos.ratio('joined.shipped_qty', 'joined.ordered_qty') }}
        end as fill_rate,
        case
            when joined.shipped_at is not null
                then {{ dbt.datediff('joined.ordered_date', 'joined.shipped_date', 'day') }}
        end as days_to_ship,
        case
            when joined.shipped_at is null or joined.requested_ship_date is null then null
            when joined.shipped_date <= joined.requested_ship_date then 1
            else 0
        end as is_on_time

    from joined

)

{{ gruponos.select_with_tombstones('final', 'keys', ['order_id']) }}
