"""What dbt puts in the Jinja context, for sqlfluff's jinja templater (no database, no dbt).

``.sqlfluff`` loads the project's macros (transform/macros) and this package: ``gruponos.x``
calls the project's macro ``x``; ``adapter.dispatch`` picks ``<target>__x`` or
``default__x`` for the target named by ``SQLFLUFF_DBT_TARGET`` (duckdb, oracle; default
duckdb), so each dialect lints the SQL dbt would compile for it; dbt's own macros
(``dbt.dateadd`` ...) render as placeholder function calls.
"""
