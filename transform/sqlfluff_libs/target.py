"""dbt's ``target``."""

from sqlfluff_libs._target import TYPE

type = TYPE  # dbt's name for the adapter type
schema = "analytics"
database = "warehouse"
