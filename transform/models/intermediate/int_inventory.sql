{{ config(materialized='ephemeral') }}

{#- one select (no CTEs): dbt inlines an ephemeral model as a CTE of its readers -#}
select
    inventory.*,
    statuses.status_label,
    statuses.is_available

from {{ ref('stg_wms__inventory') }} inventory
left join {{ ref('wms_inventory_statuses') }} statuses on statuses.status_code = inventory.status_code
where inventory.deleted_at is null
