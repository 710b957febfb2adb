"""The warehouses' SQL, one module per dialect over the statements they share.

common.py     Dialect: names, types, binds; control tables, run log, state, counts, deletes
duckdb.py     $b_x binds; stamp / delete / insert instead of MERGE; plain insert when fresh
postgres.py   %(b_x)s binds; COPY into a temp table, MERGE, advisory locks
oracle.py     :b_x binds, upper-case names, global temporary staging table, MERGE with CASE
"""

from __future__ import annotations

from gruponos.warehouse.sql.common import Dialect
from gruponos.warehouse.sql.duckdb import DUCKDB
from gruponos.warehouse.sql.oracle import ORACLE
from gruponos.warehouse.sql.postgres import POSTGRES

__all__ = ["DUCKDB", "ORACLE", "POSTGRES", "Dialect"]
