with

items as (

    select * from {{ ref('int_items') }}

),

allocations as (

    select * from {{ ref('int_allocation_lifecycle') }}

),

as_of as (

    -- the latest allocation in the warehouse, not the clock: a late sync must not turn
    -- every item Dormant
    select max(created_at) as as_of_at from allocations

),

recent as (

    select
        allocations.item_id,
        count(*) as allocations_90d,
        {{ gruponos.quantity('sum(allocations.allocated_qty)') }} as allocated_qty_90d

    from allocations
    cross join as_of
    where allocations.is_cancelled = 0
        and allocations.item_id is not null
        and allocations.created_at > {{ dbt.dateadd('day', -1 * var('velocity_window_days'), 'as_of.as_of_at') }}
        and allocations.created_at <= as_of.as_of_at
    group by allocations.item_id

),

ranked as (

    select
        recent.*,
        cume_dist() over (order by recent.allocations_90d desc) as velocity_percentile

    from recent

),

final as (

    select
        items.item_id,
        items.company_id,
        items.item_code,
        items.item_description,
        items.barcode,
        items.item_category,
        items.unit_cost,
        items.unit_length,
        items.unit_width,
        items.unit_height,
        items.unit_weight,
        items.unit_volume,
        items.standard_pack_qty,
        items.standard_case_qty,
        items.is_perishable,
        items.status_code,
        items.status_label,
        items.is_active,
        items.created_at,
        items.modified_at,
        items.loaded_at,
        coalesce(ranked.allocations_90d, 0) as allocations_90d,
        {{ gruponos.quantity('coalesce(ranked.allocated_qty_90d, 0)') }} as allocated_qty_90d,
        ranked.velocity_percentile,
        case
            when ranked.item_id is null then 'Dormant'
            when ranked.velocity_percentile <= {{ var('velocity_fast_share') }} then 'Fast'
            when ranked.velocity_percentile <= {{ var('velocity_regular_share') }} then 'Regular'
            else 'Slow'
        end as velocity_class

    from items
    left join ranked on ranked.item_id = items.item_id

)

select * from final
