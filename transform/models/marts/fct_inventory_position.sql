{{ config(**gruponos.replace_keys_config('item_id')) }}

{#- Incremental by item: every position of an item touched by a synced inventory record
    or allocation is recomputed, so stock that moves between locations leaves its old
    position. An inventory record's item does not change in the WMS. -#}

with

-- read by incremental builds only
-- depends_on: {{ ref('stg_wms__inventory') }}
-- depends_on: {{ ref('stg_wms__allocation') }}

inventory as (

    select * from {{ ref('int_inventory') }}

),

allocations as (

    select * from {{ ref('int_allocation_lifecycle') }}

),

{% if is_incremental() %}

-- the items whose positions may change: through an inventory record synced since the last
-- build, or one an allocation synced since then takes from (soft-deleted rows included)
keys as (

    {{ gruponos.keys_in_window('stg_wms__inventory', 'item_id') }}
    union
    {{ gruponos.keys_changed_through('stg_wms__inventory', 'item_id', 'inventory_id', 'stg_wms__allocation', 'from_inventory_id') }}

),

{% endif %}

inventory_rows as (

    select inventory.*
    from inventory
    {{ gruponos.join_changed_keys('inventory', 'item_id') }}
    -- a position is an item in a location: stock not yet located has none
    where inventory.location_id is not null

),

allocated_by_inventory as (

    select
        allocations.from_inventory_id as inventory_id,
        sum(allocations.outstanding_qty) as allocated_qty

    from allocations
    inner join inventory_rows on inventory_rows.inventory_id = allocations.from_inventory_id
    group by allocations.from_inventory_id

),

stock as (

    select
        inventory_rows.item_id,
        inventory_rows.location_id,
        inventory_rows.facility_id,
        inventory_rows.on_hand_qty,
        case when inventory_rows.is_available = 1 then 0 else inventory_rows.on_hand_qty end as held_qty,
        coalesce(allocated_by_inventory.allocated_qty, 0) as allocated_qty

    from inventory_rows
    left join allocated_by_inventory on allocated_by_inventory.inventory_id = inventory_rows.inventory_id

),

positions as (

    select
        item_id,
        location_id,
        facility_id,
        count(*) as inventory_record_count,
        {{ gruponos.quantity('sum(on_hand_qty)') }} as on_hand_qty,
        {{ gruponos.quantity('sum(held_qty)') }} as held_qty,
        {{ gruponos.quantity('sum(allocated_qty)') }} as allocated_qty

    from stock
    group by item_id, location_id, facility_id

),

final as (

    select
        positions.*,
        {{ gruponos.quantity('positions.on_hand_qty - positions.held_qty - positions.allocated_qty') }} as available_qty,
        {{ gruponos.flag_when('positions.allocated_qty > positions.on_hand_qty - positions.held_qty') }}
            as is_over_allocated

    from positions

)

{{ gruponos.select_with_tombstones('final', 'keys', ['item_id']) }}
