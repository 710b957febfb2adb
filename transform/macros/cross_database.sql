{#-
    Dialect differences, each behind one adapter.dispatch macro: default__ serves DuckDB and
    PostgreSQL, oracle__ serves Oracle (19c and later: no boolean columns, upper-case
    identifiers, '' is NULL). Models call these, or dbt's own cross-database macros
    (dbt.datediff, dbt.dateadd), never dialect SQL.
-#}

{#- A raw-table column by its catalog name. The Oracle warehouse creates every identifier
    quoted in upper case, and names such as _loaded_at or level must stay quoted there. -#}
{% macro raw_column(name) -%}
    {{ return(adapter.dispatch('raw_column', 'gruponos')(name)) }}
{%- endmacro %}

{% macro default__raw_column(name) -%}
    {{ return('"' ~ name | lower ~ '"') }}
{%- endmacro %}

{% macro oracle__raw_column(name) -%}
    {{ return('"' ~ name | upper ~ '"') }}
{%- endmacro %}


{#- A zoned timestamp (TIMESTAMPTZ / TIMESTAMP WITH TIME ZONE) as a plain UTC timestamp. -#}
{% macro utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'gruponos')(expression)) }}
{%- endmacro %}

{% macro default__utc_timestamp(expression) -%}
    cast(({{ expression }}) at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- DuckDB: a TIMESTAMPTZ is a UTC instant in microseconds; rebuilding the plain timestamp
    from them skips the ICU time-zone conversion (20x faster over a million rows, same values). -#}
{% macro duckdb__utc_timestamp(expression) -%}
    make_timestamp(epoch_us({{ expression }}))
{%- endmacro %}

{% macro oracle__utc_timestamp(expression) -%}
    sys_extract_utc({{ expression }})
{%- endmacro %}


{#- The calendar day of a plain timestamp or a stored date, as a date without time of day
    (Oracle's DATE carries one). -#}
{% macro day_of(expression) -%}
    {{ return(adapter.dispatch('day_of', 'gruponos')(expression)) }}
{%- endmacro %}

{% macro default__day_of(expression) -%}
    cast({{ expression }} as date)
{%- endmacro %}

{% macro oracle__day_of(expression) -%}
    trunc(cast({{ expression }} as date))
{%- endmacro %}


{#- Seconds from one plain timestamp to a later one, with fractions (negative if earlier), as a double
    (Oracle: NUMBER). -#}
{% macro seconds_between(start, finish) -%}
    {{ return(adapter.dispatch('seconds_between', 'gruponos')(start, finish)) }}
{%- endmacro %}

{% macro default__seconds_between(start, finish) -%}
    cast(extract(epoch from ({{ finish }})) - extract(epoch from ({{ start }})) as double precision)
{%- endmacro %}

{% macro duckdb__seconds_between(start, finish) -%}
    ((epoch_us({{ finish }}) - epoch_us({{ start }})) / 1000000.0)
{%- endmacro %}

{% macro oracle__seconds_between(start, finish) -%}
    {%- set delta = '(cast(' ~ finish ~ ' as timestamp) - cast(' ~ start ~ ' as timestamp))' -%}
    (extract(day from {{ delta }}) * 86400 + extract(hour from {{ delta }}) * 3600
     + extract(minute from {{ delta }}) * 60 + extract(second from {{ delta }}))
{%- endmacro %}


{#- A boolean column (BOOLEAN; NUMBER(1) on Oracle) as the integer flag 1 / 0 / null: every
    flag leaves staging as an integer so predicates read `flag = 1` on every database. -#}
{% macro flag(expression) -%}
    {{ return(adapter.dispatch('flag', 'gruponos')(expression)) }}
{%- endmacro %}

{% macro default__flag(expression) -%}
    cast({{ expression }} as integer)
{%- endmacro %}

{% macro oracle__flag(expression) -%}
    cast({{ expression }} as number(1))
{%- endmacro %}


{#- A condition as the integer flag 1 / 0 (Oracle before 23ai cannot select a boolean). -#}
{% macro flag_when(condition) -%}
    case when {{ condition }} then 1 else 0 end
{%- endmacro %}


{#- An exact quantity (the raw tables hold DECIMAL(28,8) / NUMBER(28,8)). -#}
{% macro quantity(expression) -%}
    {{ return(adapter.dispatch('quantity', 'gruponos')(expression)) }}
{%- endmacro %}

{% macro default__quantity(expression) -%}
    cast({{ expression }} as decimal(28, 8))
{%- endmacro %}

{% macro oracle__quantity(expression) -%}
    cast({{ expression }} as number(28, 8))
{%- endmacro %}


{#- numerator / denominator as a double (Oracle: NUMBER, exact), null when the denominator is 0. -#}
{% macro ratio(numerator, denominator) -%}
    {{ return(adapter.dispatch('ratio', 'gruponos')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__ratio(numerator, denominator) -%}
    (cast({{ numerator }} as double precision) / nullif(cast({{ denominator }} as double precision), 0))
{%- endmacro %}

{% macro duckdb__ratio(numerator, denominator) -%}
    (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}

{% macro oracle__ratio(numerator, denominator) -%}
    ({{ numerator }} / nullif({{ denominator }}, 0))
{%- endmacro %}


{#- Settings for the sessions that build models (a pre-hook of every model and snapshot; an
    empty hook is skipped). PostgreSQL, measured here: no JIT compilation — on these queries,
    with their many expressions, it costs seconds per model for nothing (an incremental
    model's query at 20k allocations: 7.5 s with JIT, 0.24 s without); no nested-loop joins —
    the staging views' UTC expressions hide the columns' statistics, a `deleted_at is null`
    is estimated at 0.5 % of the rows, and the nested loop picked on that estimate took an
    incremental build of int_order_lines_enriched at 200k allocations from 0.5 s to 200 s;
    64MB of work_mem per hash (default 4MB), so a million keys hash in memory. The values
    are the project's var `postgres_session_settings`; gruponos's runner also hands them to
    every session dbt opens (libpq's PGOPTIONS, gruponos/dbt_runner/project.py), the data
    tests' included, whose windows are literals too (in_window). -#}
{% macro session_settings() -%}
    {{ return(adapter.dispatch('session_settings', 'gruponos')()) }}
{%- endmacro %}

{% macro default__session_settings() -%}
{%- endmacro %}

{% macro postgres__session_settings() -%}
    {%- set statements = [] -%}
    {%- for name, value in var('postgres_session_settings').items() -%}
        {%- do statements.append("set " ~ name ~ " = '" ~ value ~ "'") -%}
    {%- endfor -%}
    {{ statements | join('; ') }}
{%- endmacro %}
