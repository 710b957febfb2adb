"""Prefect tasks over ``gruponos`` steps: I/O tasks retry what can heal, results are cached per run.

A sync of one entity is two cached tasks — ``land`` (extract to a landing file) and ``load``
(check, MERGE, state) — so a retried flow run reuses a finished extraction instead of asking
the WMS again. Transient faults raise ``Transient`` (Prefect retries them with backoff and
jitter); domain failures raise ``Broken``, which is never retried; ``sync_one`` turns either
into the entity's ``SyncError`` value once the retries are spent.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from prefect import get_client, task
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.objects import State
from prefect.concurrency.sync import concurrency
from prefect.context import TaskRunContext
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_run_logger
from returns.io import IOFailure, IOResult
from returns.unsafe import unsafe_perform_io

from gruponos import settings as settings_module
from gruponos.entities import entity
from gruponos.errors import SyncError, WmsError
from gruponos.pipeline import Context, EntityReport, Landing, Mode, land_entity, load_landing
from gruponos.warehouse import connect
from gruponos.wms import WmsClient

__all__ = [
    "Broken",
    "Transient",
    "ensure_tenant_limit",
    "land",
    "listeners",
    "load",
    "settings_for",
    "sync_one",
    "tenant_limit",
    "wms_clock",
]

_T = TypeVar("_T")
Outcome = EntityReport | SyncError
_PROGRESS_EVERY = 50_000  # rows between progress lines in the run log

# In-process listeners (entity, phase, rows so far): the CLI draws its progress bars from these
# when it runs a flow ad hoc. Deployed runs report progress in their logs only.
listeners: list[Callable[[str, str, int], None]] = []


def _tell(name: str, phase: str, rows: int) -> None:
    for listener in listeners:
        listener(name, phase, rows)


class Transient(Exception):
    """A sync step failed in a way a retry can heal (timeouts, 5xx, 429, a lost connection, a lock)."""

    def __init__(self, error: SyncError) -> None:
        super().__init__(str(error))
        self.error = error


class Broken(Exception):
    """A sync step failed in a way a retry cannot heal (bad credentials, a broken contract)."""

    def __init__(self, error: SyncError) -> None:
        super().__init__(str(error))
        self.error = error


def settings_for(env: str, **overrides: Any) -> settings_module.Settings:
    """The environment's settings (``GRUPONOS_*``), with flow parameters laid over them."""
    cfg = settings_module.load(env=env)
    sections: dict[str, dict[str, Any]] = {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, _, name = dotted.partition(".")
        sections.setdefault(section, {})[name] = value
    if not sections:
        return cfg
    data = cfg.model_dump(by_alias=True)
    for section, values in sections.items():
        data[section] = {**data[section], **values}
    return settings_module.load(**data)


def tenant_limit(cfg: settings_module.Settings) -> str:
    """The name of the global concurrency limit shared by every run against this WMS tenant."""
    url = urlsplit(cfg.wms.base_url or "")
    environment = url.path.strip("/").split("/")[0] if url.path.strip("/") else "default"
    return "wms-" + re.sub(r"[^a-z0-9-]+", "-", f"{url.hostname}-{url.port or ''}-{environment}".lower()).strip("-")


def ensure_tenant_limit(cfg: settings_module.Settings) -> str:
    """Create the tenant's global concurrency limit (``tenant_slots``) unless it exists; its name."""
    name = tenant_limit(cfg)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # another run created it meanwhile
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=cfg.flows.tenant_slots)
                )
    return name


def _retryable(_task: Any, _task_run: Any, state: State[Any]) -> bool:
    """Retry only what can heal: ``Transient`` (and crashes of the task's own I/O)."""
    try:
        state.result()
    except Transient:
        return True
    except Broken:
        return False
    except Exception:
        return True
    return False


def _key(prefix: str) -> Any:
    def key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
        cfg: settings_module.Settings = parameters["cfg"]
        parts = [prefix, str(context.task_run.flow_run_id), cfg.env.value, str(parameters.get("name", ""))]
        parts += [str(parameters.get("mode", "")), str(parameters.get("now", ""))]
        return ":".join(parts)

    return key


def result_storage(cfg: settings_module.Settings) -> Path:
    """Where persisted task results (the cache) live: ``GRUPONOS_FLOWS__RESULTS_PATH``."""
    return Path(cfg.flows.results_path).resolve()


@task(name="wms-clock", retries=3, retry_delay_seconds=5, retry_condition_fn=_retryable, cache_key_fn=_key("clock"))
def wms_clock(cfg: settings_module.Settings) -> datetime:
    """The WMS's clock at the start of the flow run (fixed for the run's retries: same windows)."""
    with WmsClient(cfg.wms) as wms:
        try:
            return wms.ping()
        except WmsError as exc:
            error = SyncError("WMS", "clock (GET entity/)", str(exc), exc.retryable)
            raise (Transient(error) if exc.retryable else Broken(error)) from None


@task(name="land", retry_condition_fn=_retryable, cache_key_fn=_key("land"))
def land(cfg: settings_module.Settings, name: str, mode: Mode, now: datetime, run_id: str) -> Landing:
    """Extract one entity to a landing file, holding one of the tenant's API slots."""
    logger = get_run_logger()
    spec = entity(name)
    logger.info("%s: extracting (%s, run %s)", name, mode, run_id)
    shown = [0]

    def progress(_: str, rows: int) -> None:
        _tell(name, "extract", rows)
        if rows - shown[0] >= _PROGRESS_EVERY:
            shown[0] = rows
            logger.info("%s: %s records extracted (run %s)", name, f"{rows:,}", run_id)

    with concurrency(tenant_limit(cfg), occupy=1), WmsClient(cfg.wms) as wms:
        warehouse = connect(cfg.warehouse)
        try:
            ctx = Context(settings=cfg, wms=wms, warehouse=warehouse, run_id=run_id, now=now, progress=progress)
            landed = _raise(land_entity(spec, mode, ctx, Path(cfg.flows.landing_path)))
        finally:
            warehouse.close()
    logger.info("%s: %s records in %d pages landed in %.1fs", name, f"{landed.rows:,}", landed.pages, landed.seconds)
    return landed


@task(name="load", retry_condition_fn=_retryable, cache_key_fn=_key("load"))
def load(cfg: settings_module.Settings, name: str, mode: Mode, now: datetime, landing: Landing) -> EntityReport:
    """Check and MERGE a landing into the warehouse; the landing file goes once it is loaded."""
    logger = get_run_logger()
    run_id = f"{landing.run_id}-{uuid.uuid4().hex[:4]}"  # one run-log row per attempt
    logger.info("%s: loading %s records (run %s)", name, f"{landing.rows:,}", run_id)
    warehouse = connect(cfg.warehouse)
    try:
        with WmsClient(cfg.wms) as wms:
            ctx = Context(
                settings=cfg,
                wms=wms,
                warehouse=warehouse,
                run_id=run_id,
                now=now,
                progress=lambda _, rows: _tell(name, "load", rows),
            )
            report = _raise(load_landing(landing, ctx))
    finally:
        warehouse.close()
    landing.path.unlink(missing_ok=True)
    logger.info(
        "%s: %s extracted, %s rejected, %s inserted, %s updated, %s deleted in %.1fs (run %s)",
        name,
        f"{report.extracted:,}",
        f"{report.rejected:,}",
        f"{report.inserted:,}",
        f"{report.updated:,}",
        f"{report.deleted:,}",
        report.seconds,
        run_id,
    )
    return report


def sync_one(cfg: settings_module.Settings, name: str, mode: Mode, now: datetime, run_id: str) -> Outcome:
    """Land then load one entity (two tasks of the flow run); a failure comes back as a value.

    Called in the flow's context (not inside another task), so each task keeps its own
    result: a landing stays cached when its load fails, for the flow run's retry.
    """
    retries, delay, storage = cfg.flows.task_retries, cfg.flows.retry_delay_s, result_storage(cfg)
    try:
        landing = land.with_options(
            retries=retries, retry_delay_seconds=delay, retry_jitter_factor=0.5, result_storage=storage
        )(cfg, name, mode, now, run_id)
        report: EntityReport = load.with_options(
            retries=retries, retry_delay_seconds=delay, retry_jitter_factor=0.5, result_storage=storage
        )(cfg, name, mode, now, landing)
        return report
    except (Transient, Broken) as exc:
        return exc.error


def _raise(result: IOResult[_T, SyncError]) -> _T:
    """The task's edge of the railway: a value, or the error raised for Prefect to judge."""
    if isinstance(result, IOFailure):
        error: SyncError = unsafe_perform_io(result.failure())
        raise (Transient(error) if error.retryable else Broken(error)) from None
    value: _T = unsafe_perform_io(result.unwrap())
    return value
