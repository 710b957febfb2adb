-- No container is first put away before it was received at the dock (what keeps
-- fct_inbound_receipts' dock-to-stock hours from going negative).
-- Fails with the offending containers.

with

containers as (

    select * from {{ ref('stg_wms__container') }}

),

final as (

    select container_id, container_nbr, received_at, first_put_away_at
    from containers
    where deleted_at is null
        and first_put_away_at < received_at

)

select * from final
