{#-
    The shape every staging model and snapshot shares: a raw WMS table, its columns renamed
    and typed, then the columns every WMS record carries (who created and last changed it,
    and when) and the ones the sync adds (loaded_at, sync_run_id, deleted_at).
-#}

{#- A staging model: one row per raw row, soft-deleted ones included. The caller's block is
    the select list of the entity's own columns (renamed, cast, UTC); the WMS's change columns
    and the sync's bookkeeping follow it, in that order. `users=false` for the entities whose
    records keep no create_user / mod_user.

        {% call gruponos.staging_model('facility', users=false) %}
            id as facility_id,
            ...
        {% endcall %}
-#}
{% macro staging_model(entity, users=true) -%}
with

source as (

    select * from {{ source('wms', entity) }}

),

renamed as (

    select
        {{ caller() | trim | indent(4) }},

        ---------- who created and last changed the record, and when (UTC)
        {{ gruponos.change_columns(users) }},

        ---------- the sync's bookkeeping (deleted_at: a full sync no longer found the id)
        {{ gruponos.sync_columns() }}

    from source

)

select * from renamed
{%- endmacro %}


{#- The WMS's change columns of a raw row: created_by, created_at, modified_by, modified_at
    (UTC); without the two users when `users` is false. -#}
{% macro change_columns(users=true) -%}
    {%- if users -%}
        create_user as created_by,
        {{ gruponos.utc_timestamp('create_ts') }} as created_at,
        mod_user as modified_by,
        {{ gruponos.utc_timestamp('mod_ts') }} as modified_at
    {%- else -%}
        {{ gruponos.utc_timestamp('create_ts') }} as created_at,
        {{ gruponos.utc_timestamp('mod_ts') }} as modified_at
    {%- endif -%}
{%- endmacro %}


{#- The sync's bookkeeping of a raw row: when it was loaded (UTC), by which sync run, and when
    a full sync no longer found its id (UTC; null while the WMS has it). Raw names are quoted
    as the warehouse created them (raw_column). -#}
{% macro sync_columns() -%}
        {{ gruponos.utc_timestamp(gruponos.raw_column('_loaded_at')) }} as loaded_at,
        {{ gruponos.raw_column('_run_id') }} as sync_run_id,
        {{ gruponos.utc_timestamp(gruponos.raw_column('_deleted_at')) }} as deleted_at
{%- endmacro %}


{#- A status snapshot (SCD type 2, timestamp strategy on `modified_at`) of a raw table, in a
    `{% snapshot %}` block: its config, and the live rows synced since the snapshot's last
    build (every row, the first time); the caller's block is the select list of the
    snapshotted columns over the raw row, `modified_at` among them. A row soft-deleted in
    the raw table has its current version closed by the post-hook (close_deleted_versions). -#}
{% macro status_snapshot(entity, unique_key) -%}
{{
    config(
        unique_key=unique_key,
        strategy='timestamp',
        updated_at='modified_at',
        hard_deletes='ignore',
        pre_hook=gruponos.window_pre_hooks(),
        post_hook=["{{ gruponos.close_deleted_versions('" ~ entity ~ "', '" ~ unique_key ~ "') }}"]
            + gruponos.window_post_hooks(),
        meta={'incremental_window': true},
    )
}}

with

source as (

    select
        raw_rows.*,
        {{ gruponos.sync_columns() }}

    from {{ source('wms', entity) }} raw_rows

)

select
    {{ caller() | trim }}

from source
where source.deleted_at is null
    -- only the rows synced since the last snapshot can have a new version (all, the first time)
    and {{ gruponos.in_window('source') }}
{%- endmacro %}
