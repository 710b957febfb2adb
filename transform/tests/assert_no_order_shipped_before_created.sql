-- No order ships before it was created.
-- Fails with the offending orders.

with

orders as (

    select * from {{ ref('stg_wms__order_hdr') }}

),

final as (

    select order_id, order_nbr, created_at, shipped_at
    from orders
    where shipped_at < created_at

)

select * from final
