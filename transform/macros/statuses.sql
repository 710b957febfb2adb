{#- The live rows of a staging model (soft-deleted ones left out), every column, with the
    `columns` of the entity's status seed joined on `status_code` (labels, groups, flags:
    tenant configuration, never literals in SQL). One select and no CTE, so an ephemeral
    model made of it is inlined as a CTE of its readers. -#}
{% macro live_rows_with_status(model, seed, columns) -%}
select
    staged.*,
    {%- for column in columns %}
    statuses.{{ column }}{{ ',' if not loop.last }}
    {%- endfor %}

from {{ ref(model) }} staged
left join {{ ref(seed) }} statuses on statuses.status_code = staged.status_code
where staged.deleted_at is null
{%- endmacro %}
