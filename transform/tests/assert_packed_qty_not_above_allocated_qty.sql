-- An allocation never has more units packed than allocated.
-- Fails with the offending allocations.

with

allocations as (

    select * from {{ ref('stg_wms__allocation') }}

),

final as (

    select allocation_id, allocated_qty, packed_qty
    from allocations
    where packed_qty > allocated_qty

)

select * from final
