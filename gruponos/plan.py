"""What one run of one entity will read, decided before it reads anything.

    plan = make_plan(spec, "incremental", ctx)   # IOResult[Plan, SyncError]

The window comes from the entity's watermark minus the overlap, up to the WMS's own clock; a
full sync starts a generation (stamped on every row it sees) or resumes an unfinished one after
its last committed id; entities the WMS answers only with filters take them from the settings.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

from returns.io import IOFailure, IOResult, IOSuccess, impure_safe

from gruponos.entities import EntitySpec
from gruponos.errors import Error, SyncError, WarehouseError, WmsError
from gruponos.redact import redact
from gruponos.settings import Settings
from gruponos.warehouse import RunRecord, Warehouse
from gruponos.wms import Scan, Window, WmsClient

__all__ = ["Context", "Mode", "Plan", "Stopped", "error", "expected_rows", "make_plan", "required_filters"]

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
    progress: Progress | None = None  # called with (entity, rows so far); may raise ``Stopped``
    on_plan: Callable[[Plan], None] | None = None  # told the plan before anything is read


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run of one entity reads, decided before it reads anything.

    ``generation`` is stamped on every row the run loads (``_seen_run``): the full sync's own
    id, or a pending full sync's (so rows an incremental run loads count as seen by it), or the
    run's id. A full run finishes its generation (rows it did not see are marked deleted);
    ``generation_started_at`` is when that generation began; ``resume_after`` is
    the id after which a crashed full sync continues.
    """

    spec: EntitySpec
    mode: Mode
    run_id: str
    started_at: datetime
    window: Window | None
    resume_after: int | None
    generation: str
    generation_started_at: datetime | None  # full runs only
    watermark_before: datetime | None
    filters: tuple[tuple[str, str], ...] = ()

    def record(self, run_id: str | None = None) -> RunRecord:
        """The run log row of this plan (``run_id``: a retry's own id)."""
        return RunRecord(
            run_id=run_id or self.run_id,
            entity=self.spec.name,
            mode=self.mode,
            started_at=self.started_at,
            window_start=self.window.start if self.window else None,
            window_end=self.window.end if self.window else None,
        )

    def where(self) -> str | None:
        """The window (or resume point), as error messages name it."""
        if self.window is not None:
            return str(self.window)
        return None if self.resume_after is None else f"ids after {self.resume_after}"


class Stopped(Exception):
    """Raised by a progress callback to stop a sync at its next page (Ctrl-C): the run log says so."""


def expected_rows(plan: Plan, wms: WmsClient) -> int | None:
    """How many records the plan will read, as the WMS counts them now (None if it will not say)."""
    scan = Scan.of(plan.spec, window=plan.window, resume_after=plan.resume_after, filters=plan.filters)
    try:
        return wms.count(plan.spec, scan.params(after_id=None, page_size=1, page_mode="paged", ordered=False))
    except Error:
        return None


def required_filters(spec: EntitySpec, settings: Settings) -> IOResult[tuple[tuple[str, str], ...], SyncError]:
    """The fixed filters of ``spec`` (``GRUPONOS_SYNC__FILTERS``); a failure names the combinations it needs."""
    given = settings.sync.filters.get(spec.name, {})

    def covered(name: str) -> bool:  # a field, with or without a lookup (history_activity_id__gte)
        return any(key == name or key.startswith(name + "__") for key in given)

    if spec.required_filters and not any(all(covered(k) for k in combo) for combo in spec.required_filters):
        combos = " or ".join(" + ".join(combo) for combo in spec.required_filters)
        example = ", ".join(f'"{k}": "…"' for k in spec.required_filters[0])
        return IOFailure(
            SyncError(
                spec.name,
                "plan",
                f"the WMS answers {spec.name} only with one of these filter sets: {combos}; set "
                f"GRUPONOS_SYNC__FILTERS='{{\"{spec.name}\": {{{example}}}}}'",
            )
        )
    return IOSuccess(tuple(sorted(given.items())))


def make_plan(spec: EntitySpec, mode: Mode, ctx: Context) -> IOResult[Plan, SyncError]:
    """Tables ready; the window from the watermark, or the full sync's generation and resume point."""

    def at(filters: tuple[tuple[str, str], ...]) -> IOResult[Plan, SyncError]:
        return _clock(spec, ctx).bind(partial(_decide, spec, mode, ctx, filters))

    return required_filters(spec, ctx.settings).bind(at)


def _clock(spec: EntitySpec, ctx: Context) -> IOResult[datetime, SyncError]:
    if ctx.now is not None:
        return IOSuccess(ctx.now)
    return impure_safe(exceptions=(WmsError,))(ctx.wms.ping)().alt(partial(error, spec.name, "extract", None))


def _decide(
    spec: EntitySpec, mode: Mode, ctx: Context, filters: tuple[tuple[str, str], ...], now: datetime
) -> IOResult[Plan, SyncError]:
    def prepare_and_read() -> Plan:
        ctx.warehouse.prepare(spec)
        state = ctx.warehouse.state(spec.name)
        effective: Mode = mode if spec.incremental else "full"
        window = generation_started_at = resume_after = None
        generation = state.generation or ctx.run_id  # a pending full sync's generation stamps other runs' rows too
        if effective == "incremental":
            overlap = timedelta(minutes=ctx.settings.wms.overlap_minutes)
            window = Window.since(state.watermark, until=now, overlap=overlap)
        elif state.generation_started_at is not None and state.generation:  # unfinished: resume after its checkpoint
            generation, generation_started_at = state.generation, state.generation_started_at
            resume_after = state.resume_after
            log.info("%s: resuming the full sync of %s after id %s", spec.name, generation_started_at, resume_after)
        else:
            generation, generation_started_at = ctx.run_id, now
        return Plan(
            spec=spec,
            mode=effective,
            run_id=ctx.run_id,
            started_at=now,
            window=window,
            resume_after=resume_after,
            generation=generation,
            generation_started_at=generation_started_at,
            watermark_before=state.watermark,
            filters=filters,
        )

    return impure_safe(exceptions=(WarehouseError,))(prepare_and_read)().alt(partial(error, spec.name, "plan", None))


def error(entity: str, step: str, where: str | None, exc: Exception) -> SyncError:
    """A foreign error as the railway's value: its message redacted, retryable as its source says."""
    retryable = bool(getattr(exc, "retryable", False)) if isinstance(exc, Error) else False
    return SyncError(entity, step, redact(exc), retryable, where)
