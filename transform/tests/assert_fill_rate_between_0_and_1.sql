-- An order's fill rate (shipped / ordered units) lies between 0 and 1.
-- Fails with the offending orders.

select order_id, ordered_qty, shipped_qty, fill_rate
from {{ ref('fct_order_fulfillment') }}
where fill_rate < 0 or fill_rate > 1
