"""The WMS entity API client: one pooled ``httpx.Client``, paging, retries and error mapping.

Paging follows ``next_page`` exactly as the API gives it. Every scan is ordered by ``id`` so
that it can always be continued from the last id received (``id__gt=<last id>``): that is
how a scan resumes, how it continues with a smaller ``page_size`` after a read timeout (the
``next_page`` link embeds the old page size, so it is rebuilt from the last id instead), and
how a paged scan checks, once its links run out, its last link keeps failing (the "phantom"
page) or a short page still links onward, that no rows lie beyond the highest id seen.
Paged mode (offsets) can still skip rows that leave the filter mid-scan; sequenced mode
(keyset cursor, the default) cannot, and ``ScanStats`` puts the API's ``result_count``
beside the rows received so the difference is visible.

Retries (tenacity): 408, 429 (``Retry-After`` honoured up to ``backoff_max_s``), 5xx,
timeouts, transport errors and truncated/undecodable bodies are retried with exponential
backoff plus jitter, ``max_retries`` times per request; 401/403 raise ``WmsAuthError`` and
other 4xx ``WmsRequestError`` at once; a list answering 404 is a list with no rows.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import orjson
import pyarrow.compute as pc
import tenacity

from gruponos.entities import EntitySpec
from gruponos.errors import SettingsError, WmsAuthError, WmsRequestError, WmsUnavailable
from gruponos.settings import WmsSettings
from gruponos.wms.decode import Page, PageDecodeError, decode_page

__all__ = ["IdRange", "Scan", "ScanStats", "Window", "WmsClient", "format_ts"]

log = logging.getLogger(__name__)

T = TypeVar("T")
_Params = dict[str, str]
_RETRY_STATUSES = frozenset({408, 429})
_NO_ROWS_STATUSES = frozenset({204, 404})


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
        bounds = [b for b in (self.start, self.end) if b is not None]
        for bound in bounds:
            format_ts(bound)  # rejects naive datetimes
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"window starts after it ends: {self.start} > {self.end}")

    @classmethod
    def since(cls, watermark: datetime | None, *, until: datetime, overlap: timedelta) -> Window:
        """The window ``[watermark - overlap, until)``; no watermark reads from the start."""
        start = None if watermark is None else watermark - overlap
        return cls(start=start, end=until)

    def params(self) -> _Params:
        """The ``mod_ts__gte`` / ``mod_ts__lt`` filters, floored to whole seconds."""
        params: _Params = {}
        if self.start is not None:
            params["mod_ts__gte"] = format_ts(self.start)
        if self.end is not None:
            params["mod_ts__lt"] = format_ts(self.end)
        return params


@dataclass(frozen=True, slots=True)
class Scan:
    """What one scan reads: an optional window and id bounds, always ordered by ``id``.

    ``id_gte``/``id_lt`` bound a partition; ``after_id`` resumes a scan after the last id
    that was committed (``id__gt``).
    """

    window: Window | None = None
    id_gte: int | None = None
    id_lt: int | None = None
    after_id: int | None = None

    def params(self, *, after_id: int | None, page_size: int, page_mode: str) -> _Params:
        """Query parameters for the first page of this scan continued after ``after_id``."""
        params: _Params = {"ordering": "id", "page_size": str(page_size), "page_mode": page_mode}
        if self.window is not None:
            params.update(self.window.params())
        lower = self.after_id if after_id is None else after_id
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


class _Transient(Exception):
    """A failure that a retry may heal, carrying the error to raise when retries run out."""

    def __init__(self, error: WmsUnavailable, *, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class _BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request; the token never leaves the header."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "_BearerAuth(token=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class _Throttle:
    """Spaces requests at least ``1 / rate`` seconds apart across all threads."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 0.0 if rate is None else 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this thread may send its next request."""
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


@dataclass(slots=True)
class _Cursor:
    """Where a scan stands: the next request, its page size and the last id received."""

    scan: Scan
    page_mode: str
    page_size: int
    last_id: int | None
    url: str = ""
    params: _Params | None = None
    fresh: bool = True  # the next request starts a query (not a followed next_page)
    rows_since_restart: int = 0

    def restart(self, path: str) -> None:
        """Start a new query after the last id received, with the current page size."""
        self.url = path
        self.params = self.scan.params(after_id=self.last_id, page_size=self.page_size, page_mode=self.page_mode)
        self.fresh = True
        self.rows_since_restart = 0

    def follow(self, next_page: str) -> None:
        """Continue with the API's own ``next_page`` link, untouched."""
        self.url = next_page
        self.params = None
        self.fresh = False


class WmsClient:
    """A client of one WMS tenant's entity API (``lgfapi`` v10).

    Example::

        with WmsClient(settings.wms) as wms:
            for page in wms.pages(entity("allocation"), Scan(window=window)):
                ...
    """

    def __init__(self, settings: WmsSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        if settings.base_url is None:
            raise SettingsError("GRUPONOS_WMS__BASE_URL must be set")
        self._settings = settings
        self._base_url = _redact(httpx.URL(settings.base_url))
        self._throttle = _Throttle(settings.max_requests_per_s)
        self._server_date: datetime | None = None
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=settings.backoff_base_s,
            max=settings.backoff_max_s,
            jitter=settings.backoff_base_s,
        )
        self._http = httpx.Client(
            base_url=self._base_url,  # credentials travel only in the Authorization header
            auth=_auth(settings),
            timeout=httpx.Timeout(settings.timeout_s),
            limits=httpx.Limits(
                max_connections=settings.max_concurrency,
                max_keepalive_connections=settings.max_concurrency,
            ),
            headers={"Accept": "application/json"},
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"WmsClient(base_url={self._base_url!r}, auth={self._settings.auth!r})"

    def __enter__(self) -> WmsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def settings(self) -> WmsSettings:
        """The settings this client was built with."""
        return self._settings

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def ping(self) -> datetime:
        """Check that the API answers and accepts the credentials (``GET entity/``).

        Returns the WMS's own clock (its ``Date`` header; ours if it sends none), so that
        sync windows end at the tenant's "now", whatever the skew of this machine's clock.
        Unlike a list, a 404 here is an error: the base URL is wrong.
        """
        found = self._call(None, lambda: ("entity/", None), lambda body: True, None)
        if found is None:
            raise WmsRequestError("the entity API is not at this base URL", url=f"{self._base_url}entity/", status=404)
        return self._server_date or datetime.now(UTC)

    def pages(self, spec: EntitySpec, scan: Scan | None = None, *, stats: ScanStats | None = None) -> Iterator[Page]:
        """Every page of ``spec`` matching ``scan``, ordered by id, each decoded once.

        ``stats`` (filled as the pages are consumed) carries the reconciliation figures.
        """
        scan = scan or Scan()
        stats = stats if stats is not None else ScanStats(spec.name)
        mode = self._settings.page_mode
        path = _entity_path(spec)
        cursor = _Cursor(scan, mode, self._settings.page_size, scan.after_id)
        cursor.restart(path)
        stats.page_size = cursor.page_size
        initial = True  # no response received yet for this scan

        def halve() -> None:
            if cursor.page_size <= self._settings.min_page_size:
                return
            cursor.page_size = max(self._settings.min_page_size, cursor.page_size // 2)
            cursor.restart(path)
            stats.halvings += 1
            stats.page_size = cursor.page_size
            log.warning(
                "%s: read timeout, continuing after id %s with page_size=%d",
                spec.name,
                cursor.last_id,
                cursor.page_size,
            )

        while True:
            try:
                page = self._call(
                    spec.name,
                    lambda: (cursor.url, cursor.params),
                    lambda body: _decode(spec, body),
                    stats,
                    on_read_timeout=halve,
                )
            except WmsUnavailable:
                if mode != "paged" or cursor.fresh:
                    raise
                log.warning(
                    "%s: a paged link kept failing; checking for rows after id %s",
                    spec.name,
                    cursor.last_id,
                )
                page = None
            if page is not None:
                if initial and mode == "paged":
                    stats.result_count = page.result_count
                initial = False
                # In paged mode a short page is the last one: a link past it is a phantom.
                short = mode == "paged" and page.batch.num_rows < cursor.page_size
                page = self._account(page, cursor, stats)
                if page.batch.num_rows:
                    yield page
                if page.next_page is not None and not short:
                    cursor.follow(page.next_page)
                    continue
            elif initial and mode == "paged":
                stats.result_count = 0
            initial = False
            # The links ran out (null next_page, 404, or a link that kept failing). Offsets
            # shift while rows change, so a paged scan checks past the highest id it saw;
            # each check either finds new rows (progress) or ends the scan.
            if mode != "paged" or cursor.rows_since_restart == 0:
                return
            stats.verifications += 1
            cursor.restart(path)

    def id_range(self, spec: EntitySpec, scan: Scan | None = None) -> IdRange | None:
        """The lowest and highest id matching ``scan`` (two one-row probes); None if no rows."""
        scan = scan or Scan()
        base = scan.params(after_id=None, page_size=1, page_mode="paged")
        base["fields"] = "id"
        low = self._probe(spec, {**base, "ordering": "id"})
        if low is None:
            return None
        high = self._probe(spec, {**base, "ordering": "-id"})
        if high is None:
            return None
        return IdRange(lo=low[0], hi=max(high[0], low[0]), count=low[1])

    def _probe(self, spec: EntitySpec, params: _Params) -> tuple[int, int | None] | None:
        """The first id of a one-row page and the API's result_count, or None if no rows."""
        path = _entity_path(spec)
        return self._call(spec.name, lambda: (path, params), _first_id, None)

    def _account(self, page: Page, cursor: _Cursor, stats: ScanStats) -> Page:
        """Drop rows at or below the last id received, then count the page into ``stats``."""
        batch = page.batch
        if batch.num_rows:
            ids = batch.column("id")
            if cursor.last_id is not None and pc.min(ids).as_py() <= cursor.last_id:
                batch = batch.filter(pc.greater(ids, cursor.last_id))
                stats.duplicates += page.batch.num_rows - batch.num_rows
                page = replace(page, batch=batch)
            top = pc.max(batch.column("id")).as_py()
            if top is not None and (cursor.last_id is None or top > cursor.last_id):
                cursor.last_id = top
        stats.pages += 1
        stats.rows += batch.num_rows
        stats.last_id = cursor.last_id
        cursor.rows_since_restart += batch.num_rows
        stats.unknown_fields |= page.unknown_fields
        for name, count in page.invalid_values.items():
            stats.invalid_values[name] = stats.invalid_values.get(name, 0) + count
        return page

    def _call(
        self,
        entity: str | None,
        target: Callable[[], tuple[str, Mapping[str, str] | None]],
        parse: Callable[[bytes], T],
        stats: ScanStats | None,
        *,
        on_read_timeout: Callable[[], None] | None = None,
    ) -> T | None:
        """GET ``target()`` and ``parse`` the body, retrying what can heal; None means no rows.

        ``target`` is re-read before every attempt, so ``on_read_timeout`` may change it.
        """

        def attempt() -> T | None:
            url, params = target()
            self._throttle.wait()
            try:
                response = self._http.get(url, params=params)
            except httpx.ReadTimeout as exc:
                error = self._unavailable(entity, exc.request, f"no answer within {self._settings.timeout_s}s")
                if on_read_timeout is not None:
                    on_read_timeout()
                raise _Transient(error) from exc
            except (httpx.TransportError, httpx.DecodingError) as exc:
                error = self._unavailable(entity, exc.request, f"{type(exc).__name__}: {exc}")
                raise _Transient(error) from exc
            try:
                return self._answer(entity, response, parse)
            finally:
                _release(response)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            if stats is not None:
                stats.retries += 1
            exc = state.outcome.exception() if state.outcome is not None else None
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            log.warning("retry %d in %.2fs: %s", state.attempt_number, wait, exc)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._settings.max_retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Transient as exc:
            raise exc.error from exc.__cause__

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Seconds before the next attempt: ``Retry-After`` if sent, else backoff with jitter."""
        limit = self._settings.backoff_max_s
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, limit)
        return float(self._backoff(state))

    def _answer(self, entity: str | None, response: httpx.Response, parse: Callable[[bytes], T]) -> T | None:
        """Map one response to a value, None (no rows) or the right error."""
        status = response.status_code
        if status == 200:
            if date := response.headers.get("date"):
                with contextlib.suppress(TypeError, ValueError):
                    self._server_date = email.utils.parsedate_to_datetime(date).astimezone(UTC)
            try:
                return parse(response.content)
            except PageDecodeError as exc:
                raise _Transient(self._unavailable(entity, response.request, str(exc), status)) from exc
        if status in _NO_ROWS_STATUSES:
            return None
        code, message, reference = _envelope(response.content)
        text = f"HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
        url = _redact(response.request.url)
        if status in (401, 403):
            raise WmsAuthError(text, entity=entity, url=url, status=status, reference=reference)
        if status in _RETRY_STATUSES or status >= 500:
            error = WmsUnavailable(text, entity=entity, url=url, status=status, reference=reference, retryable=True)
            raise _Transient(error, retry_after=_retry_after(response))
        raise WmsRequestError(text, entity=entity, url=url, status=status, reference=reference)

    def _unavailable(
        self, entity: str | None, request: httpx.Request, message: str, status: int | None = None
    ) -> WmsUnavailable:
        """A retryable error for a request that got no usable answer."""
        return WmsUnavailable(message, entity=entity, url=_redact(request.url), status=status, retryable=True)


# Decoding is CPU work: as many at once as there are cores, however many requests are in
# flight (each parse holds several times its page in transient buffers).
_DECODE_SLOTS = threading.BoundedSemaphore(os.cpu_count() or 2)


def _decode(spec: EntitySpec, body: bytes) -> Page:
    """Decode one page, holding one of the process's decode slots."""
    with _DECODE_SLOTS:
        return decode_page(spec, body)


def _release(response: httpx.Response) -> None:
    """Let the body go as soon as its page lets go of it.

    httpx leaves a read response in a reference cycle (the response and its bound stream), so
    its body waited for the cyclic garbage collector: with little Python garbage per page, tens
    of 1.3 MB bodies piled up (~+150 MB peak RSS with 8 threads). Dropping the stream breaks it.
    """
    response.stream = httpx.ByteStream(b"")


def _auth(settings: WmsSettings) -> httpx.Auth:
    """Basic or Bearer authentication from the settings (SettingsError if incomplete)."""
    if settings.auth == "bearer":
        if settings.token is None:
            raise SettingsError("GRUPONOS_WMS__TOKEN must be set for bearer authentication")
        return _BearerAuth(settings.token.get_secret_value())
    if settings.username is None or settings.password is None:
        raise SettingsError("GRUPONOS_WMS__USERNAME and GRUPONOS_WMS__PASSWORD must be set for basic authentication")
    return httpx.BasicAuth(settings.username, settings.password.get_secret_value())


def _entity_path(spec: EntitySpec) -> str:
    """The list address of an entity, relative to the base URL."""
    return f"entity/{spec.name}/"


def _redact(url: httpx.URL) -> str:
    """The URL without user information (``user:password@``)."""
    return str(url.copy_with(userinfo=b"")) if url.userinfo else str(url)


def _envelope(body: bytes) -> tuple[str | None, str | None, str | None]:
    """``(code, message, reference)`` from a WMS error body, when it is one."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, None
    if not isinstance(parsed, dict):
        return None, None, None

    def text(key: str) -> str | None:
        value = parsed.get(key)
        return None if value is None else str(value)[:500]

    return text("code"), text("message"), text("reference")


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, float((when - datetime.now(UTC)).total_seconds()))


def _first_id(body: bytes) -> tuple[int, int | None] | None:
    """``(id of the first record, result_count)`` of a probe page; PageDecodeError if malformed."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PageDecodeError(f"undecodable JSON ({len(body)} bytes): {exc}") from None
    results = parsed.get("results") if isinstance(parsed, dict) else None
    if not isinstance(results, list):
        raise PageDecodeError("not a WMS list page: no 'results' list")
    if not results:
        return None
    first = results[0]
    if not isinstance(first, dict) or not isinstance(first.get("id"), int):
        raise PageDecodeError("a probe record has no integer 'id'")
    count = parsed.get("result_count")
    return first["id"], count if isinstance(count, int) else None
