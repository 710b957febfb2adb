with

inventory as (

    select * from {{ ref('stg_wms__inventory') }}

),

allocations as (

    select * from {{ ref('int_allocation_lifecycle') }}

),

allocated_by_inventory as (

    select
        from_inventory_id as inventory_id,
        sum(outstanding_qty) as allocated_qty

    from allocations
    where from_inventory_id is not null
    group by from_inventory_id

),

inventory_rows as (

    select
        inventory.item_id,
        inventory.location_id,
        inventory.facility_id,
        inventory.on_hand_qty,
        case when inventory.is_available = 1 then 0 else inventory.on_hand_qty end as held_qty,
        coalesce(allocated_by_inventory.allocated_qty, 0) as allocated_qty

    from inventory
    left join allocated_by_inventory on allocated_by_inventory.inventory_id = inventory.inventory_id
    -- a position is an item in a location: stock not yet located has none
    where inventory.location_id is not null

),

positions as (

    select
        item_id,
        location_id,
        facility_id,
        count(*) as inventory_record_count,
        sum(on_hand_qty) as on_hand_qty,
        sum(held_qty) as held_qty,
        sum(allocated_qty) as allocated_qty

    from inventory_rows
    group by item_id, location_id, facility_id

),

final as (

    select
        positions.*,
        positions.on_hand_qty - positions.held_qty - positions.allocated_qty as available_qty,
        {{ gruponos.flag_when('positions.allocated_qty > positions.on_hand_qty - positions.held_qty') }}
            as is_over_allocated

    from positions

)

select * from final
