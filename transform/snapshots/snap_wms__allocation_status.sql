{% snapshot snap_wms__allocation_status %}

{{
    config(
        unique_key='allocation_id',
        strategy='timestamp',
        updated_at='modified_at',
        hard_deletes='invalidate',
    )
}}

select
    allocation_id,
    order_dtl_id,
    status_code,
    status_label,
    status_group,
    allocated_qty,
    packed_qty,
    pick_user,
    picked_at,
    modified_at

from {{ ref('stg_wms__allocation') }}

{% endsnapshot %}
