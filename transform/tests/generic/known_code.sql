{#- Accepted values kept as data: every non-null value of the column appears in the seed's
    column (status codes, units of measure) — a relationship to the seed. Fails with one row
    per unknown value (`dangling_value`, `row_count`): add it to the seed (the tenant's
    configuration), do not edit SQL. -#}
{% test known_code(model, column_name, seed, seed_column) %}

{{ test_relationships_where(model, column_name, to=ref(seed), field=seed_column) }}

{% endtest %}
