{#-
    Incremental builds. Each incremental model (and snapshot) reads only the raw rows that
    changed since it was last built, recomputes the keys those rows touch, and replaces them.

    What "changed since the last build" means is decided by the sync's own run log
    (`_sync_runs`), not by comparing clocks with dbt's: when a run starts (on-run-start,
    before any model compiles), it notes for each model a window in `incremental_marks` —
    `window_from`, `incremental_lookback_hours` before the end of the last finished sync
    run, the runs finished since then and the runs still loading — and once the model has
    committed (post-hook) that window becomes the one its next build reads: raw rows loaded
    at or after `window_from` by a run not finished at the last build, every row of a run
    that was still loading then, and rows soft-deleted at or after `window_from`. So a run
    that commits while a build reads (or stamps rows from a clock behind the others') is
    read by the next build, and a finished run is never read twice, however close to the
    build it finished. `_loaded_at`, `_deleted_at` and `finished_at` all come from the
    loader's clock.

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


{#- The windows a run opens: every model and snapshot carrying the window hooks (config
    meta `incremental_window`, set by replace_keys_config and status_snapshot) and, in the
    production build after a sync, the staging tests' window `__tests__`. -#}
{% macro window_names() -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type in ('model', 'snapshot') and node.package_name == project_name
                  and (node.config.get('meta') or {}).get('incremental_window') -%}
                {%- do names.append(node.alias or node.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if gruponos.test_scope() -%}{%- do names.append('__tests__') -%}{%- endif -%}
    {%- endif -%}
    {{ return(names | sort) }}
{%- endmacro %}

{% macro quoted_list(values) -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}{%- do quoted.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}{%- endfor -%}
    {{ return(quoted | join(', ')) }}
{%- endmacro %}


{#- on-run-start 2 of 3: forget the windows a failed build left pending. -#}
{% macro clear_pending_windows() -%}
    {%- set names = gruponos.window_names() -%}
    {%- if names -%}
    delete from {{ gruponos.incremental_marks_relation() }}
    where is_pending = 1 and model_name in ({{ gruponos.quoted_list(names) }})
    {%- endif -%}
{%- endmacro %}


{#- on-run-start 3 of 3: note the window each model's next build will read, as the run log
    stands before any model of this run is compiled or built. A model's query reads the run
    log later (when it compiles, or when it runs), so every run noted here as finished is
    one the query reads; a run that starts after this is noted by none and read again by
    the next build. -#}
{% macro open_windows() -%}
    {%- set names = gruponos.window_names() -%}
    {%- if names -%}
    {%- set from_dual = ' from dual' if target.type == 'oracle' else '' -%}
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
    ),

    models as (
        {%- for name in names %}
        select '{{ name }}' as model_name{{ from_dual }}{{ ' union all' if not loop.last }}
        {%- endfor %}
    )

    select models.model_name, 1, windows.window_from, runs.run_id, runs.is_running
    from models
    cross join windows
    left join runs
        on runs.is_running = 1
        or (runs.is_running = 0 and runs.finished_at >= windows.window_from)
    {%- endif -%}
{%- endmacro %}


{#- pre-hook 1 of 2: a model or snapshot whose relation is missing (first build, dropped by
    hand) forgets the window its last build closed, so this build reads every row (the
    window opened at the start of the run stays pending). -#}
{% macro forget_window_of_missing_relation() -%}
    {%- if load_relation(this) is none -%}
    delete from {{ gruponos.incremental_marks_relation() }}
    where model_name = '{{ this.identifier }}' and is_pending = 0
    {%- endif -%}
{%- endmacro %}


{#- post-hooks 1 and 2: the pending window becomes the one the next build reads. -#}
{% macro drop_closed_window(name=none) -%}
    delete from {{ gruponos.incremental_marks_relation() }}
    where model_name = '{{ name or this.identifier }}' and is_pending = 0
{%- endmacro %}

{% macro close_window(name=none) -%}
    update {{ gruponos.incremental_marks_relation() }}
    set is_pending = 0
    where model_name = '{{ name or this.identifier }}' and is_pending = 1
{%- endmacro %}


{#- A predicate on a staging relation's bookkeeping columns (loaded_at, sync_run_id,
    deleted_at): the row changed inside this model's window. With no window noted yet,
    every row has. -#}
{% macro in_window(relation_alias, name=none) -%}
    {{ return(adapter.dispatch('in_window', 'gruponos')(relation_alias, name)) }}
{%- endmacro %}

{% macro default__in_window(relation_alias, name=none) -%}
    {%- set marks = gruponos.incremental_marks_relation() -%}
    {%- set this_window = "model_name = '" ~ (name or this.identifier) ~ "' and is_pending = 0" -%}
    (
        ({{ relation_alias }}.loaded_at >= {{ gruponos.window_from(name) }}
            and {{ relation_alias }}.sync_run_id not in (
                select run_id from {{ marks }} where {{ this_window }} and is_running = 0 and run_id is not null
            ))
        or {{ relation_alias }}.sync_run_id in (
            select run_id from {{ marks }} where {{ this_window }} and is_running = 1
        )
        or {{ relation_alias }}.deleted_at >= {{ gruponos.window_from(name) }}
    )
{%- endmacro %}


{#- PostgreSQL: the same rows, with the window read when the model compiles and written as
    literals, so the planner sees which runs it reads: `_run_id in ('…')` is estimated from
    the column's statistics and served by the raw tables' indexes (gruponos/warehouse/
    postgres.py: `_run_id`, and `_deleted_at` in UTC). A subquery in its place is estimated
    at 10 / n_distinct(_run_id) — every row right after a full sync — and each incremental
    model then scanned its 1M-row tables as a full rebuild does (tests/performance/README.md,
    bench_dbt). A row loaded at or after the window's start was written by a run that
    finished at or after it, or has not finished (the loader stamps `_loaded_at` before
    `finished_at`, from one clock): the first branch names those runs. The runs are read
    after the run's on-run-start noted the next window (open_windows), so every run that
    window counts as read is in the list; one that starts after the compilation is read by
    the next build. A model whose relation is missing reads every row (its pre-hook forgets
    its closed window after the compilation). Every session that reads a window must rule
    out nested loops (session_settings; the runner's PGOPTIONS for the data tests, the only
    ones that read the window `__tests__`): on an estimate of a few rows the planner joins
    by nested loop over a whole table (a windowed relationships test took 819 s). -#}
{% macro postgres__in_window(relation_alias, name=none) -%}
    {%- set marks = gruponos.incremental_marks_relation() -%}
    {%- set sync_runs = source('wms', 'sync_runs') -%}
    {%- if not execute -%}
        {{ return(gruponos.default__in_window(relation_alias, name)) }}
    {%- endif -%}
    {%- if name is none and load_relation(this) is none -%}
        {{ return('(1 = 1)') }}
    {%- endif -%}
    {%- set window = run_query(
        "select window_from, run_id, is_running from " ~ marks
        ~ " where model_name = '" ~ (name or this.identifier) ~ "' and is_pending = 0") -%}
    {%- if window.rows | length == 0 -%}
        {{ return(gruponos.default__in_window(relation_alias, name)) }}
    {%- endif -%}
    {%- set start = window.columns[0].values() | max -%}
    {%- set since = "timestamp '" ~ start.isoformat(sep=' ') ~ "'" -%}
    {%- set read = [] -%}
    {%- set running = [] -%}
    {%- for row in window.rows if row[1] is not none -%}
        {%- do (running if row[2] == 1 else read).append(row[1]) -%}
    {%- endfor -%}
    {%- set runs = [] -%}
    {%- set log = run_query(
        "select run_id from " ~ sync_runs ~ " runs where runs.finished_at is null or "
        ~ gruponos.utc_timestamp('runs.finished_at') ~ " >= " ~ since) -%}
    {%- for run_id in log.columns[0].values() if run_id not in read -%}
        {%- do runs.append(run_id) -%}
    {%- endfor -%}
    (
        {%- if runs %}
        ({{ relation_alias }}.sync_run_id in ({{ gruponos.quoted_list(runs | sort) }})
            and {{ relation_alias }}.loaded_at >= {{ since }})
        or
        {%- endif %}
        {%- if running %}
        {{ relation_alias }}.sync_run_id in ({{ gruponos.quoted_list(running | sort) }})
        or
        {%- endif %}
        {{ relation_alias }}.deleted_at >= {{ since }}
    )
{%- endmacro %}


{#- The start of this model's window (a plain UTC timestamp; 1900 before a first window). -#}
{% macro window_from(name=none) -%}
    coalesce(
        (
            select max(window_from) from {{ gruponos.incremental_marks_relation() }}
            where model_name = '{{ name or this.identifier }}' and is_pending = 0
        ),
        timestamp '1900-01-01 00:00:00'
    )
{%- endmacro %}


{#- The hooks every incremental model and snapshot carries. -#}
{% macro window_pre_hooks() -%}
    {{ return(["{{ gruponos.forget_window_of_missing_relation() }}", "{{ gruponos.drop_window_keys() }}"]) }}
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
    select {{ columns }} from {{ source }} where dbt_tombstone = 0;
    {%- set window_keys = gruponos.window_keys_relation(target) %}
    -- the keys this build replaced, which the windowed tests read (get_where_subquery)
    drop table if exists {{ window_keys }};
    create table {{ window_keys }} as
    select distinct {{ keys | join(', ') }} from {{ source }}
    {%- do adapter.cache_added(window_keys) -%}
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
    its last build themselves, or through their order line (macros/changed_keys.sql) or
    its order (soft-deleted rows included). Each branch is a plain semi-join over the staging views: an `or` of
    `in (subquery)` makes PostgreSQL run the subquery once per row when its hash would not
    fit in work_mem, and a CTE the model shares would be materialized whole by DuckDB. -#}
{% macro allocation_ids_in_window() -%}
    {{ gruponos.keys_in_window('stg_wms__allocation', 'allocation_id') }}

    union

    {{ gruponos.keys_changed_through('stg_wms__allocation', 'allocation_id', 'order_dtl_id', 'stg_wms__order_dtl', 'order_dtl_id') }}

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


{#- ------------------------------------------------------------------------------------
    Data tests in the window. The production build after a sync (gruponos.dbt_runner sets
    GRUPONOS_DBT__TEST_SCOPE=window) tests only the rows it changed; every other build — a
    plain `dbt build`, CI, `--full-refresh` — tests every row:
    - on a staging view: the rows synced since the last production build that passed
      (the window `__tests__`, noted like a model's: opened on-run-start, closed on-run-end
      when every node passed, so a failed build's rows are tested again by the next);
    - on an incremental model (replace_keys): the keys its incremental build just replaced
      (kept in `<model>__window_keys` by replace_keys, dropped by any build that is not
      incremental, so the table exists only after an incremental build).
    Everything else (tables rebuilt whole, snapshots, seeds, singular tests) is tested whole.
-#}

{#- The scope the runner asked for: 'window', 'all' (a production full build: every row,
    and the window moves on), '' (anyone else's build: every row, the window stays).
    Read at run time only, so the variable never invalidates dbt's partial parsing. -#}
{% macro test_scope() -%}
    {{ return(env_var('GRUPONOS_DBT__TEST_SCOPE', '') if execute else '') }}
{%- endmacro %}

{% macro window_keys_relation(relation) -%}
    {{ return(api.Relation.create(database=relation.database, schema=relation.schema,
                                  identifier=relation.identifier ~ '__window_keys', type='table')) }}
{%- endmacro %}

{#- pre-hook 2 of 2: a build that is not incremental (first build, --full-refresh) drops the
    model's window keys, so its tests read every row (Oracle keeps none: its tests read all). -#}
{% macro drop_window_keys() -%}
    {%- if target.type != 'oracle' and model.config.get('incremental_strategy') == 'replace_keys'
          and (should_full_refresh() or load_relation(this) is none) -%}
    {%- set window_keys = gruponos.window_keys_relation(this) -%}
    drop table if exists {{ window_keys }}
    {%- do adapter.cache_dropped(window_keys) -%}
    {%- endif -%}
{%- endmacro %}

{#- on-run-end: every node of the build passed (a failed build's window is tested again by
    the next; dbt_project.yml moves the window `__tests__` on only then). -#}
{% macro build_passed(results) -%}
    {%- set failed = results | selectattr('status', 'in', ['error', 'fail', 'runtime error', 'skipped']) | list -%}
    {{ return(not failed) }}
{%- endmacro %}

{#- dbt's own macro, which every generic test calls on the relation it tests: the rows a
    test reads (its `where` config, and in a windowed build the window). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set window = gruponos.tested_rows(relation) if gruponos.test_scope() == 'window' else '' -%}
    {%- if where or window -%}
        {%- set filtered -%}
            (select * from {{ relation }} tested where ({{ where or '1 = 1' }}) and ({{ window or '1 = 1' }})) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}

{#- The predicate (on alias `tested`) of the rows of `relation` in the window, or '' for all. -#}
{% macro tested_rows(relation) -%}
    {%- set node = graph.nodes.get(model.get('attached_node') or '') -%}
    {%- if node is none or (node.alias or node.name) | lower != relation.identifier | lower -%}
        {{ return('') }}
    {%- endif -%}
    {%- set columns = node.columns.keys() | map('lower') | list -%}
    {%- if node.config.materialized == 'view' and 'loaded_at' in columns and 'sync_run_id' in columns
          and 'deleted_at' in columns -%}
        {{ return(gruponos.in_window('tested', '__tests__')) }}
    {%- endif -%}
    {%- if node.config.materialized == 'incremental' and node.config.get('incremental_strategy') == 'replace_keys' -%}
        {%- set keys_relation = gruponos.window_keys_relation(relation) -%}
        {%- if adapter.get_relation(keys_relation.database, keys_relation.schema, keys_relation.identifier) is not none -%}
            {%- set key = node.config.unique_key -%}
            {%- set keys = ([key] if key is string else key) | join(', ') -%}
            {{ return('(' ~ keys ~ ') in (select ' ~ keys ~ ' from ' ~ keys_relation ~ ')') }}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
