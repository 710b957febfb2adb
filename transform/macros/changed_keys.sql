{#-
    What the incremental models share (the window itself is macros/incremental.sql): their
    config, the selects that find the keys a window touched, and the join that narrows a
    relation to those keys. A model names its touched keys in a CTE `keys`, a union of
    keys_in_window / keys_changed_through selects, inside `{% if is_incremental() %}`.
-#}

{#- The config of a table rebuilt by key: incremental, strategy `replace_keys` on
    `unique_key` (a column or a list), with the window hooks. Use:
    `{{ config(**gruponos.replace_keys_config('order_id')) }}`. -#}
{% macro replace_keys_config(unique_key) -%}
    {{ return({
        'materialized': 'incremental',
        'unique_key': unique_key,
        'incremental_strategy': 'replace_keys',
        'pre_hook': gruponos.window_pre_hooks(),
        'post_hook': gruponos.window_post_hooks(),
        'meta': {'incremental_window': true},
    }) }}
{%- endmacro %}


{#- The non-null `key` of the rows of the staging model `model` synced in this model's
    window (soft-deleted and restored rows included). -#}
{% macro keys_in_window(model, key) -%}
    select staged.{{ key }}
    from {{ ref(model) }} staged
    where staged.{{ key }} is not null
        and {{ gruponos.in_window('staged') }}
{%- endmacro %}


{#- The non-null `key` of the rows of the staging model `model` whose `via` column(s) match
    the `changed_via` column(s) of a row of `changed_model` synced in this model's window:
    the rows a changed parent or child touches. One semi-join (`in (subquery)`), so each
    branch of the union stays a plain hash join on PostgreSQL. -#}
{% macro keys_changed_through(model, key, via, changed_model, changed_via) -%}
    {%- set via = [via] if via is string else via -%}
    {%- set changed_via = [changed_via] if changed_via is string else changed_via -%}
    select staged.{{ key }}
    from {{ ref(model) }} staged
    where staged.{{ key }} is not null
        and {{ gruponos.row_value('staged', via) }} in (
            select {% for column in changed_via %}changed.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
            from {{ ref(changed_model) }} changed
            where {{ gruponos.in_window('changed') }}
        )
{%- endmacro %}


{#- `alias.column`, or the row value `(alias.a, alias.b)` of several columns. -#}
{% macro row_value(alias, columns) -%}
    {%- set qualified = [] -%}
    {%- for column in columns -%}{%- do qualified.append(alias ~ '.' ~ column) -%}{%- endfor -%}
    {{ qualified[0] if qualified | length == 1 else '(' ~ qualified | join(', ') ~ ')' }}
{%- endmacro %}


{#- In an incremental build, an inner join of `relation` to the model's `keys` CTE on the
    key columns (nothing in a full build). `columns`: the key column, a list of them, or a
    mapping of each key column to `relation`'s column. -#}
{% macro join_changed_keys(relation, columns) -%}
    {%- if is_incremental() -%}
        {%- set pairs = {} -%}
        {%- if columns is mapping -%}
            {%- do pairs.update(columns) -%}
        {%- else -%}
            {%- for column in ([columns] if columns is string else columns) -%}{%- do pairs.update({column: column}) -%}{%- endfor -%}
        {%- endif -%}
    inner join keys
        on {% for key, column in pairs.items() -%}
            keys.{{ key }} = {{ relation }}.{{ column }}{{ '\n            and ' if not loop.last }}
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}
