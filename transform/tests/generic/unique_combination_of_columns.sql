{#- The columns together identify a row (the model's grain). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grain as (
    select {{ combination_of_columns | join(', ') }}, count(*) as row_count
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
),

final as (
    select * from grain where row_count > 1
)

select * from final

{% endtest %}
