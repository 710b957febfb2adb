{{ config(materialized='ephemeral') }}

{{ gruponos.live_rows_with_status(
    'stg_wms__order_hdr', 'wms_order_hdr_statuses',
    ['status_label', 'status_group', 'is_shipped', 'is_closed', 'is_cancelled']
) }}
