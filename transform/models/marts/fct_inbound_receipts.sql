{{ config(**gruponos.replace_keys_config('po_dtl_id')) }}

with

po_lines as (

    select * from {{ ref('stg_wms__purchase_order_dtl') }}

),

purchase_orders as (

    select * from {{ ref('stg_wms__purchase_order_hdr') }}

),

asn_lines as (

    select * from {{ ref('stg_wms__ib_shipment_dtl') }}

),

containers as (

    select * from {{ ref('stg_wms__container') }}

),

statuses as (

    select * from {{ ref('wms_purchase_order_statuses') }}

),

{% if is_incremental() %}

-- the lines whose row may change: synced since the last build themselves, through their
-- purchase order, through one of their ASN lines or through a container received on one
-- (soft-deleted and restored rows included)
keys as (

    {{ gruponos.keys_in_window('stg_wms__purchase_order_dtl', 'po_dtl_id') }}
    union
    {{ gruponos.keys_changed_through('stg_wms__purchase_order_dtl', 'po_dtl_id', 'po_id', 'stg_wms__purchase_order_hdr', 'po_id') }}
    union
    {{ gruponos.keys_in_window('stg_wms__ib_shipment_dtl', 'po_dtl_id') }}
    union
    -- the ASN line's LPN is the container received on its ASN with that number
    {{ gruponos.keys_changed_through(
        'stg_wms__ib_shipment_dtl', 'po_dtl_id', ['ib_shipment_id', 'lpn_nbr'],
        'stg_wms__container', ['received_ib_shipment_id', 'container_nbr']
    ) }}

),

{% endif %}

live_po_lines as (

    select po_lines.*
    from po_lines
    {{ gruponos.join_changed_keys('po_lines', 'po_dtl_id') }}
    where po_lines.deleted_at is null

),

live_purchase_orders as (

    select * from purchase_orders
    where deleted_at is null

),

live_asn_lines as (

    select asn_lines.*
    from asn_lines
    {{ gruponos.join_changed_keys('asn_lines', 'po_dtl_id') }}
    where asn_lines.deleted_at is null
        and asn_lines.po_dtl_id is not null

),

asn_totals as (

    select
        live_asn_lines.po_dtl_id,
        count(*) as asn_line_count,
        sum(live_asn_lines.shipped_qty) as shipped_qty,
        sum(live_asn_lines.received_qty) as received_qty

    from live_asn_lines
    group by live_asn_lines.po_dtl_id

),

-- each container received for the line once, however many of its ASN lines name it: the
-- LPN an ASN line travelled in is the container received on that ASN with its number
received_containers as (

    select distinct
        live_asn_lines.po_dtl_id,
        containers.container_id,
        containers.received_at,
        containers.first_put_away_at

    from live_asn_lines
    inner join containers
        on containers.received_ib_shipment_id = live_asn_lines.ib_shipment_id
            and containers.container_nbr = live_asn_lines.lpn_nbr
    where containers.deleted_at is null
        and containers.received_at is not null

),

container_totals as (

    select
        received_containers.po_dtl_id,
        count(*) as received_container_count,
        count(received_containers.first_put_away_at) as put_away_container_count,
        min(received_containers.received_at) as first_received_at,
        max(received_containers.first_put_away_at) as last_put_away_at

    from received_containers
    group by received_containers.po_dtl_id

),

joined as (

    select
        live_po_lines.po_dtl_id,
        live_po_lines.po_id,
        live_po_lines.po_nbr,
        live_po_lines.line_seq_nbr,
        live_purchase_orders.facility_id,
        live_purchase_orders.facility_code,
        live_purchase_orders.vendor_id,
        live_purchase_orders.vendor_code,
        live_po_lines.item_id,
        live_po_lines.item_code,
        live_po_lines.status_code,
        statuses.status_label,
        statuses.status_group,
        statuses.is_cancelled,
        live_purchase_orders.ordered_date,
        live_purchase_orders.delivery_date,
        live_po_lines.ordered_qty,
        coalesce(asn_totals.asn_line_count, 0) as asn_line_count,
        {{ gruponos.quantity('coalesce(asn_totals.shipped_qty, 0)') }} as shipped_qty,
        {{ gruponos.quantity('coalesce(asn_totals.received_qty, 0)') }} as received_qty,
        coalesce(container_totals.received_container_count, 0) as received_container_count,
        coalesce(container_totals.put_away_container_count, 0) as put_away_container_count,
        container_totals.first_received_at,
        container_totals.last_put_away_at

    from live_po_lines
    left join statuses on statuses.status_code = live_po_lines.status_code
    left join live_purchase_orders on live_purchase_orders.po_id = live_po_lines.po_id
    left join asn_totals on asn_totals.po_dtl_id = live_po_lines.po_dtl_id
    left join container_totals on container_totals.po_dtl_id = live_po_lines.po_dtl_id

),

final as (

    select
        joined.*,
        {{ gruponos.ratio('joined.received_qty', 'joined.ordered_qty') }} as fill_rate,
        case
            when joined.received_container_count > 0
                and joined.put_away_container_count = joined.received_container_count
                then {{ gruponos.seconds_between('joined.first_received_at', 'joined.last_put_away_at') }} / 3600
        end as dock_to_stock_hours

    from joined

)

{{ gruponos.select_with_tombstones('final', 'keys', ['po_dtl_id']) }}
