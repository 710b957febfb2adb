"""Prefect tasks over ``gruponos`` steps, named for the step and the entity.

One entity's sync holds the entity's warehouse lock from the plan to the finish (the flow run
holds it) and runs three tasks of the flow run, each with its own retries and cache:

    extract <entity>    WMS pages → landing (Parquet)
    validate <entity>   the contract → validated parts + quarantined records (Parquet)
    load <entity>       MERGE, quarantine, counts, checkpoint per part; deletes, watermark, run log

Results are cached per flow run, entity and plan (window or resume point), so a retried flow
run reuses a finished extraction instead of asking the WMS again. Retries: a warehouse fault
that can heal (a lost connection, a lock timeout) raises ``Transient`` and the task retries it
with backoff and jitter; a WMS fault was already retried by the client within its budget
(``GRUPONOS_WMS__RETRY_BUDGET_S``) and, like every domain failure, raises ``Failed``, which is
not retried. A bug raises as itself and is not retried either. ``EntityRun.outcome`` gives the
entity's ``EntityReport`` or its ``SyncError``.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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

from gruponos import landing, pipeline
from gruponos import settings as settings_module
from gruponos.catalog import Catalog, discover
from gruponos.entities import EntitySpec
from gruponos.errors import Error, SyncError, WarehouseError, WmsError
from gruponos.pipeline import Context, EntityReport, Mode, Plan
from gruponos.redact import redact
from gruponos.warehouse import connect
from gruponos.wms import WmsClient

__all__ = [
    "EntityRun",
    "Failed",
    "Outcome",
    "Transient",
    "discover_catalog",
    "ensure_tenant_limit",
    "listeners",
    "settings_for",
    "start_entity",
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
    """A step failed in a way the task's own retry can heal (a warehouse connection, a lock timeout)."""

    def __init__(self, error: SyncError) -> None:
        super().__init__(str(error))
        self.error = error


class Failed(Exception):
    """A step failed and a task retry will not help now (the report says whether a later run may)."""

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


def result_storage(cfg: settings_module.Settings) -> Path:
    """Where persisted task results (the cache) live: ``GRUPONOS_FLOWS__RESULTS_PATH``."""
    return Path(cfg.flows.results_path).resolve()


def _retryable(_task: Any, _task_run: Any, state: State[Any]) -> bool:
    """Retry only ``Transient``: never a domain failure, never a bug."""
    try:
        state.result()
    except Transient:
        return True
    except BaseException:
        return False
    return False


def _key(step: str) -> Callable[[TaskRunContext, dict[str, Any]], str]:
    """Cache key: the flow run, the step, the entity and what the plan reads."""

    def key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
        cfg: settings_module.Settings = parameters["cfg"]
        plan: Plan | None = parameters.get("plan")
        parts = [step, str(context.task_run.flow_run_id), cfg.env.value, str(parameters.get("now", ""))]
        if plan is not None:
            parts += [plan.spec.name, plan.mode, str(plan.window), str(plan.resume_after), plan.run_id]
        return ":".join(parts)

    return key


def _raise(result: IOResult[_T, SyncError]) -> _T:
    """The task's edge of the railway: a value, or the error raised for Prefect to judge."""
    if isinstance(result, IOFailure):
        error: SyncError = unsafe_perform_io(result.failure())
        heals = error.retryable and error.step in ("plan", "load", "finish")  # the warehouse's faults
        raise (Transient(error) if heals else Failed(error)) from None
    value: _T = unsafe_perform_io(result.unwrap())
    return value


@task(name="discover catalog", cache_key_fn=_key("catalog"), persist_result=True)
def discover_catalog(cfg: settings_module.Settings, entities: list[str] | None) -> Catalog:
    """The tenant's entities and the selected ones' fields (``GET entity/`` + ``describe``)."""
    with WmsClient(cfg.wms) as wms:
        try:
            return discover(wms, cfg.sync, entities)
        except Error as exc:
            raise Failed(SyncError("WMS", "catalog", redact(exc), getattr(exc, "retryable", False))) from None


@task(name="wms clock", cache_key_fn=_key("clock"), persist_result=True)
def wms_clock(cfg: settings_module.Settings) -> datetime:
    """The WMS's clock at the start of the flow run (fixed for the run's retries: same windows)."""
    with WmsClient(cfg.wms) as wms:
        try:
            return wms.ping()
        except WmsError as exc:
            raise Failed(SyncError("WMS", "clock", redact(exc), exc.retryable)) from None


@task(name="extract", retry_condition_fn=_retryable, cache_key_fn=_key("extract"), persist_result=True)
def extract(cfg: settings_module.Settings, plan: Plan, now: datetime) -> landing.Landed:
    """WMS pages → the landing, holding one of the tenant's API slots."""
    logger = get_run_logger()
    name = plan.spec.name
    target = landing.folder(cfg.flows.landing_path, name, plan.run_id)
    shown = [0]
    with concurrency(tenant_limit(cfg), occupy=1), WmsClient(cfg.wms) as wms:
        source = pipeline.extraction(plan, wms)
        try:
            with landing.PageWriter(target, plan.spec) as out:
                for page in source.pages():
                    out.write(page, source.resume_after)
                    _tell(name, "extract", out.sent)
                    if out.sent - shown[0] >= _PROGRESS_EVERY:
                        shown[0] = out.sent
                        logger.info("%s: %s records extracted", name, f"{out.sent:,}")
                landed = out.close(source.stats.result_count)
        except WmsError as exc:
            raise Failed(SyncError(name, "extract", redact(exc), exc.retryable, plan.where())) from None
        except OSError as exc:
            raise Transient(SyncError(name, "extract", f"cannot write the landing {target}: {exc}", True)) from None
    logger.info("%s: %s records in %d pages landed in %s", name, f"{landed.sent:,}", landed.pages, target)
    return landed


@task(name="validate", retry_condition_fn=_retryable, cache_key_fn=_key("validate"), persist_result=True)
def validate(cfg: settings_module.Settings, plan: Plan, now: datetime, landed: landing.Landed) -> landing.Validated:
    """The entity's contract over the landing → validated parts and the records to quarantine."""
    resume: list[int | None] = [plan.resume_after]

    def pages() -> Any:
        for page, after in landing.read_pages(landed):
            resume[0] = after
            yield page

    try:
        parts = pipeline.validate(
            plan, cfg, pages(), resume=lambda: resume[0], progress=lambda name, rows: _tell(name, "validate", rows)
        )
        validated = landing.write_parts(landed.path, parts)
    except pipeline.Broken as exc:
        raise Failed(exc.error) from None
    except OSError as exc:
        raise Transient(SyncError(plan.spec.name, "validate", f"cannot use the landing: {exc}", True)) from None
    get_run_logger().info(
        "%s: %s records checked, %s to quarantine", plan.spec.name, f"{validated.extracted:,}", validated.rejected
    )
    return validated


@task(name="load", retry_condition_fn=_retryable, cache_key_fn=_key("load"), persist_result=True)
def load(
    cfg: settings_module.Settings,
    plan: Plan,
    now: datetime,
    validated: landing.Validated,
    landed: landing.Landed,
    started: float,
) -> EntityReport:
    """Validated parts → the warehouse (one transaction per part), then the finish."""
    logger = get_run_logger()
    run_id = f"{plan.run_id}-{uuid.uuid4().hex[:4]}"  # one run-log row per attempt
    warehouse = connect(cfg.warehouse)
    try:
        parts = _progress(landing.read_parts(validated, plan.spec), plan.spec.name)
        loaded = pipeline.load(
            plan, cfg, warehouse, parts, started=started, result_count=lambda: landed.result_count, run_id=run_id
        )
        report = _raise(loaded)
    finally:
        warehouse.close()
    logger.info(
        "%s: %s extracted, %s rejected, %s inserted, %s updated, %s deleted in %.1fs (run %s)",
        plan.spec.name,
        f"{report.extracted:,}",
        f"{report.rejected:,}",
        f"{report.inserted:,}",
        f"{report.updated:,}",
        f"{report.deleted:,}",
        report.seconds,
        run_id,
    )
    return report


def _progress(parts: Any, name: str) -> Any:
    rows = 0
    for part in parts:
        yield part
        rows += part.extracted
        _tell(name, "load", rows)


@dataclass(slots=True)
class EntityRun:
    """One entity's sync in a flow run: its lock held, its plan made, its three tasks submitted."""

    name: str
    error: SyncError | None = None
    futures: tuple[Any, Any, Any] | None = None

    def outcome(self) -> Outcome:
        """The entity's report, or the error of the first of its steps that failed."""
        if self.error is not None or self.futures is None:
            assert self.error is not None
            return self.error
        extracted, validated, loaded = self.futures
        try:
            landed: landing.Landed = extracted.result()
            validated.result()
            report: EntityReport = loaded.result()
        except (Transient, Failed) as exc:
            return exc.error
        except pipeline.Stopped:  # Ctrl-C in an ad hoc run: the CLI asked every step to stop
            return SyncError(self.name, "extract", "stopped by the user; a rerun resumes", True, stopped=True)
        landing.remove(landed.path)
        return report


def start_entity(
    cfg: settings_module.Settings,
    spec: EntitySpec,
    mode: Mode,
    now: datetime,
    run_id: str,
    *,
    submit: Callable[..., Any],
    hold: contextlib.ExitStack,
) -> EntityRun:
    """Take the entity's lock (held by ``hold`` until the flow run ends), make its plan, and submit
    its ``extract``, ``validate`` and ``load`` tasks to the flow's task runner.

    The tasks are the flow run's own (not nested in another task), so each keeps its cached
    result when a later one fails: a retried flow run loads from the landing.
    """
    logger = get_run_logger()
    name = spec.name
    try:
        warehouse = hold.enter_context(contextlib.closing(connect(cfg.warehouse)))
        hold.enter_context(warehouse.lock(name))
        with WmsClient(cfg.wms) as wms:
            ctx = Context(settings=cfg, wms=wms, warehouse=warehouse, run_id=run_id, now=now)
            plan = _raise(pipeline.make_plan(spec, mode, ctx))
    except WarehouseError as exc:  # a refused lock (another run has the entity) or no warehouse
        return EntityRun(name, SyncError(name, "lock", redact(exc), exc.retryable))
    except (Transient, Failed) as exc:
        return EntityRun(name, exc.error)
    if plan.resume_after is not None:
        logger.info("%s: resuming the full sync after id %s", name, plan.resume_after)
    for stale in landing.clear_stale(cfg.flows.landing_path, name, plan.run_id):
        logger.info("%s: removed the landing of a run that died (%s)", name, stale.name)
    options: dict[str, Any] = {
        "retries": cfg.flows.task_retries,
        "retry_delay_seconds": cfg.flows.retry_delay_s,
        "retry_jitter_factor": 0.5,
        "result_storage": result_storage(cfg),
    }
    started = time.perf_counter()
    base = {"cfg": cfg, "plan": plan, "now": now}
    extracted = submit(extract.with_options(task_run_name=f"extract {name}", **options), parameters=base)
    validated = submit(
        validate.with_options(task_run_name=f"validate {name}", **options), parameters={**base, "landed": extracted}
    )
    loaded = submit(
        load.with_options(task_run_name=f"load {name}", **options),
        parameters={**base, "validated": validated, "landed": extracted, "started": started},
    )
    return EntityRun(name, futures=(extracted, validated, loaded))
