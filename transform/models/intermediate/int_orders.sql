{{ config(materialized='ephemeral') }}

{#- one select (no CTEs): dbt inlines an ephemeral model as a CTE of its readers -#}
select
    orders.*,
    statuses.status_label,
    statuses.status_group,
    statuses.is_shipped,
    statuses.is_closed,
    statuses.is_cancelled

from {{ ref('stg_wms__order_hdr') }} orders
left join {{ ref('wms_order_hdr_statuses') }} statuses on statuses.status_code = orders.status_code
where orders.deleted_at is null
