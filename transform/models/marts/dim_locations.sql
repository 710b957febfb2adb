with

locations as (

    select * from {{ ref('stg_wms__location') }}
    where deleted_at is null

),

facilities as (

    select * from {{ ref('stg_wms__facility') }}
    where deleted_at is null

),

inventory as (

    select * from {{ ref('stg_wms__inventory') }}
    where deleted_at is null

),

stock as (

    select
        location_id,
        count(*) as inventory_record_count,
        count(distinct item_id) as item_count,
        {{ gruponos.quantity('sum(on_hand_qty)') }} as on_hand_qty

    from inventory
    where location_id is not null
    group by location_id

),

final as (

    select
        locations.location_id,
        locations.facility_id,
        locations.facility_code,
        facilities.facility_name,
        locations.location_code,
        locations.location_barcode,
        locations.location_type_code,
        locations.area,
        locations.aisle,
        locations.bay,
        locations.location_level,
        locations.location_position,
        locations.pick_sequence,
        locations.max_units,
        locations.max_volume,
        locations.is_locked_for_count,
        coalesce(stock.inventory_record_count, 0) as inventory_record_count,
        coalesce(stock.item_count, 0) as item_count,
        {{ gruponos.quantity('coalesce(stock.on_hand_qty, 0)') }} as on_hand_qty,
        {{ gruponos.flag_when('coalesce(stock.on_hand_qty, 0) = 0') }} as is_empty,
        {{ gruponos.ratio('stock.on_hand_qty', 'locations.max_units') }} as units_utilization

    from locations
    left join facilities on facilities.facility_id = locations.facility_id
    left join stock on stock.location_id = locations.location_id

)

select * from final
