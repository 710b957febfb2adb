"""One entity's sync as one chain: plan → start → extract → validate → load → finish.

The plan (``gruponos.plan``) and the values the steps pass along are re-exported here: this
module is the face of a sync.

    report = sync_entity(spec, "incremental", ctx)      # IOResult[EntityReport, SyncError]

``sync_entity`` streams: pages are validated and loaded as they arrive, holding the entity's
warehouse lock from the plan to the finish. The same steps serve the flows, which run them as
separate tasks around landing files (``gruponos.landing``)::

    plan = make_plan(spec, mode, ctx)                   # window or resume point, fixed
    pages = extraction(plan, wms).pages()               # → landing
    parts = validate(plan, settings, pages)             # → landing (valid rows + rejections)
    report = load(plan, settings, warehouse, parts)     # MERGE + state, run log closed

A step that fails for a domain reason returns ``IOFailure(SyncError)``; the run log is closed as
failed and the watermark stays where it was, so a rerun converges. Whether a retry can help is
decided where the error arose (the client, the warehouse adapter). Bugs still raise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import pyarrow as pa
from returns import pipeline
from returns.io import IOFailure, IOResult, IOSuccess, impure_safe
from returns.pointfree import bind_ioresult
from returns.result import Failure

from gruponos.entities import EntitySpec
from gruponos.errors import ConcurrentRunError, SyncError, WarehouseError, WmsError
from gruponos.plan import Context, Mode, Plan, Stopped, error, expected_rows, make_plan, required_filters
from gruponos.quality import Checked, Rejection, check
from gruponos.redact import redact
from gruponos.settings import Settings
from gruponos.warehouse import Checkpoint, RunRecord, Warehouse
from gruponos.wms import Extraction, Page, WmsClient

__all__ = [
    "Context",
    "EntityReport",
    "Mode",
    "Part",
    "Plan",
    "Stopped",
    "expected_rows",
    "extraction",
    "finish",
    "load",
    "make_plan",
    "required_filters",
    "sync_entity",
    "validate",
]

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


@dataclass(slots=True)
class Part:
    """Validated rows ready for one load transaction, with their rejections and resume point."""

    batch: pa.RecordBatch
    rejections: list[Rejection]
    extracted: int
    resume_after: int | None
    new_columns: dict[str, str] = field(default_factory=dict)
    unknown_fields: frozenset[str] = frozenset()
    missing_fields: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class EntityReport:
    """What one entity's sync did."""

    entity: str
    mode: str
    run_id: str
    extracted: int
    rejected: int
    inserted: int
    updated: int
    deleted: int
    seconds: float
    result_count: int | None
    window_start: datetime | None
    window_end: datetime | None
    watermark_before: datetime | None
    watermark_after: datetime | None
    new_fields: tuple[str, ...] = ()
    missing_fields: tuple[str, ...] = ()
    restored: int = 0
    resumed_after: int | None = None
    renamed: tuple[tuple[str, str], ...] = ()  # (field, column) where the column is not the field's name

    @property
    def records_per_s(self) -> float:
        return self.extracted / self.seconds if self.seconds > 0 else 0.0


# --- the whole sync, streaming ---------------------------------------------------------


def sync_entity(spec: EntitySpec, mode: Mode, ctx: Context) -> IOResult[EntityReport, SyncError]:
    """Sync one entity (``full`` or ``incremental``) into the warehouse, exactly once.

    The entity's lock is held from the plan to the finish: a second run of it (any mode,
    any process) is refused before it asks the WMS for anything.
    """
    started = time.perf_counter()
    try:
        with ctx.warehouse.lock(spec.name):
            return make_plan(spec, mode, ctx).bind(partial(_stream, ctx=ctx, started=started))
    except ConcurrentRunError as exc:
        return IOFailure(SyncError(spec.name, "lock", redact(exc), exc.retryable))


def _stream(plan: Plan, *, ctx: Context, started: float) -> IOResult[EntityReport, SyncError]:
    """Extract, validate and load page by page, then finish."""
    if ctx.on_plan is not None:
        ctx.on_plan(plan)
    source = extraction(plan, ctx.wms)
    parts = validate(plan, ctx.settings, source.pages(), resume=lambda: source.resume_after, progress=ctx.progress)
    return load(
        plan, ctx.settings, ctx.warehouse, parts, started=started, result_count=lambda: source.stats.result_count
    )


# --- the steps ---------------------------------------------------------------------------


def extraction(plan: Plan, wms: WmsClient) -> Extraction:
    """The plan's pages as they come from the WMS (iterate ``.pages()`` once)."""
    return Extraction(plan.spec, wms, window=plan.window, resume_after=plan.resume_after, filters=plan.filters)


def validate(
    plan: Plan,
    settings: Settings,
    pages: Iterable[Page],
    *,
    resume: Callable[[], int | None] | None = None,
    progress: Progress | None = None,
) -> Iterator[Part]:
    """The contract over the pages, every ``batch_rows``, grouped into parts of ``merge_batch_rows``.

    ``resume`` tells, after each page, the id a crashed sync could resume after (the
    extraction's; a landing records it per page). A ``freeze`` drift failure raises ``Broken``.
    """
    spec = plan.spec
    check_every = min(settings.quality.batch_rows, settings.warehouse.merge_batch_rows)
    merge_every = settings.warehouse.merge_batch_rows
    buffered: list[Page] = []
    staged: list[Checked] = []
    rows = seen = 0
    after: int | None = plan.resume_after

    def checked() -> Checked:
        result = check(spec, buffered, policy=settings.quality.drift_policy)
        if isinstance(result, Failure):
            raise Broken(result.failure())
        return result.unwrap()

    for page in pages:
        buffered.append(page)
        rows += page.batch.num_rows
        seen += page.sent
        after = resume() if resume is not None else after
        if progress:
            progress(spec.name, seen)
        if rows >= check_every:
            staged.append(checked())
            buffered, rows = [], 0
            if sum(p.extracted for p in staged) >= merge_every:
                yield _part(staged, after)
                staged = []
    if buffered:
        staged.append(checked())
    if staged:
        yield _part(staged, after)


def _part(staged: list[Checked], resume_after: int | None) -> Part:
    """Checked pieces as one part: their rows concatenated (new columns filled with nulls)."""
    if len(staged) == 1:
        batch = staged[0].batch
    else:
        tables = [pa.Table.from_batches([p.batch]) for p in staged]
        table = pa.concat_tables(tables, promote_options="default").combine_chunks()
        batch = table.to_batches()[0] if table.num_rows else staged[-1].batch
    columns: dict[str, str] = {}
    for piece in staged:
        columns |= piece.new_columns
    return Part(
        batch=batch,
        rejections=[r for p in staged for r in p.rejections],
        extracted=sum(p.extracted for p in staged),
        resume_after=resume_after,
        new_columns=columns,
        unknown_fields=frozenset().union(*(p.unknown_fields for p in staged)),
        missing_fields=frozenset().union(*(p.missing_fields for p in staged)),
    )


class Broken(Exception):
    """A step failed for a domain reason inside a stream (carries the ``SyncError``)."""

    def __init__(self, error: SyncError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(slots=True)
class _Tally:
    """What the load has committed so far."""

    run: RunRecord
    started: float
    new_fields: dict[str, str] = field(default_factory=dict)
    missing_fields: set[str] = field(default_factory=set)
    first_rejection: Rejection | None = None
    restored: int = 0
    columns: set[str] = field(default_factory=set)


def load(
    plan: Plan,
    settings: Settings,
    warehouse: Warehouse,
    parts: Iterable[Part],
    *,
    started: float | None = None,
    result_count: Callable[[], int | None] | None = None,
    run_id: str | None = None,
) -> IOResult[EntityReport, SyncError]:
    """Load the parts (one transaction each: MERGE, quarantine, counts, checkpoint), then finish."""
    run = plan.record(run_id)
    tally = _Tally(run=run, started=time.perf_counter() if started is None else started)
    started_run: IOResult[None, SyncError] = impure_safe(exceptions=(WarehouseError,))(warehouse.start_run)(run).alt(
        partial(error, plan.spec.name, "load", plan.where())
    )
    result: IOResult[EntityReport, SyncError] = pipeline.flow(
        started_run,
        bind_ioresult(lambda _: _load_parts(plan, warehouse, tally, parts)),
        bind_ioresult(lambda _: _threshold(plan, settings, tally, result_count() if result_count else None)),
        bind_ioresult(lambda _: finish(plan, warehouse, tally)),
    )
    return result.lash(partial(_failed, warehouse, run))


def _load_parts(plan: Plan, warehouse: Warehouse, tally: _Tally, parts: Iterable[Part]) -> IOResult[None, SyncError]:
    spec, run = plan.spec, tally.run
    checkpoint = None
    try:
        for part in parts:
            missing = set(part.new_columns.values()) - tally.columns
            if missing:
                warehouse.prepare(spec, sorted(set(part.new_columns.values()) | tally.columns))
                tally.columns |= missing
                for name, column in part.new_columns.items():
                    if name != column:
                        log.warning("%s: new field %r stored in column %s", spec.name, name, column)
            tally.new_fields |= part.new_columns
            tally.missing_fields |= part.missing_fields
            if part.rejections and tally.first_rejection is None:
                tally.first_rejection = part.rejections[0]
            if plan.mode == "full" and plan.generation_started_at is not None:
                checkpoint = Checkpoint(plan.generation, plan.generation_started_at, part.resume_after)
            counts = warehouse.load(
                spec, part.batch, part.rejections, run, generation=plan.generation, checkpoint=checkpoint
            )
            log.info("%s: %d records committed (resume point: id %s)", spec.name, part.extracted, part.resume_after)
            run.extracted += part.extracted
            run.rejected += len(part.rejections)
            run.inserted += counts.inserted
            run.updated += counts.updated
            run.restored += counts.restored
            tally.restored += counts.restored
    except Broken as exc:
        return IOFailure(exc.error)
    except Stopped:
        message = "stopped by the user; a rerun resumes"
        return IOFailure(SyncError(spec.name, "extract", message, True, plan.where(), stopped=True))
    except WmsError as exc:
        return IOFailure(error(spec.name, "extract", plan.where(), exc))
    except WarehouseError as exc:
        return IOFailure(error(spec.name, "load", plan.where(), exc))
    except OSError as exc:  # a landing file vanished or is unreadable
        return IOFailure(SyncError(spec.name, "load", f"cannot read the landing: {exc}", True, plan.where()))
    return IOSuccess(None)


def _threshold(plan: Plan, settings: Settings, tally: _Tally, result_count: int | None) -> IOResult[None, SyncError]:
    """Fail (after loading what was valid) when the rejected share passes the threshold."""
    run, limit = tally.run, settings.quality.max_rejected_share
    run.result_count = result_count
    share = run.rejected / run.extracted if run.extracted else 0.0
    if share <= limit:
        return IOSuccess(None)
    first = tally.first_rejection
    quarantine = f"{settings.warehouse.db_schema}._rejected"
    return IOFailure(
        SyncError(
            plan.spec.name,
            "check",
            f"{run.rejected} of {run.extracted} records ({share:.1%}) broke the contract, more than "
            f"GRUPONOS_QUALITY__MAX_REJECTED_SHARE={limit:.1%}; they are in {quarantine} with run_id={run.run_id}"
            + (f"; first: id {first.record_id} broke {first.rule}: {first.message}" if first else ""),
            window=plan.where(),
            record_id=first.record_id if first else None,
            rule=first.rule if first else None,
        )
    )


def finish(plan: Plan, warehouse: Warehouse, tally: _Tally) -> IOResult[EntityReport, SyncError]:
    """Deletes marked (full), watermark set, run closed — one transaction — and the report."""
    run, spec = tally.run, plan.spec
    watermark = plan.window.end if plan.window is not None else plan.generation_started_at
    finished = impure_safe(exceptions=(WarehouseError,))(warehouse.finish)(
        spec, run, watermark=watermark, generation=plan.generation if plan.mode == "full" else None
    ).alt(partial(error, spec.name, "finish", plan.where()))

    def report(deleted: int) -> EntityReport:
        run.deleted = deleted
        return EntityReport(
            entity=spec.name,
            mode=run.mode,
            run_id=run.run_id,
            extracted=run.extracted,
            rejected=run.rejected,
            inserted=run.inserted,
            updated=run.updated,
            deleted=deleted,
            seconds=time.perf_counter() - tally.started,
            result_count=run.result_count,
            window_start=run.window_start,
            window_end=run.window_end,
            watermark_before=plan.watermark_before,
            watermark_after=watermark,
            new_fields=tuple(sorted(tally.new_fields)),
            missing_fields=tuple(sorted(tally.missing_fields)),
            restored=tally.restored,
            resumed_after=plan.resume_after,
            renamed=tuple(sorted({**spec.renamed, **{k: v for k, v in tally.new_fields.items() if k != v}}.items())),
        )

    return finished.map(report)


def _failed(warehouse: Warehouse, run: RunRecord, error: SyncError) -> IOResult[EntityReport, SyncError]:
    """Close the run log as failed (the watermark does not move), keep the first error."""
    try:
        warehouse.fail(run, str(error))
    except WarehouseError as exc:  # the warehouse is gone: say so beside the first error
        log.error("%s: could not log the failure in the warehouse: %s", run.entity, redact(exc))
    return IOFailure(error)
