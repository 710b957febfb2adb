"""dbt's ``target``."""

from sqlfluff_libs._target import TYPE

type = TYPE  # noqa: A001 - dbt's name
schema = "analytics"
database = "warehouse"
