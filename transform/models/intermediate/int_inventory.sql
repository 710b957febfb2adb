{{ config(materialized='ephemeral') }}

{{ gruponos.live_rows_with_status('stg_wms__inventory', 'wms_inventory_statuses', ['status_label', 'is_available']) }}
