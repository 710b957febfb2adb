-- An allocation never has more units packed than allocated.
-- Fails with the offending allocations.

select allocation_id, allocated_qty, packed_qty
from {{ ref('stg_wms__allocation') }}
where packed_qty > allocated_qty
