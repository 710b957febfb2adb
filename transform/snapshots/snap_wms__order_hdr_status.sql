{% snapshot snap_wms__order_hdr_status %}

{{
    config(
        unique_key='order_id',
        strategy='timestamp',
        updated_at='modified_at',
        hard_deletes='invalidate',
    )
}}

select
    order_id,
    order_nbr,
    facility_id,
    status_code,
    status_label,
    status_group,
    shipped_at,
    modified_at

from {{ ref('stg_wms__order_hdr') }}

{% endsnapshot %}
