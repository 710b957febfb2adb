"""Input nobody here wrote: records and links rewritten by a proxy in front of the simulator, synced
through the real client into DuckDB and PostgreSQL, and what is stored compared with what was sent.

Every case checks: accepted records are stored as sent; rejected ones are in ``_rejected`` with
their rule and raw text; extracted = loaded + rejected; a rerun converges.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import orjson
import psycopg
import pytest

from gruponos import settings as settings_module
from gruponos.errors import SyncError
from gruponos.pipeline import EntityReport
from gruponos.simulator import Faults, Simulator
from gruponos.warehouse import connect
from tests.integration._sync import ok, sync_once
from tests.integration._sync import stored as rows
from tests.integration._warehouse import KINDS, fresh_target
from tests.integration.proxy import Mutation, proxy, records
from tests.local import tenant

simulator = tenant(scale=1_200, seed=5, scope="module")


@pytest.fixture(params=KINDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with fresh_target(request.param, tmp_path, prefix="h", merge_batch_rows=500) as settings:
        yield settings


def config(base_url: str, target: dict[str, Any], **quality: Any) -> settings_module.Settings:
    wms = {"base_url": base_url, "page_size": 250, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "max_retries": 1}
    return settings_module.load(env="local", wms=wms, warehouse=target, quality={"max_rejected_share": 0.5, **quality})


def sync(cfg: settings_module.Settings, mode: str = "full", name: str = "allocation") -> EntityReport | SyncError:
    return sync_once(cfg, mode, name)


def rejected(cfg: settings_module.Settings, run_id: str) -> list[tuple[Any, str, str]]:
    wh = connect(cfg.warehouse)
    bind = "?" if cfg.warehouse.kind == "duckdb" else "%s"
    try:
        found = wh.query(
            f"SELECT record_id, rule, raw_json FROM {wh.table('_rejected')} WHERE run_id = {bind} ORDER BY rule",
            [run_id],
        )
    finally:
        wh.close()
    return [(r[0], r[1], r[2]) for r in found]


def assert_as_sent(simulator: Simulator, stored: dict[int, dict[str, Any]], ids: set[int]) -> None:
    """Stored rows equal the simulator's own rows for these ids (mod_ts, quantities, text)."""
    truth = {r["id"]: r for r in simulator.tenant.rows("allocation", sorted(ids))}
    for i in ids:
        got, want = stored[i], truth[i]
        assert got["mod_ts"].astimezone(UTC).replace(tzinfo=None) == want["mod_ts"], i
        assert Decimal(got["alloc_qty"]) == want["alloc_qty"], i
        assert got["pick_user"] == want["pick_user"], i
        assert got["task_seq_nbr"] == want["task_seq_nbr"], i


def execute(cfg: settings_module.Settings, statement: str) -> None:
    """A statement on the raw table, through the target's own driver (as an operator would)."""
    wh = cfg.warehouse
    if wh.kind == "duckdb":
        with duckdb.connect(wh.path) as db:
            db.execute(statement.format(t=f'"{wh.db_schema}".allocation'))
        return
    assert wh.dsn is not None
    with psycopg.connect(wh.dsn.get_secret_value(), autocommit=True) as conn:
        conn.execute(statement.format(t=f'"{wh.db_schema}".allocation'))  # type: ignore[arg-type]


def mutate_ids(changes: dict[int, dict[str, Any]]) -> Mutation:
    return records(lambda r: {**r, **changes[r["id"]]} if r.get("id") in changes else None)


def test_non_integers_in_integer_fields_are_rejected_never_truncated(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    bad = {7: {"id": 6.9}, 8: {"task_seq_nbr": 7.9}, 9: {"id": "123"}, 10: {"task_seq_nbr": 7.0}}
    with proxy(simulator.base_url, mutate_ids(bad)) as p:
        cfg = config(p.base_url(simulator.base_url), target)
        report = ok(sync(cfg))
    stored = rows(cfg)
    total = simulator.tenant.count("allocation")
    assert report.extracted == total and report.rejected == 4
    assert len(stored) == total - 4  # extracted = loaded + rejected
    assert not {7, 8, 9, 10} & set(stored)
    assert_as_sent(simulator, stored, {6, 123, 11})  # 6 and 123 were not overwritten by 6.9 and "123"
    found = rejected(cfg, report.run_id)
    assert sorted(r[1] for r in found) == ["type:id", "type:id", "type:task_seq_nbr", "type:task_seq_nbr"]
    assert any('"id":6.9' in r[2] for r in found) and any('"task_seq_nbr":7.9' in r[2] for r in found)


def test_a_field_first_seen_mid_page_is_stored_for_every_record(simulator: Simulator, target: dict[str, Any]) -> None:
    late = records(lambda r: {**r, "late_field": f"L{r['id']}"} if r["id"] % 4 == 3 else None)
    with proxy(simulator.base_url, late) as p:
        cfg = config(p.base_url(simulator.base_url), target, batch_rows=1000)
        report = ok(sync(cfg))
    assert report.new_fields == ("late_field",)
    stored = rows(cfg)
    values = {i: r["late_field"] for i, r in stored.items()}
    assert all(values[i] == (f"L{i}" if i % 4 == 3 else None) for i in values)
    assert sum(v is not None for v in values.values()) == len(
        [i for i in simulator.tenant.ids("allocation") if i % 4 == 3]
    )


def _raw(body: bytes, record: int, text: bytes) -> bytes:
    """The page with the pick_user of one record replaced by raw bytes (escapes or not UTF-8)."""
    marker = f'{{"id":{record},"url":'.encode()  # the record itself, not an FK object with that id
    start = body.find(marker)
    if start < 0:
        return body
    at = body.find(b'"pick_user":', start)
    end = body.find(b",", at)
    return body[: at + len(b'"pick_user":')] + b'"' + text + b'"' + body[end:]


def test_unstorable_text_rejects_its_record_and_the_rest_loads(simulator: Simulator, target: dict[str, Any]) -> None:
    def mutate(path: str, body: bytes) -> bytes:
        if "/entity/allocation/" not in path:
            return body
        body = _raw(body, 20, b"caf\xe9 latin-1")  # not UTF-8
        body = _raw(body, 21, b"nul\\u0000byte")  # a NUL (PostgreSQL cannot store it)
        return _raw(body, 22, b"lone \\ud800 surrogate")  # not text at all

    with proxy(simulator.base_url, mutate) as p:
        cfg = config(p.base_url(simulator.base_url), target)
        report = ok(sync(cfg))
        again = ok(sync(cfg))  # a rerun is not stuck on them
    stored = rows(cfg)
    assert report.rejected == 3 and again.rejected == 3
    assert not {20, 21, 22} & set(stored) and len(stored) == simulator.tenant.count("allocation") - 3
    found = rejected(cfg, report.run_id)
    assert [r[1] for r in found] == ["encoding:pick_user"] * 3
    raws = " ".join(r[2] for r in found)
    assert "\\udce9 latin-1" in raws and "nul\\u0000byte" in raws and "lone \\ud800 surrogate" in raws
    assert_as_sent(simulator, stored, {19, 23})


def test_sub_microsecond_timestamps_are_rejected_with_a_precision_rule(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    nanos = records(lambda r: {**r, "mod_ts": "2026-10-01T10:00:00.123456789-03:00"} if r["id"] == 30 else None)
    with proxy(simulator.base_url, nanos) as p:
        cfg = config(p.base_url(simulator.base_url), target)
        report = ok(sync(cfg))
    assert [r[1] for r in rejected(cfg, report.run_id)] == ["precision:mod_ts"]
    assert 30 not in rows(cfg)


def test_new_field_names_that_cannot_be_columns_get_safe_ones(simulator: Simulator, target: dict[str, Any]) -> None:
    odd = {'a"; drop table allocation; --': "x", "Mod_TS": "shadow", "_run_id": "mine", "order_dtl_key": "k"}
    with proxy(simulator.base_url, records(lambda r: {**r, **odd})) as p:
        cfg = config(p.base_url(simulator.base_url), target)
        first = ok(sync(cfg))
        second = ok(sync(cfg))  # the same fields land in the same columns again
    renamed = dict(first.renamed)
    assert set(renamed) == set(odd) and dict(second.renamed) == renamed
    stored = rows(cfg)
    row = stored[5]
    for field, column in renamed.items():
        assert row[column] == odd[field]
    assert row["_run_id"] != "mine" and row["order_dtl_key"] != "k"  # the project's own columns are intact
    assert len(stored) == simulator.tenant.count("allocation")


def _links_to(url: str) -> Mutation:
    """Every ``next_page`` link of a list page pointed at ``url``."""

    def apply(path: str, body: bytes) -> bytes:
        page = orjson.loads(body)
        if isinstance(page, dict) and page.get("next_page"):
            page["next_page"] = url
        return orjson.dumps(page)

    return apply


class _Decoy:
    """Another origin: records whether anything (credentials above all) reached it."""

    def __init__(self) -> None:
        self.hits: list[dict[str, str]] = []
        decoy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                decoy.hits.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/prod/wms/lgfapi/v10/entity/allocation/?cursor=x"


def test_a_next_page_to_another_host_is_refused_and_marks_nothing_deleted(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    decoy = _Decoy()
    with proxy(simulator.base_url) as p:
        cfg = config(p.base_url(simulator.base_url), target)
        ok(sync(cfg))
        p.mutate = _links_to(decoy.url)
        failed = sync(cfg)
    decoy.server.shutdown()
    assert isinstance(failed, SyncError) and failed.step == "extract" and not failed.retryable
    assert "another origin" in failed.message and "127.0.0.1" in failed.message
    assert decoy.hits == []  # the credentials never left for the other host
    assert all(r["_deleted_at"] is None for r in rows(cfg).values())


def test_a_row_deleted_by_mistake_comes_back_and_is_counted_restored(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    cfg = config(simulator.base_url, target)
    ok(sync(cfg))
    execute(cfg, "UPDATE {t} SET _deleted_at = CURRENT_TIMESTAMP WHERE id IN (5, 6)")
    report = ok(sync(cfg))
    assert report.restored == 2
    assert rows(cfg)[5]["_deleted_at"] is None


def test_two_runs_of_one_entity_never_overlap_and_the_second_asks_the_wms_nothing(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    simulator.set_faults(Faults(latency_s=0.05))
    try:
        with proxy(simulator.base_url) as first, proxy(simulator.base_url) as second:
            slow = config(first.base_url(simulator.base_url), target)
            outcome: list[EntityReport | SyncError] = []
            runner = threading.Thread(target=lambda: outcome.append(sync(slow)))
            runner.start()
            while not [r for r in first.requests if "/entity/allocation/" in r[0]]:
                time.sleep(0.02)
            refused = sync(config(second.base_url(simulator.base_url), target), "incremental")
            runner.join(timeout=120)
            assert second.requests == []  # refused before asking the WMS anything
    finally:
        simulator.set_faults(Faults())
    assert isinstance(refused, SyncError) and refused.step == "lock"
    assert "another run" in refused.message
    assert isinstance(outcome[0], EntityReport)
