{#-
    Incremental builds. Each incremental model (and snapshot) reads only the raw rows that
    changed since it was last built, recomputes the keys those rows touch, and replaces them.

    What "changed since the last build" means is decided by the sync's own run log
    (`_sync_runs`), not by comparing clocks with dbt's: when a model starts (pre-hook), it
    notes a window in `incremental_marks` — `window_from`, `incremental_lookback_hours`
    before the end of the last finished sync run, the runs finished since then and the runs
    still loading — and once it has committed (post-hook) that window becomes the one its
    next build reads: raw rows loaded at or after `window_from` by a run not finished at
    the last build, every row of a run that was still loading then, and rows soft-deleted
    at or after `window_from`. So a run that commits while a build reads (or stamps rows
    from a clock behind the others') is read by the next build, and a finished run is
    never read twice, however close to the build it finished. `_loaded_at`, `_deleted_at`
    and `finished_at` all come from the loader's clock.

    Deletes: a key whose rows are gone comes out of a model's incremental query as a
    tombstone (`dbt_tombstone = 1`); the `replace_keys` strategy deletes every key in the
    query's result and inserts the rows that are not tombstones.
-#}

{#- The table of windows, in the models' schema. -#}
{% macro incremental_marks_relation() -%}
    {{ return(api.Relation.create(database=target.database, schema=target.schema, identifier='incremental_marks')) }}
{%- endmacro %}


{#- on-run-start: create the table of windows if it is missing (once, before any model).
    Plain DDL, no introspection, so `dbt compile` renders it without a database. -#}
{% macro create_incremental_marks() -%}
    {{ return(adapter.dispatch('create_incremental_marks', 'gruponos')()) }}
{%- endmacro %}

{% macro incremental_marks_columns() -%}
    model_name {{ dbt.type_string() }},
    is_pending {{ dbt.type_int() }},
    window_from {{ dbt.type_timestamp() }},
    run_id {{ dbt.type_string() }},
    is_running {{ dbt.type_int() }}
{%- endmacro %}

{% macro default__create_incremental_marks() -%}
    {%- set marks = gruponos.incremental_marks_relation() -%}
    create schema if not exists {{ adapter.quote(marks.schema) }};
    create table if not exists {{ marks }} ({{ gruponos.incremental_marks_columns() }})
{%- endmacro %}

{% macro oracle__create_incremental_marks() -%}
    begin
        execute immediate 'create table {{ gruponos.incremental_marks_relation() }} ({{ gruponos.incremental_marks_columns() }})';
    exception
        when others then
            if sqlcode != -955 then  -- ORA-00955: the table exists already
                raise;
            end if;
    end;
{%- endmacro %}


{#- pre-hook 1 of 2: forget a window left pending by a failed build, and every window when
    the relation is missing (dropped by hand: its next build reads every row). -#}
{% macro clear_pending_window() -%}
    delete from {{ gruponos.incremental_marks_relation() }}
    where model_name = '{{ this.identifier }}'
    {%- if load_relation(this) is not none %} and is_pending = 1{% endif %}
{%- endmacro %}


{#- pre-hook 2 of 2: note the window the next build will read, as the run log stands now. -#}
{% macro open_window() -%}
    insert into {{ gruponos.incremental_marks_relation() }} (model_name, is_pending, window_from, run_id, is_running)
    with

    runs as (
        select
            run_id,
            case when status = 'running' then 1 else 0 end as is_running,
            {{ gruponos.utc_timestamp('finished_at') }} as finished_at
        from {{ source('wms', 'sync_runs') }}
    ),

    windows as (
        select
            coalesce(
                {{ dbt.dateadd('hour', -1 * var('incremental_lookback_hours'),
                               'max(case when is_running = 0 then finished_at end)') }},
                timestamp '1900-01-01 00:00:00'
            ) as window_from
        from runs
    )

    select '{{ this.identifier }}', 1, windows.window_from, runs.run_id, runs.is_running
    from windows
    left join runs
        on runs.is_running = 1
        or (runs.is_running = 0 and runs.finished_at >= windows.window_from)
{%- endmacro %}


{#- post-hooks 1 and 2: the pending window becomes the one the next build reads. -#}
{% macro drop_closed_window() -%}
    delete from {{ gruponos.incremental_marks_relation() }}
    where model_name = '{{ this.identifier }}' and is_pending = 0
{%- endmacro %}

{% macro close_window() -%}
    update {{ gruponos.incremental_marks_relation() }}
    set is_pending = 0
    where model_name = '{{ this.identifier }}' and is_pending = 1
{%- endmacro %}


{#- A predicate on a staging relation's bookkeeping columns (loaded_at, sync_run_id,
    deleted_at): the row changed inside this model's window. With no window noted yet,
    every row has. -#}
{% macro in_window(relation_alias) -%}
    {%- set marks = gruponos.incremental_marks_relation() -%}
    {%- set this_window = "model_name = '" ~ this.identifier ~ "' and is_pending = 0" -%}
    (
        ({{ relation_alias }}.loaded_at >= {{ gruponos.window_from() }}
            and {{ relation_alias }}.sync_run_id not in (
                select run_id from {{ marks }} where {{ this_window }} and is_running = 0 and run_id is not null
            ))
        or {{ relation_alias }}.sync_run_id in (
            select run_id from {{ marks }} where {{ this_window }} and is_running = 1
        )
        or {{ relation_alias }}.deleted_at >= {{ gruponos.window_from() }}
    )
{%- endmacro %}


{#- The start of this model's window (a plain UTC timestamp; 1900 before a first window). -#}
{% macro window_from() -%}
    coalesce(
        (
            select max(window_from) from {{ gruponos.incremental_marks_relation() }}
            where model_name = '{{ this.identifier }}' and is_pending = 0
        ),
        timestamp '1900-01-01 00:00:00'
    )
{%- endmacro %}


{#- The hooks every incremental model and snapshot carries. -#}
{% macro window_pre_hooks() -%}
    {{ return(["{{ gruponos.clear_pending_window() }}", "{{ gruponos.open_window() }}"]) }}
{%- endmacro %}

{% macro window_post_hooks() -%}
    {{ return(["{{ gruponos.drop_closed_window() }}", "{{ gruponos.close_window() }}"]) }}
{%- endmacro %}


{#- Incremental strategy `replace_keys`: delete every key (unique_key, one or more columns)
    in the query's result, insert the result's rows that are not tombstones. -#}
{% macro get_incremental_replace_keys_sql(arg_dict) -%}
    {{ return(adapter.dispatch('replace_keys_sql', 'gruponos')(arg_dict)) }}
{%- endmacro %}

{% macro default__replace_keys_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set keys = [arg_dict['unique_key']] if arg_dict['unique_key'] is string else arg_dict['unique_key'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }}
    where ({{ keys | join(', ') }}) in (select {{ keys | join(', ') }} from {{ source }});
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }} where dbt_tombstone = 0
{%- endmacro %}

{% macro oracle__replace_keys_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set keys = [arg_dict['unique_key']] if arg_dict['unique_key'] is string else arg_dict['unique_key'] -%}
    {%- set columns = get_quoted_column_csv(model, arg_dict['dest_columns'] | map(attribute='name') | list) -%}
    delete from {{ target }}
    where ({{ keys | join(', ') }}) in (select {{ keys | join(', ') }} from {{ source }});
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }} where dbt_tombstone = 0;
{%- endmacro %}


{#- The model's result: in a full build the rows of `rows_cte`; in an incremental build
    those rows (dbt_tombstone = 0) plus a tombstone (the key, nulls, dbt_tombstone = 1) for
    every key of `keys_cte` left with no row, so `replace_keys` deletes it. `keys` are the
    key columns, named alike in both CTEs. -#}
{% macro select_with_tombstones(rows_cte, keys_cte, keys) -%}
    {%- if is_incremental() -%}
        {%- set columns = adapter.get_columns_in_relation(this) if execute else [] -%}
        {%- set key_names = keys | map('lower') | list -%}
    select {{ rows_cte }}.*, 0 as dbt_tombstone
    from {{ rows_cte }}

    union all

    select
        {%- for column in columns %}
        {% if column.name | lower in key_names -%}
            {{ keys_cte }}.{{ column.name | lower }}
        {%- else -%}
            null
        {%- endif %} as {{ column.name | lower }},
        {%- endfor %}
        1 as dbt_tombstone
    from {{ keys_cte }}
    where not exists (
        select 1 from {{ rows_cte }}
        where {% for key in key_names %}{{ rows_cte }}.{{ key }} = {{ keys_cte }}.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    )
    {%- else -%}
    select * from {{ rows_cte }}
    {%- endif -%}
{%- endmacro %}


{#- The allocations whose lifecycle row may change in this model's window: synced since
    its last build themselves, or through their order line or its order (soft-deleted
    rows included). Each branch is a plain semi-join over the staging views: an `or` of
    `in (subquery)` makes PostgreSQL run the subquery once per row when its hash would not
    fit in work_mem, and a CTE the model shares would be materialized whole by DuckDB. -#}
{% macro allocation_ids_in_window() -%}
    select allocations.allocation_id
    from {{ ref('stg_wms__allocation') }} allocations
    where {{ gruponos.in_window('allocations') }}

    union

    select allocations.allocation_id
    from {{ ref('stg_wms__allocation') }} allocations
    where allocations.order_dtl_id in (
        select order_lines.order_dtl_id
        from {{ ref('stg_wms__order_dtl') }} order_lines
        where {{ gruponos.in_window('order_lines') }}
    )

    union

    select allocations.allocation_id
    from {{ ref('stg_wms__allocation') }} allocations
    where allocations.order_dtl_id in (
        select order_lines.order_dtl_id
        from {{ ref('stg_wms__order_dtl') }} order_lines
        where order_lines.order_id in (
            select orders.order_id
            from {{ ref('stg_wms__order_hdr') }} orders
            where {{ gruponos.in_window('orders') }}
        )
    )
{%- endmacro %}


{#- Snapshot post-hook: close the current version of every record soft-deleted in the raw
    table inside the snapshot's window (the snapshots read changed rows only, so dbt's own
    hard_deletes cannot see a record vanish); dbt_valid_to is when the sync found it gone.
    A record the WMS shows again opens a new version. -#}
{% macro close_deleted_versions(raw_table, unique_key) -%}
    {%- set deleted_at = gruponos.utc_timestamp('raw.' ~ gruponos.raw_column('_deleted_at')) -%}
    update {{ this }} snapshotted
    set dbt_valid_to = (
        select {{ deleted_at }} from {{ source('wms', raw_table) }} raw
        where raw.id = snapshotted.{{ unique_key }}
    )
    where snapshotted.dbt_valid_to is null
        and snapshotted.{{ unique_key }} in (
            select raw.id from {{ source('wms', raw_table) }} raw
            where {{ deleted_at }} >= {{ gruponos.window_from() }}
        )
{%- endmacro %}
