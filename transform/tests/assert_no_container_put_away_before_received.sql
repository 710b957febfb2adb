-- No container is first put away before it was received at the dock (what keeps
-- fct_inbound_receipts' dock-to-stock hours from going negative).
-- Fails with the offending containers.

select container_id, container_nbr, received_at, first_put_away_at
from {{ ref('stg_wms__container') }}
where deleted_at is null
    and first_put_away_at < received_at
