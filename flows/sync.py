"""The sync flows: ``full-sync``, ``incremental-sync`` and ``master-data``.

    from flows import full_sync
    reports = full_sync(env="local", entities=["allocation"])   # list[EntityReport]

Each entity is landed then loaded by its own tasks (``flows.tasks``), several entities at once
(``concurrency``). One entity's failure does not stop the others: when all have finished, the
run publishes its report and ends **Failed** naming every failed entity and why.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner
from returns.result import Failure, Result, Success

from flows.alerts import alert
from flows.dbt import build
from flows.report import publish
from flows.tasks import ensure_tenant_limit, settings_for, sync_one, wms_clock
from gruponos.entities import CATALOG, entity
from gruponos.errors import SyncError
from gruponos.pipeline import EntityReport, Mode

__all__ = [
    "INCREMENTAL_DEFAULT",
    "MASTER_DATA",
    "Outcome",
    "SyncFailed",
    "full_sync",
    "incremental_sync",
    "master_data",
]

Outcome = EntityReport | SyncError


class SyncFailed(Exception):
    """One or more entities failed; ``outcomes`` holds every entity's report or error."""

    def __init__(self, message: str, outcomes: list[Outcome]) -> None:
        super().__init__(message, outcomes)
        self.message = message
        self.outcomes = outcomes

    def __str__(self) -> str:
        return self.message


INCREMENTAL_DEFAULT = ("allocation", "order_hdr", "order_dtl")
MASTER_DATA = ("item", "location", "inventory", "facility", "company")


def _sync(
    title: str,
    mode: Mode,
    entities: Sequence[str],
    *,
    env: str,
    page_size: int | None,
    batch_size: int | None,
    merge_batch_size: int | None,
    concurrency: int | None,
    run_dbt: bool,
    dbt_threads: int | None,
) -> State[Any]:
    """Sync ``entities`` (``concurrency`` at a time), publish the report, then dbt if asked."""
    logger = get_run_logger()
    for name in entities:
        entity(name)  # an unknown name fails the run before anything starts
    cfg = settings_for(
        env,
        **{
            "wms.page_size": page_size,
            "quality.batch_rows": batch_size,
            "warehouse.merge_batch_rows": merge_batch_size,
            "flows.entity_concurrency": concurrency,
        },
    )
    bound = cfg.flows.entity_concurrency
    limit = ensure_tenant_limit(cfg)
    logger.info("%s of %s (%s, %d at a time; WMS slots: %s)", mode, ", ".join(entities), env, bound, limit)
    now = wms_clock(cfg)
    futures: list[PrefectFuture[Result[EntityReport, SyncError]]] = []
    for name in entities:
        while sum(not f.state.is_final() for f in futures) >= bound:
            time.sleep(0.2)
        futures.append(sync_one.submit(cfg, name, mode, now))
    outcomes: list[Outcome] = []
    for future in futures:
        result = future.result()
        outcomes.append(result.unwrap() if isinstance(result, Success) else result.failure())
    publish(f"{flow_run.flow_name}-{env}".replace("_", "-"), f"{title} ({env})", outcomes, cfg)
    failures = [o for o in outcomes if isinstance(o, SyncError)]
    if failures:
        message = f"{len(failures)} of {len(outcomes)} entities failed: " + " | ".join(str(f) for f in failures)
        return Failed(message=message, data=SyncFailed(message, outcomes))
    if run_dbt:
        dbt = build(cfg, threads=dbt_threads)
        if isinstance(dbt, Failure):
            message = f"every entity synced, but dbt build failed: {dbt.failure()}"
            return Failed(message=message, data=SyncFailed(message, outcomes))
    return Completed(message=f"{len(outcomes)} entities synced", data=outcomes)


_HOOKS: dict[str, Any] = {"on_failure": [alert], "on_crashed": [alert]}
_RUNNER: Any = ThreadPoolTaskRunner(max_workers=16)  # entities are bounded by ``concurrency``, not here


@flow(name="full-sync", task_runner=_RUNNER, **_HOOKS)
def full_sync(
    env: str = "local",
    entities: list[str] | None = None,
    page_size: int | None = None,
    batch_size: int | None = None,
    merge_batch_size: int | None = None,
    concurrency: int | None = None,
    run_dbt: bool = True,
    dbt_threads: int | None = None,
) -> State[Any]:
    """Full sync of every entity (or ``entities``): marks rows the WMS no longer has as deleted."""
    return _sync(
        "Full sync",
        "full",
        entities or list(CATALOG),
        env=env,
        page_size=page_size,
        batch_size=batch_size,
        merge_batch_size=merge_batch_size,
        concurrency=concurrency,
        run_dbt=run_dbt,
        dbt_threads=dbt_threads,
    )


@flow(name="incremental-sync", task_runner=_RUNNER, **_HOOKS)
def incremental_sync(
    env: str = "local",
    entities: list[str] | None = None,
    page_size: int | None = None,
    batch_size: int | None = None,
    merge_batch_size: int | None = None,
    concurrency: int | None = None,
    run_dbt: bool = True,
    dbt_threads: int | None = None,
) -> State[Any]:
    """Changes since each entity's watermark (minus the overlap): allocation, order_hdr, order_dtl by default."""
    return _sync(
        "Incremental sync",
        "incremental",
        entities or list(INCREMENTAL_DEFAULT),
        env=env,
        page_size=page_size,
        batch_size=batch_size,
        merge_batch_size=merge_batch_size,
        concurrency=concurrency,
        run_dbt=run_dbt,
        dbt_threads=dbt_threads,
    )


@flow(name="master-data", task_runner=_RUNNER, **_HOOKS)
def master_data(
    env: str = "local",
    entities: list[str] | None = None,
    page_size: int | None = None,
    batch_size: int | None = None,
    merge_batch_size: int | None = None,
    concurrency: int | None = None,
    run_dbt: bool = False,
    dbt_threads: int | None = None,
) -> State[Any]:
    """Full syncs of the reference data: item, location, inventory, facility, company."""
    return _sync(
        "Master data",
        "full",
        entities or list(MASTER_DATA),
        env=env,
        page_size=page_size,
        batch_size=batch_size,
        merge_batch_size=merge_batch_size,
        concurrency=concurrency,
        run_dbt=run_dbt,
        dbt_threads=dbt_threads,
    )
