-- No order ships before it was created.
-- Fails with the offending orders.

select order_id, order_nbr, created_at, shipped_at
from {{ ref('stg_wms__order_hdr') }}
where shipped_at < created_at
