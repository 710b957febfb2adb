{#- Accepted values kept as data: every non-null value of the column appears in the seed's
    column (status codes, units of measure). Fails with one row per unknown value: add it to
    the seed (the tenant's configuration), do not edit SQL. -#}
{% test known_code(model, column_name, seed, seed_column) %}

with

known as (
    select {{ seed_column }} as code from {{ ref(seed) }}
),

observed as (
    select {{ column_name }} as code from {{ model }} where {{ column_name }} is not null
),

final as (
    select observed.code as unknown_code, count(*) as row_count
    from observed
    left join known on known.code = observed.code
    where known.code is null
    group by observed.code
)

select * from final

{% endtest %}
