"""One entity's sync as one chain: plan → start → transfer (extract → check → load) → finish.

    report = sync_entity(entity("allocation"), "incremental", ctx)   # IOResult[EntityReport, SyncError]

Or in two steps, so that a failed load can be retried without asking the WMS again::

    landing = land_entity(spec, "full", ctx, folder)       # extract to a landing file
    report = load_landing(landing_value, ctx)              # check → load → finish

Each step that can fail for a domain reason returns ``IOResult[…, SyncError]``; a failure
skips the rest of the chain, closes the run log as failed and leaves the watermark where
it was, so a rerun converges. Exceptions that are bugs still raise.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from returns import pipeline
from returns.io import IOFailure, IOResult, IOSuccess
from returns.pointfree import bind_ioresult
from returns.result import Failure

from gruponos.entities import EntitySpec, entity
from gruponos.errors import ConcurrentRunError, SyncError, WarehouseError, WmsError
from gruponos.landing import LandingWriter, read_pages
from gruponos.quality import Checked, Rejection, check
from gruponos.settings import Settings
from gruponos.warehouse import Checkpoint, RunRecord, Warehouse
from gruponos.wms import Extraction, Page, Window, WmsClient, extract

__all__ = ["Context", "EntityReport", "Landing", "Mode", "land_entity", "load_landing", "sync_entity"]

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
                bind_ioresult(partial(_start, ctx)),
                bind_ioresult(partial(_transfer, ctx, None)),
                bind_ioresult(partial(_finish, ctx)),
            )
            return result
    except ConcurrentRunError as exc:
        return IOFailure(SyncError(spec.name, "lock", str(exc), retryable=True))


@dataclass(frozen=True, slots=True)
class Landing:
    """An entity's window extracted to a file, waiting to be loaded (``load_landing``)."""

    entity: str
    mode: str
    run_id: str
    path: Path
    window: Window | None
    after_id: int | None
    seen: str
    generation: datetime | None
    generation_id: str | None
    watermark_before: datetime | None
    started_at: datetime
    pages: int
    rows: int
    result_count: int | None
    seconds: float


def land_entity(spec: EntitySpec, mode: Mode, ctx: Context, folder: Path) -> IOResult[Landing, SyncError]:
    """Extract one entity's window (or full scan) to a landing file under ``folder``.

    Nothing is written to the warehouse: a failed load can be retried from the file without
    asking the WMS again. The window is fixed here, from the watermark and ``ctx.now``.
    """
    return pipeline.flow(_plan(spec, mode, ctx), bind_ioresult(partial(_land, ctx, folder)))


def load_landing(landing: Landing, ctx: Context) -> IOResult[EntityReport, SyncError]:
    """Load a landing file into the warehouse: check, MERGE, state and run log, exactly once."""
    spec = entity(landing.entity)
    plan = _Plan(
        spec,
        RunRecord(
            run_id=ctx.run_id,
            entity=spec.name,
            mode=landing.mode,
            started_at=landing.started_at,
            window_start=landing.window.start if landing.window else None,
            window_end=landing.window.end if landing.window else None,
        ),
        landing.window,
        landing.after_id,
        landing.seen,
        landing.generation,
        landing.generation_id,
        landing.watermark_before,
        time.perf_counter() - landing.seconds,
    )
    try:
        with ctx.warehouse.lock(spec.name):
            result: IOResult[EntityReport, SyncError] = pipeline.flow(
                IOSuccess(plan),
                bind_ioresult(partial(_start, ctx)),
                bind_ioresult(partial(_transfer, ctx, landing)),
                bind_ioresult(partial(_finish, ctx)),
            )
            return result
    except ConcurrentRunError as exc:
        return IOFailure(SyncError(spec.name, "lock", str(exc), retryable=True))


def _plan(spec: EntitySpec, mode: Mode, ctx: Context) -> IOResult[_Plan, SyncError]:
    """Tables ready, the window chosen from the watermark (or the full sync's checkpoint)."""
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
    plan = _Plan(spec, run, window, after_id, seen, generation, generation_id, state.watermark, time.perf_counter())
    return IOSuccess(plan)


def _start(ctx: Context, plan: _Plan) -> IOResult[_Plan, SyncError]:
    """The run logged as running."""
    try:
        ctx.warehouse.start_run(plan.run)
    except WarehouseError as exc:
        return IOFailure(SyncError(plan.spec.name, "load", str(exc), retryable=True))
    return IOSuccess(plan)


def _land(ctx: Context, folder: Path, plan: _Plan) -> IOResult[Landing, SyncError]:
    """The extraction, page by page, into ``folder/<entity>-<run id>.pages``."""
    spec = plan.spec
    path = folder / f"{spec.name}-{ctx.run_id}-{plan.run.mode}.pages"
    extraction = extract(spec, ctx.wms, window=plan.window, after_id=plan.after_id)
    try:
        with LandingWriter(path) as out:
            for page in extraction.pages():
                out.write(page, extraction.resume_after)
                if ctx.progress:
                    ctx.progress(spec.name, out.rows)
    except WmsError as exc:
        return IOFailure(SyncError(spec.name, "extract", str(exc), exc.retryable, _window(plan)))
    except OSError as exc:
        return IOFailure(SyncError(spec.name, "extract", f"cannot write the landing file {path}: {exc}", True))
    return IOSuccess(
        Landing(
            entity=spec.name,
            mode=plan.run.mode,
            run_id=ctx.run_id,
            path=path,
            window=plan.window,
            after_id=plan.after_id,
            seen=plan.seen,
            generation=plan.generation,
            generation_id=plan.generation_id,
            watermark_before=plan.watermark_before,
            started_at=plan.run.started_at,
            pages=out.pages,
            rows=out.rows,
            result_count=extraction.stats.result_count,
            seconds=time.perf_counter() - plan.started,
        )
    )


class _Landed:
    """A landing file read back with the shape of an extraction (pages, resume_after)."""

    def __init__(self, landing: Landing) -> None:
        self._landing = landing
        self.resume_after: int | None = landing.after_id
        self.result_count = landing.result_count

    def pages(self) -> Iterator[Page]:
        for page, resume_after in read_pages(self._landing.path):
            self.resume_after = resume_after
            yield page


def _transfer(ctx: Context, landing: Landing | None, plan: _Plan) -> IOResult[_Plan, SyncError]:
    """Extract (or read the landing) page by page; check every ``batch_rows``, MERGE every ``merge_batch_rows``."""
    spec, run = plan.spec, plan.run
    check_every = min(ctx.settings.quality.batch_rows, ctx.settings.warehouse.merge_batch_rows)
    merge_every = ctx.settings.warehouse.merge_batch_rows
    buffered: list[Page] = []
    rows = 0
    staged: list[Checked] = []
    source: Extraction | _Landed
    source = extract(spec, ctx.wms, window=plan.window, after_id=plan.after_id) if landing is None else _Landed(landing)
    try:
        for page in source.pages():
            buffered.append(page)
            rows += page.batch.num_rows
            if ctx.progress:
                ctx.progress(spec.name, run.extracted + sum(p.extracted for p in staged) + rows)
            if rows >= check_every:
                if isinstance(part := _check(ctx, plan, buffered), SyncError):
                    return _failed(ctx, plan, part)
                staged.append(part)
                buffered, rows = [], 0
                if sum(p.extracted for p in staged) >= merge_every:
                    _load(ctx, plan, staged, source.resume_after)
                    staged = []
        if buffered:
            if isinstance(part := _check(ctx, plan, buffered), SyncError):
                return _failed(ctx, plan, part)
            staged.append(part)
        if staged:
            _load(ctx, plan, staged, source.resume_after)
    except WmsError as exc:
        return _failed(ctx, plan, SyncError(spec.name, "extract", str(exc), exc.retryable, _window(plan)))
    except WarehouseError as exc:
        return _failed(ctx, plan, SyncError(spec.name, "load", str(exc), True, _window(plan)))
    except OSError as exc:  # the landing file vanished or is unreadable
        return _failed(ctx, plan, SyncError(spec.name, "load", f"cannot read the landing file: {exc}", True))
    run.result_count = source.stats.result_count if isinstance(source, Extraction) else source.result_count
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


def _check(ctx: Context, plan: _Plan, pages: list[Page]) -> Checked | SyncError:
    """The contract over the buffered pages (and the raw table evolved for new fields)."""
    spec = plan.spec
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
    return part


def _load(ctx: Context, plan: _Plan, parts: list[Checked], resume_after: int | None) -> None:
    """One load transaction for the checked parts: MERGE, quarantine, counts, checkpoint."""
    spec, run = plan.spec, plan.run
    if len(parts) == 1:
        batch, rejected = parts[0].batch, parts[0].rejections
    else:
        tables = [pa.Table.from_batches([p.batch]) for p in parts]
        batch = pa.concat_tables(tables, promote_options="default").combine_chunks().to_batches()[0]
        rejected = [r for p in parts for r in p.rejections]
    run.extracted += sum(p.extracted for p in parts)
    run.rejected += len(rejected)
    checkpoint = None
    if plan.generation is not None and plan.generation_id is not None:
        checkpoint = Checkpoint(plan.generation, resume_after, plan.generation_id)
    counts = ctx.warehouse.load(spec, batch, rejected, run, seen=plan.seen, checkpoint=checkpoint)
    run.inserted += counts.inserted
    run.updated += counts.updated


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
