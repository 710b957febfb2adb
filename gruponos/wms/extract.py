"""Extract one entity as a stream of record batches: serial, or id-partitioned in parallel.

A large scan is split on the id line: two one-row probes find the lowest and highest id
(and, in paged mode, the API's count); the ids are cut into partitions ``[lo, hi)`` whose
outer ends are open, so rows inserted while the scan runs still fall into the last one.
Partitions are read concurrently by at most ``max_concurrency`` threads sharing the
client's connection pool (and its optional ``max_requests_per_s`` limit); their batches
meet in a queue. A thread takes a credit before it asks for a page and the consumer gives
it back when it takes the page, so at most ``max_concurrency + 2`` pages (a request in
flight per thread, two decoded ahead) are held whatever the entity's size and however far
the consumer lags: a thread never fetches a page only to wait with it.
Partitions are disjoint and cover every id, so the merged stream has no duplicates and
no gaps. A small scan (estimate below ``partition_min_rows``) or ``max_concurrency == 1``
is read serially.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc

from gruponos.entities import EntitySpec
from gruponos.errors import WmsRequestError
from gruponos.wms.client import WmsClient
from gruponos.wms.decode import Page
from gruponos.wms.query import IdRange, Scan, ScanStats, Window

__all__ = ["Extraction", "Partition", "split"]

log = logging.getLogger(__name__)

_POLL_S = 0.1
_AHEAD = 2  # pages decoded ahead of the consumer, beyond one in flight per thread


@dataclass(frozen=True, slots=True)
class Partition:
    """One slice of the id line, ``[id_gte, id_lt)``; a ``None`` end is open."""

    index: int
    id_gte: int | None
    id_lt: int | None


def split(lo: int, hi: int, count: int) -> tuple[Partition, ...]:
    """Cut ids ``lo..hi`` into ``count`` slices that together cover every integer.

    The first slice is open below and the last open above.
    """
    count = max(1, min(count, hi - lo + 1))
    width = (hi - lo + 1) / count
    cuts = [lo + round(i * width) for i in range(1, count)]
    bounds: list[int | None] = [None, *cuts, None]
    return tuple(Partition(i, bounds[i], bounds[i + 1]) for i in range(count))


class Extraction:
    """An entity's rows as record batches of ``spec.schema``; iterate it once.

    ``stats`` is complete once the stream is exhausted. ``resume_after`` is the highest id
    below which every row has been yielded: a later scan may continue with
    ``resume_after=extraction.resume_after``.

    Example::

        run = Extraction(spec, wms, window=window)
        for batch in run:
            load(batch)
        print(run.stats.rows, run.stats.result_count)
    """

    def __init__(
        self,
        spec: EntitySpec,
        client: WmsClient,
        *,
        window: Window | None = None,
        resume_after: int | None = None,
        filters: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.spec = spec
        self.scan = Scan.of(spec, window=window, resume_after=resume_after, filters=filters)  # partitions bound it
        self.start_after = resume_after
        self.stats = ScanStats(spec.name)
        self.partitions: tuple[Partition, ...] = ()
        self._client = client
        self._started = False
        self._done: set[int] = set()
        self._delivered: dict[int, int] = {}
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return (page.batch for page in self.pages())

    def pages(self) -> Generator[Page, None, None]:
        """The decoded pages (batch, drift report, raw body); iterate once."""
        if self._started:
            raise RuntimeError("an Extraction can be iterated only once")
        self._started = True
        return self._pages()

    @property
    def resume_after(self) -> int | None:
        """The highest id such that every matching row up to it has been yielded."""
        if not self.partitions:
            return self.stats.last_id if self.stats.last_id is not None else self.start_after
        with self._lock:
            after = self.start_after
            for part in self.partitions:
                delivered = self._delivered.get(part.index)
                if part.index not in self._done:
                    return delivered if delivered is not None else after
                if part.id_lt is not None:
                    after = part.id_lt - 1 if after is None else max(after, part.id_lt - 1)
                elif delivered is not None:
                    after = delivered if after is None else max(after, delivered)
            return after

    def _pages(self) -> Generator[Page, None, None]:
        """Choose serial or partitioned reading and stream the pages."""
        settings = self._client.settings
        base = self._scan(Partition(0, None, None))
        found = self._probe(base) if settings.max_concurrency > 1 else None
        if found is not None and found.estimate >= settings.partition_min_rows:
            pages = found.estimate // (2 * settings.page_size)
            count = max(2, min(4 * settings.max_concurrency, pages))
            self.partitions = split(found.lo, found.hi, count)
            log.info(
                "%s: ~%d rows, ids %d..%d, %d partitions",
                self.spec.name,
                found.estimate,
                found.lo,
                found.hi,
                len(self.partitions),
            )
            yield from self._parallel()
            return
        yield from self._client.pages(self.spec, base, stats=self.stats)

    def _probe(self, base: Scan) -> IdRange | None:
        """The id range to partition, or None to read serially (no rows, or probes refused)."""
        try:
            return self._client.id_range(self.spec, base)
        except WmsRequestError as exc:
            log.warning("%s: id probes refused, reading serially: %s", self.spec.name, exc)
            return None

    def _scan(self, part: Partition) -> Scan:
        """The scan reading one partition."""
        return replace(self.scan, id_gte=part.id_gte, id_lt=part.id_lt)

    def _parallel(self) -> Iterator[Page]:
        """Read the partitions concurrently and merge their pages through a queue held by credits."""
        workers = self._client.settings.max_concurrency
        inbox: queue.Queue[tuple[int, Page | None, BaseException | None]] = queue.Queue()
        credits = threading.Semaphore(workers + _AHEAD)  # pages fetched and not yet taken
        stop = threading.Event()

        def reserve() -> bool:
            while not stop.is_set():
                if credits.acquire(timeout=_POLL_S):
                    return True
            return False

        def produce(part: Partition) -> None:
            stats = ScanStats(self.spec.name)
            failure: BaseException | None = None
            pages = self._client.pages(self.spec, self._scan(part), stats=stats)
            try:
                while True:
                    if not reserve():
                        return  # the consumer has gone
                    try:
                        page = next(pages, None)
                    except BaseException:
                        credits.release()
                        raise
                    if page is None:
                        credits.release()
                        break
                    inbox.put((part.index, page, None))
            except BaseException as exc:  # handed to the consumer, which re-raises it
                failure = exc
            with self._lock:  # before the end marker, so stats are whole when the stream ends
                self.stats.add(stats)
                if stats.result_count is not None:
                    self.stats.result_count = (self.stats.result_count or 0) + stats.result_count
            inbox.put((part.index, None, failure))

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"wms-{self.spec.name}")
        try:
            for part in self.partitions:
                pool.submit(produce, part)
            remaining = len(self.partitions)
            while remaining:
                index, page, error = inbox.get()
                if error is not None:
                    raise error
                if page is None:
                    remaining -= 1
                    with self._lock:
                        self._done.add(index)
                    continue
                credits.release()  # the page is the consumer's now
                with self._lock:
                    top = pc.max(page.batch.column("id")).as_py()
                    if top is not None:
                        self._delivered[index] = max(self._delivered.get(index, top), top)
                yield page
        finally:
            # On an error or an early close, producers stop at their next page; the consumer
            # does not wait for requests (and their retries) still in flight.
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
