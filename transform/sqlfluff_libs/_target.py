"""The target sqlfluff lints for (``SQLFLUFF_DBT_TARGET``: duckdb, oracle)."""

import os

TYPE = os.environ.get("SQLFLUFF_DBT_TARGET", "duckdb")
