"""What the warehouse knows of each entity: watermark, last run, rows, quarantine, freshness.

    for s in entity_status(warehouse, schema):     # one EntityStatus per entity ever synced
        print(s.entity, s.watermark, s.last_status, s.rows, s.rejected)
    problems = stale(entity_status(warehouse, schema), limits)

Read from the control tables the loads write (``_sync_state``, ``_sync_runs``, ``_rejected``)
and the raw tables; queries carry no values, only identifiers named as the warehouse names
them (``Warehouse.table``/``Warehouse.ident``), so one text serves every dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gruponos.errors import WarehouseError
from gruponos.warehouse.adapter import Warehouse

__all__ = [
    "EntityStatus",
    "RunLog",
    "changed_entities",
    "entity_status",
    "read_run_log",
    "rows_query",
    "stale",
    "status_queries",
]


@dataclass(frozen=True, slots=True)
class EntityStatus:
    """One entity as the warehouse sees it."""

    entity: str
    watermark: datetime | None
    last_run_id: str | None
    last_mode: str | None
    last_status: str | None  # running | ok | failed | abandoned
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_error: str | None
    last_ok_at: datetime | None  # when a run of the entity last succeeded
    rows: int | None  # live rows (None: no raw table yet)
    deleted: int | None
    rejected: int
    incremental: bool = False  # synced incrementally (an operational entity), as its runs show


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    moment: datetime = value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def status_queries(table: Callable[[str], str], ident: Callable[[str], str]) -> dict[str, str]:
    """The status queries, with tables and columns named as the warehouse names them."""
    entity, status, started, finished = ident("entity"), ident("status"), ident("started_at"), ident("finished_at")
    cols = ", ".join(ident(c) for c in ("entity", "run_id", "mode", "status", "started_at", "finished_at", "error"))
    runs = table("_sync_runs")
    return {
        "state": f"SELECT {entity}, {ident('watermark')} FROM {table('_sync_state')}",
        "last_runs": (
            f"SELECT {cols} FROM (SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY {entity} "
            f"ORDER BY {started} DESC, {finished} DESC) pos FROM {runs}) r WHERE pos = 1"
        ),
        "last_ok": f"SELECT {entity}, MAX({finished}) FROM {runs} WHERE {status} = 'ok' GROUP BY {entity}",
        "rejected": f"SELECT {entity}, COUNT(*) FROM {table('_rejected')} GROUP BY {entity}",
        "incremental": f"SELECT DISTINCT {entity} FROM {runs} WHERE {ident('mode')} = 'incremental'",
    }


def rows_query(table: Callable[[str], str], ident: Callable[[str], str], entity: str) -> str:
    """Live and deleted rows of an entity's raw table."""
    deleted = ident("_deleted_at")
    return f"SELECT COUNT(*) - COUNT({deleted}), COUNT({deleted}) FROM {table(entity)}"


def entity_status(warehouse: Warehouse, schema: str) -> list[EntityStatus]:
    """The status of every entity the warehouse has state or runs of, by name."""
    q = status_queries(warehouse.table, warehouse.ident)
    state = dict(warehouse.query(q["state"]))  # the control tables exist once the warehouse opened
    runs = warehouse.query(q["last_runs"])
    ok = dict(warehouse.query(q["last_ok"]))
    rejected = dict(warehouse.query(q["rejected"]))
    incremental = {r[0] for r in warehouse.query(q["incremental"])}
    last = {r[0]: r for r in runs}
    out = []
    for name in sorted(set(state) | set(last)):
        try:
            live, deleted = warehouse.query(rows_query(warehouse.table, warehouse.ident, name))[0]
        except WarehouseError as exc:
            if exc.retryable:
                raise
            live = deleted = None  # no raw table yet: never synced
        run = last.get(name)
        out.append(
            EntityStatus(
                entity=name,
                watermark=_aware(state.get(name)),
                last_run_id=run[1] if run else None,
                last_mode=run[2] if run else None,
                last_status=run[3] if run else None,
                last_started_at=_aware(run[4]) if run else None,
                last_finished_at=_aware(run[5]) if run else None,
                last_error=run[6] if run else None,
                last_ok_at=_aware(ok.get(name)),
                rows=None if live is None else int(str(live)),
                deleted=None if deleted is None else int(str(deleted)),
                rejected=int(str(rejected.get(name, 0))),
                incremental=name in incremental,
            )
        )
    return out


def stale(
    statuses: list[EntityStatus],
    limits: Mapping[str, float],
    now: datetime | None = None,
    classes: Mapping[str, str] | None = None,
) -> list[str]:
    """Entities whose last successful run is older than their freshness limit, each with why.

    ``limits`` holds hours by sync class (``operational``, ``master``;
    ``gruponos.dbt_runner.freshness_hours`` reads them from the dbt project, the one place dbt's
    source freshness reads them too). ``classes`` gives each entity's sync class from the
    catalog (a ``lookup`` entity is held to the master limit); without it, an entity synced
    incrementally counts as operational.
    """
    now = now or datetime.now(UTC)
    problems = []
    for s in statuses:
        kind = (classes or {}).get(s.entity) or ("operational" if s.incremental else "master")
        hours = limits["operational"] if kind == "operational" else limits["master"]
        limit = timedelta(hours=hours)
        if s.last_ok_at is None:
            problems.append(f"{s.entity}: never synced successfully (limit {hours:g} h)")
        elif now - s.last_ok_at > limit:
            age = (now - s.last_ok_at).total_seconds() / 3600
            problems.append(f"{s.entity}: last successful sync {age:.1f} h ago, limit {hours:g} h")
    return problems


@dataclass(frozen=True, slots=True)
class RunLog:
    """The run log as a reader found it: ``since``, the newest finish it held less a look-back
    (a run whose clock is behind, or that committed late, may finish "earlier" than runs the
    reader saw), and the runs finished from then on. None: the log was empty."""

    since: datetime | None
    finished: frozenset[str]


def read_run_log(warehouse: Warehouse, lookback: timedelta) -> RunLog:
    """The run log as it stands (see :class:`RunLog`)."""
    i, runs = warehouse.ident, warehouse.table("_sync_runs")
    newest = _aware(warehouse.query(f"SELECT MAX({i('finished_at')}) FROM {runs}")[0][0])
    if newest is None:
        return RunLog(None, frozenset())
    since = newest - lookback
    sql = f"SELECT {i('run_id')} FROM {runs} WHERE {i('finished_at')} >= {warehouse.dialect.ts('b_since')}"
    return RunLog(since, frozenset(str(r[0]) for r in warehouse.query(sql, {"b_since": since})))


def changed_entities(warehouse: Warehouse, seen: RunLog) -> set[str] | None:
    """The entities whose raw table a run may have changed since the run log was ``seen``: a
    run not finished then that is still running, did not end ``ok``, or counted a row inserted,
    updated, deleted or restored. None when ``seen`` holds no finish to compare with."""
    if seen.since is None:
        return None
    i, runs = warehouse.ident, warehouse.table("_sync_runs")
    changes = " + ".join(i(c) for c in ("inserted", "updated", "deleted", "restored"))
    sql = (
        f"SELECT {i('run_id')}, {i('entity')}, {i('status')}, {changes} FROM {runs} "
        f"WHERE {i('finished_at')} IS NULL OR {i('finished_at')} >= {warehouse.dialect.ts('b_since')}"
    )
    rows = warehouse.query(sql, {"b_since": seen.since})
    return {str(entity) for run_id, entity, status, changed in rows if _new(run_id, status, changed, seen.finished)}


def _new(run_id: object, status: object, changed: object, finished: Collection[str]) -> bool:
    return str(run_id) not in finished and (status != "ok" or int(str(changed or 0)) > 0)
