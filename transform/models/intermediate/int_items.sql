{{ config(materialized='ephemeral') }}

{{ gruponos.live_rows_with_status('stg_wms__item', 'wms_item_statuses', ['status_label', 'is_active']) }}
