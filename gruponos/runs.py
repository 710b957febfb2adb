"""Many entities at once, without Prefect: what ``gruponos sync`` runs when no Prefect API is set.

    outcomes = sync_many(settings, "incremental", ["allocation", "order_*"], progress=print)

The tenant's catalog is discovered, the selection resolved (an unknown name fails before
anything starts), and each entity synced by ``pipeline.sync_entity`` — streaming, holding its
lock — on a thread pool of ``GRUPONOS_FLOWS__ENTITY_CONCURRENCY`` threads, each with its own WMS
client and warehouse connection. ``stop`` ends the run between pages: entities not started are
reported as cancelled and the rest finish their current page and close their run log as failed
(a rerun resumes a full sync after its last committed id).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from returns.io import IOFailure
from returns.unsafe import unsafe_perform_io

from gruponos import pipeline
from gruponos.catalog import Catalog, discover
from gruponos.entities import EntitySpec, SyncClass
from gruponos.errors import Error, SyncError
from gruponos.pipeline import Context, EntityReport, Mode, Plan, Stopped, expected_rows
from gruponos.redact import redact
from gruponos.settings import Settings
from gruponos.warehouse import connect
from gruponos.wms import WmsClient

__all__ = ["CLASSES", "Outcome", "Progress", "selection", "sync_many"]

log = logging.getLogger(__name__)

Outcome = EntityReport | SyncError

# Which sync classes each kind of run takes when no entity is named.
CLASSES: dict[str, tuple[SyncClass, ...]] = {
    "full": (SyncClass.OPERATIONAL, SyncClass.MASTER, SyncClass.LOOKUP),
    "incremental": (SyncClass.OPERATIONAL,),
    "master": (SyncClass.MASTER, SyncClass.LOOKUP),
}


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress event: ``rows`` of ``total`` (None: unknown) for ``entity`` in ``phase``."""

    entity: str
    phase: str  # extract | done | failed
    rows: int
    total: int | None = None
    resumed_after: int | None = None  # a full sync resumed after this id


def selection(catalog: Catalog, kind: str, named: bool) -> list[str]:
    """The entities a run of ``kind`` syncs: all named ones, else the selected ones of its classes."""
    return list(catalog.selected) if named else catalog.of_class(*CLASSES[kind])


def sync_many(
    settings: Settings,
    kind: str,
    entities: Sequence[str] | None = None,
    *,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    catalog: Catalog | None = None,
) -> list[Outcome]:
    """Sync the selection (``kind``: full | incremental | master); every entity's report or error, in order."""
    stop = stop or threading.Event()
    tell = progress or (lambda _: None)
    if catalog is None:
        with WmsClient(settings.wms) as wms:
            catalog = discover(wms, settings.sync, entities)
    names = selection(catalog, kind, entities is not None)
    mode: Mode = "incremental" if kind == "incremental" else "full"
    with WmsClient(settings.wms) as wms:
        now = wms.ping()
    workers = max(1, min(settings.flows.entity_concurrency, len(names) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="entity") as pool:
        futures = [pool.submit(_one, settings, catalog.spec(n), mode, now, tell, stop) for n in names]
        return [f.result() for f in futures]


def _one(
    settings: Settings,
    spec: EntitySpec,
    mode: Mode,
    now: datetime,
    tell: Callable[[Progress], None],
    stop: threading.Event,
) -> Outcome:
    if stop.is_set():
        return SyncError(spec.name, "plan", "not started: the run was stopped", stopped=True)
    try:
        warehouse = connect(settings.warehouse)
    except Error as exc:
        return SyncError(spec.name, "lock", redact(exc), bool(getattr(exc, "retryable", False)))
    total: list[int | None] = [None]
    try:
        with WmsClient(settings.wms) as wms:

            def planned(plan: Plan) -> None:
                total[0] = expected_rows(plan, wms)
                log.info("%s: %s sync of %s records (%s)", spec.name, plan.mode, total[0], plan.where() or "every id")
                tell(Progress(spec.name, "extract", 0, total[0], resumed_after=plan.resume_after))

            def rows(entity: str, done: int) -> None:
                if stop.is_set():
                    raise Stopped
                tell(Progress(entity, "extract", done, total[0]))

            ctx = Context(settings=settings, wms=wms, warehouse=warehouse, now=now, progress=rows, on_plan=planned)
            result = pipeline.sync_entity(spec, mode, ctx)
        if isinstance(result, IOFailure):
            error: SyncError = unsafe_perform_io(result.failure())
            tell(Progress(spec.name, "failed", 0, total[0]))
            return error
        report: EntityReport = unsafe_perform_io(result.unwrap())
        tell(Progress(spec.name, "done", report.extracted, total[0]))
        return report
    finally:
        warehouse.close()
