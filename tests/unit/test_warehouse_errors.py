"""Each adapter decides whether a retry can help from its driver's own errors, and no driver
message reaches an error with a secret in it.

DuckDB's errors are produced for real (an in-memory database); PostgreSQL's by SQLSTATE with
psycopg's own error classes (the real server's are in tests/integration/test_warehouse_faults.py);
Oracle's with the driver's own error objects, as thin mode builds them from a server's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import duckdb
import oracledb
import psycopg
import pyarrow as pa
import pytest
from oracledb.errors import _Error as OracleErrorInfo

from gruponos.errors import WarehouseError
from gruponos.redact import MASK
from gruponos.warehouse import duckdb as duck
from gruponos.warehouse import oracle, postgres
from gruponos.warehouse.adapter import describe, first_bad_text
from tests.specs import spec as entity


@pytest.fixture
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, s VARCHAR)")
    con.execute("INSERT INTO t VALUES (1, 'a')")
    yield con
    con.close()


def invalid_utf8() -> pa.Table:
    offsets = pa.array([0, 5], type=pa.int32()).buffers()[1]
    text = pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(b"ab\xffcd")])
    return pa.table({"id": pa.array([2], pa.int64()), "s": text})


DUCKDB_FAULTS: dict[str, tuple[Callable[[duckdb.DuckDBPyConnection], object], bool, str]] = {
    "conversion": (lambda c: c.execute("SELECT CAST('x' AS BIGINT)"), False, "data error"),
    "constraint": (lambda c: c.execute("INSERT INTO t VALUES (1, 'b')"), False, "constraint violation"),
    "catalog": (lambda c: c.execute("SELECT * FROM nowhere"), False, "identifier or DDL error"),
    "binder": (lambda c: c.execute("SELECT nothing FROM t"), False, "identifier or DDL error"),
    "parser": (lambda c: c.execute("SELEC 1"), False, "identifier or DDL error"),
    "reserved schema": (lambda c: c.execute("CREATE SCHEMA information_schema"), False, "identifier or DDL error"),
    "invalid utf-8": (
        lambda c: (c.register("bad", invalid_utf8()), c.execute("INSERT INTO t SELECT * FROM bad")),
        False,
        "data error",
    ),
    "file": (lambda c: duckdb.connect("/proc/no/such/dir/wh.duckdb"), True, "file or disk error"),
}


@pytest.mark.parametrize("case", sorted(DUCKDB_FAULTS))
def test_duckdb_errors_are_retryable_only_when_they_can_heal(db: duckdb.DuckDBPyConnection, case: str) -> None:
    cause, retryable, kind = DUCKDB_FAULTS[case]
    with pytest.raises(duckdb.Error) as raised:
        cause(db)
    assert duck.classify(raised.value) == (retryable, kind)


def test_duckdb_conflicting_transactions_may_heal() -> None:
    first = duckdb.connect(":memory:conflict")
    first.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, n BIGINT)")
    first.execute("INSERT INTO t VALUES (1, 0)")
    second = first.cursor()
    first.execute("BEGIN")
    second.execute("BEGIN")
    first.execute("UPDATE t SET n = 1 WHERE id = 1")
    with pytest.raises(duckdb.Error) as raised:
        second.execute("UPDATE t SET n = 2 WHERE id = 1")
    assert duck.classify(raised.value).retryable is True
    first.close()


@pytest.mark.parametrize(
    ("sqlstate", "retryable"),
    [
        ("08006", True),  # connection failure
        ("40001", True),  # serialization failure
        ("40P01", True),  # deadlock
        ("53300", True),  # too many connections
        ("57P01", True),  # admin shutdown (terminated backend)
        ("57014", True),  # statement timeout
        ("55P03", True),  # lock timeout
        ("22P02", False),  # invalid text representation
        ("22021", False),  # invalid byte sequence (a NUL, bad UTF-8)
        ("23505", False),  # unique violation
        ("42703", False),  # undefined column
        ("42501", False),  # insufficient privilege
        ("28P01", False),  # bad password
        ("3D000", False),  # no such database
    ],
)
def test_postgres_errors_are_classified_by_sqlstate(sqlstate: str, retryable: bool) -> None:
    error = psycopg.errors.lookup(sqlstate)()
    assert error.sqlstate == sqlstate
    assert postgres.classify(error).retryable is retryable


def test_postgres_connection_refusals_without_sqlstate() -> None:
    refused = psycopg.OperationalError('connection to server at "127.0.0.1", port 1 failed: Connection refused')
    rules = psycopg.OperationalError('connection to server failed: FATAL:  database "nosuch" does not exist')
    assert postgres.classify(refused).retryable is True
    assert postgres.classify(rules).retryable is False


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://loader:pa ss-w0rd@db.example:5432/wh",  # a space in the password
        "postgresql://loader:s3cret-pw@[::1:5432/wh",  # an unclosed IPv6 literal
        "postgresql://loader:s3cret%zzpw@db.example/wh",  # '%' not followed by two hex digits
        "postgresql://loader:s3cret%ffpw@db.example/wh",  # an escape that is not UTF-8 (was a UnicodeDecodeError)
        "host=db.example password=pa ss-w0rd",  # conninfo with an unquoted space
        "postgresql://loader:s3cret@ss-w0rd@db.example/wh",  # an '@' in the password: libpq takes the rest for the host
        "postgresql://loader:s3cret/ss-w0rd@db.example/wh",  # a '/' in the password: the rest for the database
    ],
)
def test_a_dsn_libpq_cannot_parse_is_one_clear_error_that_quotes_nothing_of_it(dsn: str) -> None:
    with pytest.raises(WarehouseError) as refused:
        postgres.PostgresWarehouse(dsn=dsn, schema="wms_raw")
    message = str(refused.value)
    assert "GRUPONOS_WAREHOUSE__DSN" in message and refused.value.retryable is False
    for fragment in ("ss-w0rd", "s3cret", "db.example", "loader"):
        assert fragment not in message
    assert refused.value.__cause__ is None and refused.value.__suppress_context__ is True


def ora(message: str, code: int) -> oracledb.DatabaseError:
    return oracledb.DatabaseError(OracleErrorInfo(message, code=code))


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (ora("ORA-00054: resource busy and acquire with NOWAIT specified", 54), True),
        (ora("ORA-00060: deadlock detected while waiting for resource", 60), True),
        (ora("ORA-03113: end-of-file on communication channel", 3113), True),
        (ora("ORA-01089: immediate shutdown or close in progress", 1089), True),
        (ora("ORA-08177: can't serialize access for this transaction", 8177), True),
        (ora("ORA-00018: maximum number of sessions exceeded", 18), True),
        (ora("ORA-12899: value too large for column", 12899), False),
        (ora("ORA-00001: unique constraint violated", 1), False),
        (ora("ORA-00904: invalid identifier", 904), False),
        (ora("ORA-01031: insufficient privileges", 1031), False),
        (ora("ORA-01017: invalid username/password; logon denied", 1017), False),
    ],
)
def test_oracle_errors_are_classified_by_code(error: oracledb.Error, retryable: bool) -> None:
    assert oracle.classify(error).retryable is retryable


def test_driver_messages_are_one_line_without_secrets() -> None:
    error = RuntimeError("connection failed:\n  postgresql://loader:hunter2-pw@db/wh\n\tpassword=hunter2-pw x")
    text = describe(error)
    assert "hunter2" not in text and MASK in text and "\n" not in text and "\t" not in text
    assert len(describe(RuntimeError("x" * 5_000))) <= 600


def test_the_first_unstorable_text_value_is_named_by_record_and_field() -> None:
    spec = entity("allocation")
    rows = [{c: None for c in spec.schema.names} | {"id": i} for i in (1, 2, 3)]
    rows[2]["pick_user"] = "ab\x00cd"
    batch = pa.RecordBatch.from_pylist(rows, schema=spec.schema)
    assert first_bad_text(spec, batch) == "record id 3, field pick_user: a NUL character (rule encoding:pick_user)"
    ok = pa.RecordBatch.from_pylist(rows[:2], schema=spec.schema)
    assert first_bad_text(spec, ok) is None
    undecodable = invalid_utf8().to_batches()[0]
    assert first_bad_text(spec, undecodable) == "record id 2, field s: invalid UTF-8 (rule encoding:s)"
