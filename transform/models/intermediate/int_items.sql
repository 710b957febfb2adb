{{ config(materialized='ephemeral') }}

{#- one select (no CTEs): dbt inlines an ephemeral model as a CTE of its readers -#}
select
    items.*,
    statuses.status_label,
    statuses.is_active

from {{ ref('stg_wms__item') }} items
left join {{ ref('wms_item_statuses') }} statuses on statuses.status_code = items.status_code
where items.deleted_at is null
