with

allocations as (

    select * from {{ ref('int_allocation_lifecycle') }}

),

prepared as (

    select
        {{ gruponos.day_of('created_at') }} as allocation_date,
        facility_id,
        facility_code,
        item_id,
        coalesce(pick_user, 'UNASSIGNED') as pick_user,
        allocated_qty,
        packed_qty,
        is_picked,
        is_picked_within_1h,
        is_fully_packed,
        seconds_to_pick,
        case when is_picked = 1 then allocated_qty else 0 end as picked_allocated_qty,
        case when is_picked = 1 then packed_qty else 0 end as picked_packed_qty

    from allocations
    -- work that was done or is due: cancelled allocations and allocations whose order
    -- line is missing (the relationships tests report those) are left out
    where is_cancelled = 0
        and facility_id is not null
        and item_id is not null

),

aggregated as (

    select
        allocation_date,
        facility_id,
        facility_code,
        item_id,
        pick_user,
        count(*) as allocation_count,
        count(case when is_picked = 1 then 1 end) as picked_count,
        sum(allocated_qty) as allocated_qty,
        sum(packed_qty) as packed_qty,
        sum(picked_allocated_qty) as picked_allocated_qty,
        sum(picked_packed_qty) as picked_packed_qty,
        count(case when is_picked_within_1h = 1 then 1 end) as picked_within_1h_count,
        count(case when is_fully_packed = 1 then 1 end) as fully_packed_count,
        avg(seconds_to_pick) / 60 as avg_pick_minutes

    from prepared
    group by allocation_date, facility_id, facility_code, item_id, pick_user

),

rated as (

    select
        aggregated.*,
        {{ gruponos.ratio('picked_packed_qty', 'picked_allocated_qty') }} as pack_efficiency,
        {{ gruponos.ratio('packed_qty', 'allocated_qty') }} as fulfillment_rate,
        {{ gruponos.ratio('picked_within_1h_count', 'allocation_count') }} as picked_within_1h_share,
        {{ gruponos.ratio('fully_packed_count', 'picked_count') }} as quality_rate

    from aggregated

),

final as (

    select
        rated.*,
        {{ var('efficiency_weight_fulfillment') }} * coalesce(fulfillment_rate, 0)
            + {{ var('efficiency_weight_within_1h') }} * coalesce(picked_within_1h_share, 0)
            + {{ var('efficiency_weight_quality') }} * coalesce(quality_rate, 0) as efficiency_score

    from rated

)

select * from final
