"""One entity's sync as one chain: plan → transfer (extract → check → load) → finish.

    report = sync_entity(entity("allocation"), "incremental", ctx)   # IOResult[EntityReport, SyncError]

Each step that can fail for a domain reason returns ``IOResult[…, SyncError]``; a failure
skips the rest of the chain, closes the run log as failed and leaves the watermark where
it was, so a rerun converges. Exceptions that are bugs still raise.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

import pyarrow as pa
from returns import pipeline
from returns.io import IOFailure, IOResult, IOSuccess
from returns.pointfree import bind_ioresult
from returns.result import Failure

from gruponos.entities import EntitySpec
from gruponos.errors import ConcurrentRunError, SyncError, WarehouseError, WmsError
from gruponos.quality import Checked, Rejection, check
from gruponos.settings import Settings
from gruponos.warehouse import Checkpoint, RunRecord, Warehouse
from gruponos.wms import Page, Window, WmsClient, extract

__all__ = ["Context", "EntityReport", "Mode", "sync_entity"]

log = logging.getLogger(__name__)

Mode = Literal["full", "incremental"]
Progress = Callable[[str, int], None]


@dataclass(slots=True)
class Context:
    """What a sync needs: settings, an open WMS client and warehouse, the run's identity."""

    settings: Settings
    wms: WmsClient
    warehouse: Warehouse
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    now: datetime | None = None  # the WMS's clock at the start of the run (ping)
    progress: Progress | None = None  # called with (entity, rows extracted so far)


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

    @property
    def records_per_s(self) -> float:
        return self.extracted / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class _Plan:
    spec: EntitySpec
    run: RunRecord
    window: Window | None
    after_id: int | None
    seen: str  # stamped on every row this run loads: the full-sync generation, or the run id
    generation: datetime | None  # full syncs only: when the generation started
    generation_id: str | None
    watermark_before: datetime | None
    started: float
    new_fields: set[str] = field(default_factory=set)
    missing_fields: set[str] = field(default_factory=set)
    first_rejection: Rejection | None = None


def sync_entity(spec: EntitySpec, mode: Mode, ctx: Context) -> IOResult[EntityReport, SyncError]:
    """Sync one entity (``full`` or ``incremental``) into the warehouse, exactly once."""
    try:
        with ctx.warehouse.lock(spec.name):
            result: IOResult[EntityReport, SyncError] = pipeline.flow(
                _plan(spec, mode, ctx),
                bind_ioresult(partial(_transfer, ctx)),
                bind_ioresult(partial(_finish, ctx)),
            )
            return result
    except ConcurrentRunError as exc:
        return IOFailure(SyncError(spec.name, "lock", str(exc), retryable=True))


def _plan(spec: EntitySpec, mode: Mode, ctx: Context) -> IOResult[_Plan, SyncError]:
    """Tables ready, the window chosen, the run logged as running."""
    try:
        now = ctx.now or ctx.wms.ping()
    except WmsError as exc:
        return IOFailure(SyncError(spec.name, "extract", str(exc), exc.retryable))
    try:
        ctx.warehouse.prepare(spec)
        state = ctx.warehouse.state(spec.name)
    except WarehouseError as exc:
        return IOFailure(SyncError(spec.name, "load", str(exc), retryable=True))
    window: Window | None = None
    after_id: int | None = None
    generation: datetime | None = None
    generation_id: str | None = None
    # a pending full sync's generation also stamps what other runs load meanwhile
    seen = state.full_run_id or ctx.run_id
    if mode == "incremental":
        overlap = timedelta(minutes=ctx.settings.wms.overlap_minutes)
        window = Window.since(state.watermark, until=now, overlap=overlap)
    elif state.full_started_at is not None and state.full_run_id:  # unfinished: resume after its checkpoint
        generation, generation_id, after_id = state.full_started_at, state.full_run_id, state.checkpoint_id
        log.info("%s: resuming the full sync of %s after id %s", spec.name, generation, after_id)
    else:
        generation, generation_id, seen = now, ctx.run_id, ctx.run_id
    run = RunRecord(
        run_id=ctx.run_id,
        entity=spec.name,
        mode=mode,
        started_at=now,
        window_start=window.start if window else None,
        window_end=window.end if window else None,
    )
    try:
        ctx.warehouse.start_run(run)
    except WarehouseError as exc:
        return IOFailure(SyncError(spec.name, "load", str(exc), retryable=True))
    plan = _Plan(spec, run, window, after_id, seen, generation, generation_id, state.watermark, time.perf_counter())
    return IOSuccess(plan)


def _transfer(ctx: Context, plan: _Plan) -> IOResult[_Plan, SyncError]:
    """Extract page by page, check each, load in batches of ``merge_batch_rows``."""
    spec, run = plan.spec, plan.run
    limit = ctx.settings.warehouse.merge_batch_rows
    buffered: list[Page] = []
    rows = 0
    extraction = extract(spec, ctx.wms, window=plan.window, after_id=plan.after_id)
    try:
        for page in extraction.pages():
            buffered.append(page)
            rows += page.batch.num_rows
            if ctx.progress:
                ctx.progress(spec.name, run.extracted + rows)
            if rows >= limit:
                if (failure := _check_and_load(ctx, plan, buffered, extraction.resume_after)) is not None:
                    return _failed(ctx, plan, failure)
                buffered, rows = [], 0
        if buffered and (failure := _check_and_load(ctx, plan, buffered, extraction.resume_after)) is not None:
            return _failed(ctx, plan, failure)
    except WmsError as exc:
        return _failed(ctx, plan, SyncError(spec.name, "extract", str(exc), exc.retryable, _window(plan)))
    except WarehouseError as exc:
        return _failed(ctx, plan, SyncError(spec.name, "load", str(exc), True, _window(plan)))
    run.result_count = extraction.stats.result_count
    share = run.rejected / run.extracted if run.extracted else 0.0
    if share > ctx.settings.quality.max_rejected_share:
        first = plan.first_rejection
        return _failed(
            ctx,
            plan,
            SyncError(
                spec.name,
                "check",
                f"{run.rejected} of {run.extracted} records ({share:.1%}) broke the contract, more than "
                f"GRUPONOS_QUALITY__MAX_REJECTED_SHARE={ctx.settings.quality.max_rejected_share:.1%}; "
                f"they are in {_quarantine(ctx)} with run_id={run.run_id}"
                + (f"; first: id {first.record_id} broke {first.rule}: {first.message}" if first else ""),
                window=_window(plan),
                record_id=first.record_id if first else None,
                rule=first.rule if first else None,
            ),
        )
    return IOSuccess(plan)


def _check_and_load(ctx: Context, plan: _Plan, pages: list[Page], resume_after: int | None) -> SyncError | None:
    """The contract over the buffered pages, then one load transaction."""
    spec, run = plan.spec, plan.run
    checked = check(spec, pages, policy=ctx.settings.quality.drift_policy)
    if isinstance(checked, Failure):
        error: SyncError = checked.failure()
        return error
    part: Checked = checked.unwrap()
    if part.unknown_fields - plan.new_fields:
        plan.new_fields |= part.unknown_fields
        ctx.warehouse.prepare(spec, sorted(plan.new_fields))
    plan.missing_fields |= part.missing_fields
    if part.rejections and plan.first_rejection is None:
        plan.first_rejection = part.rejections[0]
    run.extracted += part.extracted
    run.rejected += len(part.rejections)
    _load(ctx, plan, part.batch, part.rejections, resume_after)
    return None


def _load(
    ctx: Context, plan: _Plan, batch: pa.RecordBatch, rejected: list[Rejection], resume_after: int | None
) -> None:
    spec = plan.spec
    checkpoint = None
    if plan.generation is not None and plan.generation_id is not None:
        checkpoint = Checkpoint(plan.generation, resume_after, plan.generation_id)
    counts = ctx.warehouse.load(spec, batch, rejected, plan.run, seen=plan.seen, checkpoint=checkpoint)
    plan.run.inserted += counts.inserted
    plan.run.updated += counts.updated


def _finish(ctx: Context, plan: _Plan) -> IOResult[EntityReport, SyncError]:
    """Deletes marked (full), watermark set, run closed — together."""
    run, spec = plan.run, plan.spec
    watermark = plan.window.end if plan.window is not None else plan.generation
    try:
        run.deleted = ctx.warehouse.finish(spec, run, watermark=watermark, unseen_by=plan.generation_id)
    except WarehouseError as exc:
        return _failed(ctx, plan, SyncError(spec.name, "finish", str(exc), True, _window(plan)))
    return IOSuccess(
        EntityReport(
            entity=spec.name,
            mode=run.mode,
            run_id=run.run_id,
            extracted=run.extracted,
            rejected=run.rejected,
            inserted=run.inserted,
            updated=run.updated,
            deleted=run.deleted,
            seconds=time.perf_counter() - plan.started,
            result_count=run.result_count,
            window_start=run.window_start,
            window_end=run.window_end,
            watermark_before=plan.watermark_before,
            watermark_after=watermark,
            new_fields=tuple(sorted(plan.new_fields)),
            missing_fields=tuple(sorted(plan.missing_fields)),
        )
    )


def _failed(ctx: Context, plan: _Plan, error: SyncError) -> IOResult[Any, SyncError]:
    try:
        ctx.warehouse.fail(plan.run, str(error))
    except WarehouseError as exc:  # the warehouse is gone: say so beside the first error
        log.error("%s: could not log the failure in the warehouse: %s", plan.spec.name, exc)
    return IOFailure(error)


def _window(plan: _Plan) -> str | None:
    if plan.window is None:
        return None if plan.after_id is None else f"ids after {plan.after_id}"
    start = plan.window.start.isoformat() if plan.window.start else "-∞"
    end = plan.window.end.isoformat() if plan.window.end else "now"
    return f"[{start}, {end})"


def _quarantine(ctx: Context) -> str:
    return f"{ctx.settings.warehouse.db_schema}._rejected"
