"""The adapters against a real DuckDB file and this machine's PostgreSQL: rows brought back
from deleted are counted, older warehouses gain the new run-log column, evolved columns are
added once however many processes race, and a run's lock is held for the whole run without
blocking its own loads while every other run is refused at once; DuckDB's incremental loads
of one sync fit the memory limit together when each alone does."""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pytest

from gruponos.errors import ConcurrentRunError, WarehouseError
from gruponos.warehouse.adapter import Warehouse
from gruponos.warehouse.duckdb import DuckDBWarehouse
from gruponos.warehouse.sql.duckdb import DuckDBDialect
from gruponos.warehouse.status import RunLog, changed_entities, read_run_log
from tests.integration._warehouse import KINDS, PG_DSN, SPEC, T0, batch, fresh_schema, needs_pg, open_target, run


@contextmanager
def place(kind: str, tmp_path: Path) -> Iterator[Path | str]:
    """Where a warehouse of ``kind`` lives for one test: a folder, or a fresh schema."""
    if kind == "duckdb":
        yield tmp_path
        return
    with fresh_schema() as schema:
        yield schema


@pytest.fixture(params=KINDS)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path | str]]:
    with place(request.param, tmp_path) as location:
        yield request.param, location


@pytest.fixture
def wh(where: tuple[str, Path | str]) -> Iterator[Warehouse]:
    warehouse = open_target(*where)
    warehouse.prepare(SPEC)
    yield warehouse
    warehouse.close()


def run_log(wh: Warehouse, run_id: str, *columns: str) -> tuple[object, ...]:
    bind = "?" if wh.kind == "duckdb" else "%s"
    cols = ", ".join(columns)
    (row,) = wh.query(f"SELECT {cols} FROM {wh.table('_sync_runs')} WHERE run_id = {bind}", [run_id])
    return row


def test_rows_a_load_brings_back_from_deleted_are_counted_as_restored(wh: Warehouse) -> None:
    first = run()
    wh.start_run(first)
    wh.load(SPEC, batch(range(1, 11)), [], first, generation="g1", checkpoint=None)
    wh.finish(SPEC, first, watermark=T0, generation="g1")
    second = run()
    wh.start_run(second)
    wh.load(SPEC, batch(range(1, 7)), [], second, generation="g2", checkpoint=None)
    assert wh.finish(SPEC, second, watermark=T0, generation="g2") == 4  # 7, 8, 9, 10 marked deleted

    loaded = {r["id"]: r["_loaded_at"] for r in wh.rows(SPEC.name)}
    back = run("incremental")
    wh.start_run(back)
    same, older, newer = batch([7]), batch([8], shift=-timedelta(hours=1)), batch([9], shift=timedelta(hours=1))
    rows = batch([7, 8, 9, 11]).to_pylist()
    rows[1], rows[2] = older.to_pylist()[0], newer.to_pylist()[0]
    incoming = type(same).from_pylist(rows, schema=SPEC.schema)
    counts = wh.load(SPEC, incoming, [], back, generation=back.run_id, checkpoint=None)
    assert (counts.inserted, counts.updated, counts.unchanged, counts.restored) == (1, 1, 2, 3)
    restamped = {r["id"]: r["_loaded_at"] for r in wh.rows(SPEC.name)}
    # every row that came back is a new load for whoever reads by _loaded_at (dbt's incremental
    # models), the older copy of 8 included; a row not in the batch keeps its stamp
    assert all(restamped[i] > loaded[i] for i in (7, 8, 9)) and restamped[1] == loaded[1]
    again = wh.load(SPEC, incoming, [], back, generation=back.run_id, checkpoint=None)
    assert again.restored == 0  # alive now: nothing left to restore
    assert {r["id"]: r["_loaded_at"] for r in wh.rows(SPEC.name)}[8] == restamped[8]  # seen again, not reloaded
    wh.finish(SPEC, back, watermark=T0, generation=None)

    deleted = {r["id"]: r["_deleted_at"] for r in wh.rows(SPEC.name)}
    assert [i for i, at in sorted(deleted.items()) if at is not None] == [10]
    assert run_log(wh, back.run_id, "restored", "inserted", "updated") == (3, 1, 1)
    assert run_log(wh, second.run_id, "restored", "deleted") == (0, 4)


PREVIOUS_RUN_LOG = (  # _sync_runs as the release before ``restored`` created it
    "CREATE TABLE {t} (run_id TEXT NOT NULL, entity TEXT NOT NULL, mode TEXT NOT NULL, window_start TIMESTAMPTZ, "
    "window_end TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ, status TEXT NOT NULL, "
    "extracted BIGINT NOT NULL, rejected BIGINT NOT NULL, inserted BIGINT NOT NULL, updated BIGINT NOT NULL, "
    "deleted BIGINT NOT NULL, result_count BIGINT, error TEXT, PRIMARY KEY (run_id, entity))"
)
OLD_RUN = "INSERT INTO {t} VALUES ('old', 'allocation', 'full', NULL, NULL, now(), now(), 'ok', 5, 0, 5, 0, 0, 5, NULL)"


def test_a_run_log_created_before_restored_existed_gains_it_when_opened(where: tuple[str, Path | str]) -> None:
    kind, location = where
    if kind == "duckdb":
        con = duckdb.connect(str(Path(location) / "wh.duckdb"))
        con.execute('CREATE SCHEMA "wms_raw"')
        for sql in (PREVIOUS_RUN_LOG, OLD_RUN):
            con.execute(sql.format(t='"wms_raw"."_sync_runs"'))
        con.close()
    else:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{location}"')
            for sql in (PREVIOUS_RUN_LOG, OLD_RUN):
                conn.execute(sql.format(t=f'"{location}"."_sync_runs"'))
    for _ in range(2):  # opening again changes nothing
        wh = open_target(kind, location)
        assert run_log(wh, "old", "inserted", "restored") == (5, 0)
        wh.close()
    wh = open_target(kind, location)
    try:
        wh.prepare(SPEC)
        new = run()
        wh.start_run(new)
        wh.load(SPEC, batch(range(1, 4)), [], new, generation="g", checkpoint=None)
        assert run_log(wh, new.run_id, "inserted", "restored") == (3, 0)
    finally:
        wh.close()


def test_evolved_columns_are_added_once_when_two_adapters_race(where: tuple[str, Path | str]) -> None:
    kind, location = where
    first, second = open_target(kind, location), open_target(kind, location)
    try:
        loading = run()
        first.prepare(SPEC)
        first.start_run(loading)
        first.load(SPEC, batch([1]), [], loading, generation="g", checkpoint=None)  # its staging has the old shape
        start = threading.Barrier(2)
        added: list[list[str]] = [[], []]
        errors: list[BaseException] = []

        def evolve(slot: int, wh: Warehouse) -> None:
            start.wait()
            try:
                added[slot] = wh.prepare(SPEC, ["new_a", "new_b"])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=evolve, args=(i, w)) for i, w in enumerate((first, second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(added[0] + added[1]) == ["new_a", "new_b"]  # each added by exactly one of them
        columns = list(next(first.rows(SPEC.name)))
        assert columns.count("new_a") == columns.count("new_b") == 1
        first.load(SPEC, batch([3]), [], loading, generation="g", checkpoint=None)  # staging of today's shape
        assert second.prepare(SPEC, ["new_a", "new_b", "new_c"]) == ["new_c"]  # the other one evolves it
        assert first.prepare(SPEC, ["new_a", "new_b", "new_c"]) == []
        evolved = batch([2]).append_column("new_c", pa.array(["sent"]))
        first.load(SPEC, evolved, [], loading, generation="g", checkpoint=None)  # its staging follows the new shape
        assert {r["id"]: r["new_c"] for r in first.rows(SPEC.name)} == {1: None, 2: "sent", 3: None}
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("bad", ['a"; drop table allocation; --', "new field", "x" * 64])
def test_a_name_that_is_not_plain_is_refused_and_nothing_runs(wh: Warehouse, bad: str) -> None:
    before = list(wh.dialect.column_defs(SPEC))
    with pytest.raises(WarehouseError, match="not a usable SQL identifier") as refused:
        wh.prepare(SPEC, ["fine_one", bad])
    assert refused.value.retryable is False
    assert wh.prepare(SPEC) == []  # nothing was added, not even the good name before it
    assert len(before) == len(wh.dialect.column_defs(SPEC))


def test_a_held_lock_lets_its_run_load_and_refuses_every_other_run(where: tuple[str, Path | str]) -> None:
    kind, location = where
    wh, other = open_target(kind, location), open_target(kind, location)
    try:
        wh.prepare(SPEC)
        with wh.lock(SPEC.name):
            with pytest.raises(ConcurrentRunError, match="allocation"), other.lock(SPEC.name):
                pass
            with other.lock("order_hdr"):  # another entity is free
                pass
            held = run()
            wh.start_run(held)
            counts = wh.load(SPEC, batch(range(1, 6)), [], held, generation="g", checkpoint=None)
            assert counts.inserted == 5
            wh.finish(SPEC, held, watermark=T0, generation=None)
        with other.lock(SPEC.name):  # released with the run
            pass
    finally:
        wh.close()
        other.close()


@needs_pg
def test_a_run_whose_lock_session_died_stops_before_writing() -> None:
    with fresh_schema() as schema:
        wh = open_target("postgres", schema)
        try:
            wh.prepare(SPEC)
            with wh.lock(SPEC.name):
                lost = run()
                wh.start_run(lost)
                with psycopg.connect(PG_DSN, autocommit=True) as conn:
                    (pid,) = conn.execute(  # the session holding this schema's allocation lock
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                        "AND objid::bigint = (hashtext(%s)::bigint & 4294967295)",
                        [f"gruponos:{schema}:allocation"],
                    ).fetchone() or (None,)
                    assert pid is not None
                    conn.execute("SELECT pg_terminate_backend(%s)", [pid])
                with pytest.raises(ConcurrentRunError, match="lost its lock"):
                    wh.load(SPEC, batch([1]), [], lost, generation="g", checkpoint=None)
            assert list(wh.rows(SPEC.name)) == []
        finally:
            wh.close()


HOLDER = """
import sys
from gruponos.errors import ConcurrentRunError
from gruponos.warehouse.postgres import PostgresWarehouse

wh = PostgresWarehouse(dsn=sys.argv[1], schema=sys.argv[2])
try:
    with wh.lock("allocation"):
        print("locked", flush=True)
        sys.stdin.readline()  # hold the lock until the parent says
except ConcurrentRunError as exc:
    print("refused:", exc, flush=True)
    sys.exit(3)
finally:
    wh.close()
"""


@needs_pg
def test_two_processes_lock_one_entity_the_second_is_refused_at_once_then_gets_it() -> None:
    with fresh_schema() as schema:
        open_target("postgres", schema).close()  # the control tables exist before both start

        def holder() -> subprocess.Popen[str]:
            cmd = [sys.executable, "-c", HOLDER, PG_DSN, schema]
            pipe = subprocess.PIPE
            return subprocess.Popen(cmd, stdin=pipe, stdout=pipe, stderr=pipe, text=True)

        first = holder()
        try:
            assert first.stdout is not None and first.stdout.readline().strip() == "locked", first.stderr
            second = holder()
            out, err = second.communicate(timeout=120)  # it did not wait for the first to let go
            assert second.returncode == 3, err
            assert "refused:" in out and "another run of this entity holds its lock" in out
            assert first.poll() is None  # the first still holds it
            assert first.stdin is not None
            first.stdin.write("\n")
            first.stdin.flush()
            assert first.wait(timeout=60) == 0
            third = holder()
            assert third.stdout is not None and third.stdout.readline().strip() == "locked"
            out, err = third.communicate("\n", timeout=60)
            assert third.returncode == 0, err
        finally:
            if first.poll() is None:
                first.kill()


@needs_pg
def test_postgres_raw_tables_are_indexed_for_the_incremental_window_also_when_they_existed() -> None:
    """The dbt builds after a sync find its rows by `_run_id` and by `_deleted_at` in UTC (the
    staging views' expression): a new raw table has both indexes; a table created before
    them gains them on its next load; a second prepare changes nothing."""

    def indexes(schema: str) -> dict[str, str]:
        with psycopg.connect(PG_DSN) as conn:
            rows = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                [schema, SPEC.name],
            ).fetchall()
        return {name: definition for name, definition in rows if name.startswith(f"{SPEC.name}__")}

    with fresh_schema() as schema:
        wh = open_target("postgres", schema)
        try:
            wh.prepare(SPEC)
            made = indexes(schema)
            assert set(made) == {f"{SPEC.name}__run_id", f"{SPEC.name}__deleted_at"}
            assert "_run_id" in made[f"{SPEC.name}__run_id"]
            assert "(_deleted_at AT TIME ZONE 'UTC'::text)" in made[f"{SPEC.name}__deleted_at"]
            with psycopg.connect(PG_DSN, autocommit=True) as conn:  # a table from before the indexes
                for name in made:
                    conn.execute(f'DROP INDEX "{schema}"."{name}"')
            assert indexes(schema) == {}
            wh.prepare(SPEC)
            wh.prepare(SPEC)
            assert indexes(schema) == made
        finally:
            wh.close()


def test_the_run_log_tells_which_entities_changed_since_a_build_read_it(wh: Warehouse) -> None:
    lookback = timedelta(hours=3)
    assert read_run_log(wh, lookback) == RunLog(None, frozenset())  # nothing synced yet: no mark
    assert changed_entities(wh, RunLog(None, frozenset())) is None  # nothing to compare with: unknown

    first = run()
    wh.start_run(first)
    wh.load(SPEC, batch(range(1, 11)), [], first, generation="g1", checkpoint=None)
    wh.finish(SPEC, first, watermark=T0, generation="g1")
    seen = read_run_log(wh, lookback)  # what a build finds when it starts
    assert seen.finished == {first.run_id} and seen.since is not None
    assert changed_entities(wh, seen) == set()

    # a run that read the same rows again changed nothing
    again = run("incremental")
    wh.start_run(again)
    counts = wh.load(SPEC, batch(range(1, 11)), [], again, generation=again.run_id, checkpoint=None)
    assert (counts.inserted, counts.updated, counts.restored) == (0, 0, 0)
    wh.finish(SPEC, again, watermark=T0, generation=None)
    assert changed_entities(wh, seen) == set()

    # a run still loading may have committed rows; once it has loaded one, it changed them
    more = run("incremental")
    wh.start_run(more)
    assert changed_entities(wh, seen) == {SPEC.name}
    wh.load(SPEC, batch([11]), [], more, generation=more.run_id, checkpoint=None)
    wh.finish(SPEC, more, watermark=T0, generation=None)
    assert changed_entities(wh, seen) == {SPEC.name}
    assert changed_entities(wh, read_run_log(wh, lookback)) == set()  # seen by the next build


class _KeyedDuckDB(DuckDBDialect):
    raw_primary_key = True  # as releases before 2026-11-30 created the raw tables


@pytest.mark.parametrize(("keyed", "limit"), [(True, "88MB"), (False, "40MB")], ids=["keyed-earlier", "unkeyed"])
def test_duckdb_incremental_loads_of_one_sync_fit_the_memory_limit(tmp_path: Path, keyed: bool, limit: str) -> None:
    """At 5M allocations the 2-hourly sync ran out of the default 112MB: an incremental load reads
    most of its table's primary-key index into memory (44 MB for allocation), and the pages
    stayed until a checkpoint, so each entity of the sync added its own. Two 2M-row tables, an
    incremental load into each through one warehouse: with the key an earlier release declared,
    either load fits 88MB alone (~60-70MB) but both held do not — the checkpoint at each run's
    end lets go; the tables this release creates have no key, and both fit 40MB (one keyed load
    does not)."""
    path, rows = str(tmp_path / "wh.duckdb"), 2_000_000
    specs = [dataclasses.replace(SPEC, name=f"allocation_{k}") for k in "ab"]
    if keyed:
        with duckdb.connect(path) as db:
            db.execute("CREATE SCHEMA wms_raw")
            for spec in specs:
                db.execute(_KeyedDuckDB().raw_ddl("wms_raw", spec))
    wh = DuckDBWarehouse(path=path, memory_limit="1GB")
    try:
        for spec in specs:
            wh.prepare(spec)
            full = dataclasses.replace(run(), entity=spec.name)
            wh.start_run(full)
            for low in range(0, rows, 250_000):
                wh.load(spec, batch(range(low, low + 250_000)), [], full, generation="g", checkpoint=None)
            wh.finish(spec, full, watermark=T0, generation="g")
    finally:
        wh.close()
    changed = sorted(random.Random(7).sample(range(rows), 20_000))
    wh = DuckDBWarehouse(path=path, memory_limit=limit)
    try:
        for spec in specs:  # one sync: the same warehouse, one entity after the other
            later = dataclasses.replace(run("incremental"), entity=spec.name)
            wh.start_run(later)
            counts = wh.load(spec, batch(changed, shift=timedelta(hours=1)), [], later, generation=later.run_id,
                             checkpoint=None)  # fmt: skip
            wh.finish(spec, later, watermark=T0, generation=None)
            assert (counts.inserted, counts.updated) == (0, 20_000)
    finally:
        wh.close()
    with duckdb.connect(path, read_only=True) as db:
        keys = "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' AND table_name = ?"
        assert [db.execute(keys, [spec.name]).fetchone() for spec in specs] == [(int(keyed),)] * 2
        for spec in specs:
            newer = f"SELECT count(*) FROM wms_raw.{spec.name} WHERE mod_ts > id * INTERVAL 1 SECOND + ?"
            assert db.execute(newer, [T0 + timedelta(minutes=1)]).fetchone() == (20_000,)
