"""The sync flows: ``full-sync``, ``incremental-sync``, ``master-data`` and ``sync-entity``.

    from flows import full_sync
    reports = full_sync(env="local", entities=["allocation"])   # list[EntityReport]

A run discovers the tenant's catalog (``discover catalog``), fixes the WMS clock (``wms clock``),
then syncs each entity — its lock held, its ``extract``, ``validate`` and ``load`` tasks on
Prefect's thread-pool task runner (``concurrency`` entities at a time) — or, with
``fan_out=True``, as its own ``sync-entity`` flow run on the work pool, so that N workers spread
one sync over N machines. Then ``dbt build`` (unless
``run_dbt=False``), then the run's report. One entity's failure does not stop the others: when
all have finished the run ends **Failed** naming every failed entity, its step and why.

Which entities, unless ``entities`` names them (names or globs): the configured selection
(``GRUPONOS_SYNC__ENTITIES``), by sync class — every selected entity for a full sync, the
operational ones (``mod_ts``) for an incremental sync, master and lookup data for master-data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.alerts import alert
from flows.report import publish
from flows.tasks import (
    Outcome,
    discover_catalog,
    ensure_tenant_limit,
    result_storage,
    settings_for,
    start_entity,
    wms_clock,
)
from gruponos.catalog import Catalog
from gruponos.errors import SettingsError, SyncError
from gruponos.pipeline import EntityReport, Mode
from gruponos.runs import selection
from gruponos.settings import Settings

__all__ = ["SyncFailed", "full_sync", "incremental_sync", "master_data", "sync_one_entity"]


class SyncFailed(Exception):
    """One or more entities (or dbt) failed; ``outcomes`` holds every entity's report or error."""

    def __init__(self, message: str, outcomes: list[Outcome]) -> None:
        super().__init__(message, outcomes)
        self.message = message
        self.outcomes = outcomes

    def __str__(self) -> str:
        return self.message


def _sync(
    title: str,
    mode: Mode,
    kind: str,
    *,
    env: str,
    entities: Sequence[str] | None,
    page_size: int | None,
    batch_size: int | None,
    merge_batch_size: int | None,
    concurrency: int | None,
    run_dbt: bool,
    dbt_threads: int | None,
    dbt_nodes: bool,
    fan_out: bool,
) -> State[Any]:
    """Discover, sync the entities, build the marts, publish the report.

    The sync flows keep their own typed signatures (Prefect builds each deployment's parameter
    schema and form from them) and hand their parameters on whole: ``**locals()``.
    """
    logger = get_run_logger()
    cfg = settings_for(
        env,
        **{
            "wms.page_size": page_size,
            "quality.batch_rows": batch_size,
            "warehouse.merge_batch_rows": merge_batch_size,
            "flows.entity_concurrency": concurrency,
        },
    )
    if fan_out and cfg.warehouse.kind == "duckdb":
        raise SettingsError(
            "fan_out=true needs a warehouse several processes write to at once (GRUPONOS_WAREHOUSE__KIND="
            "postgres or oracle): a DuckDB file has one writer process; run without fan_out"
        )
    storage = result_storage(cfg)
    catalog = discover_catalog.with_options(result_storage=storage)(cfg, list(entities) if entities else None)
    names = selection(catalog, kind, bool(entities))
    now = wms_clock.with_options(result_storage=storage)(cfg)
    limit = ensure_tenant_limit(cfg)
    bound = cfg.flows.entity_concurrency
    logger.info("%s of %d entities (%s, %d at a time; WMS slots: %s)", mode, len(names), env, bound, limit)
    run_id = str(flow_run.id).replace("-", "")[:12]
    outcomes: list[Outcome]
    if fan_out:
        from flows.fanout import fan_out as spread  # run_deployment, only when asked

        outcomes = spread(env, names, mode, now, run_id, page_size=page_size, merge_batch_size=merge_batch_size)
    else:
        outcomes = _on_this_run(cfg, catalog, names, mode, now, run_id)
    failures = [o for o in outcomes if isinstance(o, SyncError)]
    dbt_result: str | None = None
    dbt_failed = False
    if run_dbt and not failures:
        from flows.marts import build  # dbt only when it runs

        dbt_result, dbt_failed = build(cfg, threads=dbt_threads, per_node=dbt_nodes)
    publish(f"{flow_run.flow_name}-{env}".replace("_", "-"), f"{title} ({env})", outcomes, cfg, dbt=dbt_result)
    if failures:  # raised, not returned: flow-run retries apply to it
        raise SyncFailed(failed_entities(failures, len(outcomes)), outcomes)
    if dbt_failed:
        raise SyncFailed(f"every entity synced, but dbt build failed: {dbt_result}", outcomes)
    return Completed(message=f"{len(outcomes)} entities synced", data=outcomes)


def _on_this_run(
    cfg: Settings, catalog: Catalog, names: list[str], mode: Mode, now: datetime, run_id: str
) -> list[Outcome]:
    """Each entity's tasks on this run's thread pool, ``entity_concurrency`` entities at a time
    (an entity's three tasks wait on one another: three threads an entity)."""
    runner: Any = ThreadPoolTaskRunner(max_workers=3 * cfg.flows.entity_concurrency)
    with contextlib.ExitStack() as hold, runner:
        runs = [start_entity(cfg, catalog.spec(n), mode, now, run_id, submit=runner.submit, hold=hold) for n in names]
        return [run.outcome() for run in runs]


def failed_entities(failures: Sequence[SyncError], total: int) -> str:
    """``N of M entities failed: ...``, each cause once with the entities it stopped."""
    by_cause: dict[str, list[str]] = {}
    for f in failures:
        by_cause.setdefault(str(f).removeprefix(f"{f.entity}: "), []).append(f.entity)
    causes = [f"{', '.join(names)}: {cause}" for cause, names in by_cause.items()]
    return f"{len(failures)} of {total} entities failed: " + " | ".join(causes)


_HOOKS: dict[str, Any] = {"on_failure": [alert], "on_crashed": [alert]}


@flow(name="full-sync", **_HOOKS)
def full_sync(
    env: str = "local",
    entities: list[str] | None = None,
    page_size: int | None = None,
    batch_size: int | None = None,
    merge_batch_size: int | None = None,
    concurrency: int | None = None,
    run_dbt: bool = True,
    dbt_threads: int | None = None,
    dbt_nodes: bool = False,
    fan_out: bool = False,
) -> State[Any]:
    """Full sync of every selected entity (or ``entities``): rows the WMS no longer has are marked deleted."""
    return _sync("Full sync", "full", "full", **locals())


@flow(name="incremental-sync", **_HOOKS)
def incremental_sync(
    env: str = "local",
    entities: list[str] | None = None,
    page_size: int | None = None,
    batch_size: int | None = None,
    merge_batch_size: int | None = None,
    concurrency: int | None = None,
    run_dbt: bool = True,
    dbt_threads: int | None = None,
    dbt_nodes: bool = False,
    fan_out: bool = False,
) -> State[Any]:
    """Changes since each entity's watermark (minus the overlap); the operational entities by default."""
    return _sync("Incremental sync", "incremental", "incremental", **locals())


@flow(name="master-data", **_HOOKS)
def master_data(
    env: str = "local",
    entities: list[str] | None = None,
    page_size: int | None = None,
    batch_size: int | None = None,
    merge_batch_size: int | None = None,
    concurrency: int | None = None,
    run_dbt: bool = False,
    dbt_threads: int | None = None,
    dbt_nodes: bool = False,
    fan_out: bool = False,
) -> State[Any]:
    """Full syncs of the reference data: the master and lookup entities by default."""
    return _sync("Master data", "full", "master", **locals())


@flow(name="sync-entity", flow_run_name="sync {entity} ({mode})", persist_result=True, **_HOOKS)
def sync_one_entity(
    env: str = "local",
    entity: str = "allocation",
    mode: str = "incremental",
    now: datetime | None = None,
    group: str | None = None,
    page_size: int | None = None,
    merge_batch_size: int | None = None,
) -> EntityReport:
    """One entity of a fanned-out sync, as its own flow run (on any worker of the pool)."""
    cfg = settings_for(env, **{"wms.page_size": page_size, "warehouse.merge_batch_rows": merge_batch_size})
    storage = result_storage(cfg)
    catalog = discover_catalog.with_options(result_storage=storage)(cfg, [entity])
    when = now or wms_clock.with_options(result_storage=storage)(cfg)
    run_id = group or str(flow_run.id).replace("-", "")[:12]
    chosen: Mode = "full" if mode == "full" else "incremental"
    runner: Any = ThreadPoolTaskRunner(max_workers=3)
    with contextlib.ExitStack() as hold, runner:
        run = start_entity(cfg, catalog.spec(entity), chosen, when, run_id, submit=runner.submit, hold=hold)
        outcome = run.outcome()
    if isinstance(outcome, SyncError):
        raise SyncFailed(str(outcome), [outcome])
    return outcome
