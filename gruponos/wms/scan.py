"""Reading an entity that refuses ``ordering``: by id ranges that each fit in one page.

Without an order, the API's pages are offsets into an order it does not promise, so paging
through them can skip or repeat rows. Instead the id line is cut into ranges whose records
fit in ONE page (the API's ``result_count`` for ``id__gte``/``id__lt`` says how many): a
range is fetched whole or split in two, so no page depends on another. Ranges are read in
ascending order, each page's rows sorted by id, so the stream is in id order like an ordered
scan and can be resumed after its last id. The count check is built in: a range whose page
comes back with more rows than fit (rows inserted since it was counted) is split and read
again.

Cost: about two requests per page of rows, plus ~log2(highest id) to find the top of the line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc

from gruponos.entities import EntitySpec
from gruponos.wms.client import WmsClient, account
from gruponos.wms.decode import Page
from gruponos.wms.query import Scan, ScanStats

__all__ = ["ranged_pages"]

log = logging.getLogger(__name__)


def ranged_pages(client: WmsClient, spec: EntitySpec, scan: Scan, stats: ScanStats) -> Iterator[Page]:
    """``spec``'s rows matching ``scan``, range by range, without ``ordering``."""
    size = client.settings.page_size
    base = scan.params(after_id=None, page_size=size, page_mode="paged", ordered=False)
    for key in ("id__gt", "id__gte", "id__lt"):
        base.pop(key, None)
    low = scan.resume_after + 1 if scan.resume_after is not None else scan.id_gte if scan.id_gte is not None else 0
    high = scan.id_lt if scan.id_lt is not None else _top(client, spec, base, low) + 1
    total = client.count(spec, _bounded(base, low, high))
    stats.result_count = total
    stats.page_size = size
    if not total:
        return
    pending: list[tuple[int, int, int | None]] = [(low, high, total)]
    while pending:
        lo, hi, known = pending.pop()
        count = known if known is not None else client.count(spec, _bounded(base, lo, hi))
        if count == 0:
            continue
        if count > size and hi - lo > 1:
            mid = lo + (hi - lo) // 2
            pending += [(mid, hi, None), (lo, mid, None)]  # the lower half first (a stack)
            continue
        page = client.fetch(spec, _bounded(base, lo, hi), stats)
        if page is None:
            continue
        if page.sent > size or page.next_page is not None:
            if hi - lo <= 1:
                raise RuntimeError(f"{spec.name}: more than one record with id {lo}")  # ids are unique
            stats.verifications += 1
            mid = lo + (hi - lo) // 2
            pending += [(mid, hi, None), (lo, mid, None)]
            continue
        ordered = page.select(pc.fill_null(pc.greater_equal(page.batch.column("id"), lo), False))
        order = pc.sort_indices(ordered.batch.column("id"))
        ordered = _reorder(ordered, order.to_pylist())
        account(ordered, stats)
        if ordered.batch.num_rows:
            top = pc.max(ordered.batch.column("id")).as_py()
            stats.last_id = top if stats.last_id is None else max(stats.last_id, top)
            yield ordered


def _bounded(base: dict[str, str], lo: int, hi: int) -> dict[str, str]:
    return {**base, "id__gte": str(lo), "id__lt": str(hi)}


def _top(client: WmsClient, spec: EntitySpec, base: dict[str, str], low: int) -> int:
    """An id at or above the highest matching one (doubling until nothing lies beyond)."""
    top = max(low, 1024)
    while client.count(spec, {**base, "id__gt": str(top)}):
        top *= 2
    return top


def _reorder(page: Page, order: list[int]) -> Page:
    """The page with its rows in ``order`` (rules, extras and raw positions follow)."""
    if order == sorted(order):
        return page
    take = pa.array(order, type=pa.int64())
    position = {old: new for new, old in enumerate(order)}
    base = page.positions
    return replace(
        page,
        batch=page.batch.take(take),
        extras={name: values.take(take) for name, values in page.extras.items()},
        invalid_rows={rule: tuple(sorted(position[r] for r in rows)) for rule, rows in page.invalid_rows.items()},
        positions=tuple(base[i] if base is not None else i for i in order),
    )
