{#- dbt_utils' relationships_where, written here (no hub): every value of the column, on the
    rows meeting `from_condition`, is the `field` of a row of `to` meeting `to_condition`.
    Staging keeps soft-deleted rows, so live rows must point at live rows. Fails with one
    row per dangling value. -#}
{% test relationships_where(model, column_name, to, field, from_condition='1 = 1', to_condition='1 = 1') %}

with

children as (
    select {{ column_name }} as value
    from {{ model }}
    where {{ column_name }} is not null and ({{ from_condition }})
),

parents as (
    select {{ field }} as value
    from {{ to }}
    where {{ to_condition }}
),

final as (
    select children.value as dangling_value, count(*) as row_count
    from children
    left join parents on parents.value = children.value
    where parents.value is null
    group by children.value
)

select * from final

{% endtest %}
