"""What a scan asks the WMS for: a ``mod_ts`` window, id bounds, and the figures it got back.

    window = Window.since(watermark, until=wms_now, overlap=timedelta(minutes=30))
    scan = Scan(window=window, resume_after=checkpoint)  # ordered by id, resumable
    scan.params(after_id=last_id, page_size=1000, page_mode="sequenced")

Every ordered scan reads in ``id`` order, so it can always continue after the last id it
received (``id__gt``): that is how a scan resumes after a crash, continues with a smaller page
after a read timeout, and (in paged mode) reads every page as a fresh first page, so rows that
change or vanish mid-scan cannot shift an offset over rows not yet read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gruponos.entities import EntitySpec

__all__ = ["IdRange", "Params", "Scan", "ScanStats", "Window", "format_ts"]

Params = dict[str, str]


def format_ts(moment: datetime) -> str:
    """A timezone-aware datetime as a filter value: UTC, floored to whole seconds, ISO-8601."""
    if moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} in a WMS filter; attach a timezone")
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open ``mod_ts`` interval ``[start, end)``; a ``None`` bound is open."""

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        for bound in (self.start, self.end):
            if bound is not None:
                format_ts(bound)  # rejects naive datetimes
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"window starts after it ends: {self.start} > {self.end}")

    @classmethod
    def since(cls, watermark: datetime | None, *, until: datetime, overlap: timedelta) -> Window:
        """The window ``[watermark - overlap, until)``; no watermark reads from the start."""
        start = None if watermark is None else watermark - overlap
        return cls(start=start, end=until)

    def params(self, key: str = "mod_ts") -> Params:
        """The ``<key>__gte`` / ``<key>__lt`` filters, floored to whole seconds."""
        params: Params = {}
        if self.start is not None:
            params[f"{key}__gte"] = format_ts(self.start)
        if self.end is not None:
            params[f"{key}__lt"] = format_ts(self.end)
        return params

    def __str__(self) -> str:
        start = self.start.isoformat() if self.start else "-∞"
        end = self.end.isoformat() if self.end else "now"
        return f"[{start}, {end})"


@dataclass(frozen=True, slots=True)
class Scan:
    """What one scan reads: a window, id bounds, fixed filters; ordered by ``id`` unless refused.

    ``id_gte``/``id_lt`` bound a partition; ``resume_after`` resumes a scan after the last id
    that was committed (``id__gt``); ``filters`` are extra query filters an entity requires
    (``company_id__code`` …); ``window_key`` is the field the window filters on.
    """

    window: Window | None = None
    id_gte: int | None = None
    id_lt: int | None = None
    resume_after: int | None = None
    filters: tuple[tuple[str, str], ...] = ()
    window_key: str = "mod_ts"

    @classmethod
    def of(
        cls,
        spec: EntitySpec,
        *,
        window: Window | None = None,
        resume_after: int | None = None,
        filters: tuple[tuple[str, str], ...] = (),
    ) -> Scan:
        """A scan of ``spec``, its window on the entity's replication key (``mod_ts`` when it names none)."""
        return cls(
            window=window, resume_after=resume_after, filters=filters, window_key=spec.replication_key or "mod_ts"
        )

    def params(self, *, after_id: int | None, page_size: int, page_mode: str, ordered: bool = True) -> Params:
        """Query parameters for the first page of this scan continued after ``after_id`` (the last id received)."""
        params: Params = {"page_size": str(page_size), "page_mode": page_mode}
        if ordered:
            params["ordering"] = "id"
        params.update(self.filters)
        if self.window is not None:
            params.update(self.window.params(self.window_key))
        lower = self.resume_after if after_id is None else after_id
        if lower is not None and (self.id_gte is None or lower >= self.id_gte - 1):
            params["id__gt"] = str(lower)
        elif self.id_gte is not None:
            params["id__gte"] = str(self.id_gte)
        if self.id_lt is not None:
            params["id__lt"] = str(self.id_lt)
        return params


@dataclass(slots=True)
class ScanStats:
    """What a scan received, for reconciliation: rows beside the API's own ``result_count``.

    ``result_count`` is the count the API announced on the scan's first page (paged mode;
    ``None`` in sequenced mode). ``last_id`` is the highest id received.
    """

    entity: str
    pages: int = 0
    rows: int = 0
    result_count: int | None = None
    retries: int = 0
    halvings: int = 0
    page_size: int | None = None
    verifications: int = 0
    duplicates: int = 0
    last_id: int | None = None
    unordered: bool = False  # the entity refused ``ordering``: read by id ranges instead
    unknown_fields: set[str] = field(default_factory=set)
    invalid_values: dict[str, int] = field(default_factory=dict)

    def add(self, other: ScanStats) -> None:
        """Fold another scan's figures into these (partitions of one extraction)."""
        self.pages += other.pages
        self.rows += other.rows
        self.retries += other.retries
        self.halvings += other.halvings
        self.verifications += other.verifications
        self.duplicates += other.duplicates
        self.unordered |= other.unordered
        self.unknown_fields |= other.unknown_fields
        for name, count in other.invalid_values.items():
            self.invalid_values[name] = self.invalid_values.get(name, 0) + count
        if other.last_id is not None:
            self.last_id = max(self.last_id or other.last_id, other.last_id)
        if other.page_size is not None:
            self.page_size = min(self.page_size or other.page_size, other.page_size)


@dataclass(frozen=True, slots=True)
class IdRange:
    """The lowest and highest id a filter matches, and the API's count when it gave one."""

    lo: int
    hi: int
    count: int | None = None

    @property
    def estimate(self) -> int:
        """The number of rows: the API's count, else the width of the id range."""
        return self.count if self.count is not None else self.hi - self.lo + 1
