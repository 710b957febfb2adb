"""The sync flows: ``full-sync``, ``incremental-sync`` and ``master-data``.

    from flows import full_sync
    reports = full_sync(env="local", entities=["allocation"])   # list[EntityReport]

Each entity is landed then loaded by its own tasks (``flows.tasks``), several entities at once
(``concurrency``). One entity's failure does not stop the others: when all have finished, the
run publishes its report and ends **Failed** naming every failed entity and why.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed
from returns.result import Failure

from flows.alerts import alert
from flows.dbt_build import build
from flows.report import publish
from flows.tasks import Outcome, ensure_tenant_limit, result_storage, settings_for, sync_one, wms_clock
from gruponos.entities import CATALOG, entity
from gruponos.errors import SyncError
from gruponos.pipeline import Mode

__all__ = [
    "INCREMENTAL_DEFAULT",
    "MASTER_DATA",
    "Outcome",
    "SyncFailed",
    "full_sync",
    "incremental_sync",
    "master_data",
]


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
    storage = result_storage(cfg)
    now = wms_clock.with_options(result_storage=storage)(cfg)
    run_id = str(flow_run.id).replace("-", "")[:12]
    with ThreadPoolExecutor(max_workers=bound, thread_name_prefix="entity") as pool:
        # each entity in a copy of the flow's context, so its tasks belong to this flow run
        futures = [
            pool.submit(contextvars.copy_context().run, sync_one, cfg, name, mode, now, run_id) for name in entities
        ]
        outcomes: list[Outcome] = [f.result() for f in futures]
    publish(f"{flow_run.flow_name}-{env}".replace("_", "-"), f"{title} ({env})", outcomes, cfg)
    failures = [o for o in outcomes if isinstance(o, SyncError)]
    if failures:
        message = f"{len(failures)} of {len(outcomes)} entities failed: " + " | ".join(str(f) for f in failures)
        raise SyncFailed(message, outcomes)  # raised, not returned: flow-run retries apply to it
    if run_dbt:
        dbt = build(cfg, threads=dbt_threads)
        if isinstance(dbt, Failure):
            message = f"every entity synced, but dbt build failed: {dbt.failure()}"
            raise SyncFailed(message, outcomes)
    return Completed(message=f"{len(outcomes)} entities synced", data=outcomes)


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
