with

source as (

    select * from {{ source('wms', 'order_dtl') }}

),

statuses as (

    select * from {{ ref('wms_order_dtl_statuses') }}

),

units as (

    select * from {{ ref('wms_units_of_measure') }}

),

renamed as (

    select
        ----------  ids
        id as order_dtl_id,
        order_id,
        item_id,

        ---------- codes and text
        item_key as item_code,
        ordered_uom_key as ordered_uom_code,
        invn_attr_key as inventory_attribute_code,
        seq_nbr as line_seq_nbr,
        po_nbr,
        shipment_nbr,
        lock_code,

        ---------- numerics
        {{ gruponos.quantity('ord_qty') }} as ordered_qty,
        {{ gruponos.quantity('orig_ord_qty') }} as original_ordered_qty,
        {{ gruponos.quantity('alloc_qty') }} as allocated_qty,
        {{ gruponos.quantity('ordered_uom_qty') }} as ordered_uom_qty,
        {{ gruponos.quantity('sale_price') }} as sale_price,
        {{ gruponos.quantity('cost') }} as unit_cost,
        {{ gruponos.quantity('unit_declared_value') }} as unit_declared_value,
        allocation_count as wms_allocation_count,

        ---------- status
        status_id as status_code,

        ---------- timestamps (UTC)
        create_user as created_by,
        {{ gruponos.utc_timestamp('create_ts') }} as created_at,
        mod_user as modified_by,
        {{ gruponos.utc_timestamp('mod_ts') }} as modified_at,
        {{ gruponos.utc_timestamp(gruponos.raw_column('_loaded_at')) }} as loaded_at

    from source
    where {{ gruponos.raw_column('_deleted_at') }} is null

),

final as (

    select
        renamed.*,
        statuses.status_label,
        statuses.status_group,
        statuses.is_shipped,
        statuses.is_closed,
        statuses.is_cancelled,
        units.uom_label as ordered_uom_label

    from renamed
    left join statuses on statuses.status_code = renamed.status_code
    left join units on units.uom_code = renamed.ordered_uom_code

)

select * from final
