with

orders as (

    select * from {{ ref('stg_wms__order_hdr') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_enriched') }}

),

line_totals as (

    select
        order_id,
        count(*) as line_count,
        sum(ordered_qty) as ordered_qty,
        sum(allocated_qty) as allocated_qty,
        sum(packed_qty) as packed_qty,
        sum(shipped_qty) as shipped_qty,
        sum(ordered_value) as ordered_value

    from order_lines
    group by order_id

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
        coalesce(line_totals.ordered_qty, 0) as ordered_qty,
        coalesce(line_totals.allocated_qty, 0) as allocated_qty,
        coalesce(line_totals.packed_qty, 0) as packed_qty,
        coalesce(line_totals.shipped_qty, 0) as shipped_qty,
        coalesce(line_totals.ordered_value, 0) as ordered_value

    from orders
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

select * from final
