"""The WMS entity API client: one pooled ``httpx.Client``, paging, retries and error mapping.

Paging. Every scan is ordered by ``id`` (``gruponos.wms.query``):

- **sequenced** mode (the default, a keyset cursor) follows ``next_page`` exactly as the API
  gives it;
- **paged** mode reads every page as the *first* page of ``id__gt=<last id>``: offsets shift
  when rows change or vanish mid-scan, keyset restarts cannot skip a row;
- after a read timeout the scan continues after its last id with half the page size;
- an entity that refuses ``ordering`` (400) is read by id ranges small enough to come back in
  one page each (``scan.py``), found by bisecting the id line on the API's counts.

Links are followed only on the base URL's own scheme, host and port: the credentials never
go to another origin (a link elsewhere is a non-retryable ``WmsRequestError``).

Retries (tenacity): 408, 429 (``Retry-After`` honoured up to ``backoff_max_s``), 5xx,
timeouts, transport errors and truncated/undecodable bodies are retried with exponential
backoff plus jitter, at most ``max_retries`` times and ``retry_budget_s`` seconds per request;
401/403 raise ``WmsAuthError``, a certificate the client cannot trust ``WmsTlsError``, and
other 4xx ``WmsRequestError`` at once; a list answering 404 is a list with no rows.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pyarrow.compute as pc
import tenacity

from gruponos.entities import EntitySpec
from gruponos.errors import SettingsError, WmsAuthError, WmsRequestError, WmsTlsError, WmsUnavailable
from gruponos.redact import redact
from gruponos.settings import WmsSettings
from gruponos.wms.answers import describe_body, entity_list, envelope, first_id, result_count, retry_after
from gruponos.wms.connection import Throttle, auth, certificate_problem, tls, tls_reason
from gruponos.wms.decode import Page, PageDecodeError, decode_page
from gruponos.wms.query import IdRange, Params, Scan, ScanStats

__all__ = ["WmsClient"]

log = logging.getLogger(__name__)

T = TypeVar("T")
_RETRY_STATUSES = frozenset({408, 429})
_NO_ROWS_STATUSES = frozenset({204, 404})


class _Transient(Exception):
    """A failure that a retry may heal, carrying the error to raise when retries run out."""

    def __init__(self, error: WmsUnavailable, *, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclass(slots=True)
class _Cursor:
    """Where a scan stands: the next request, its page size and the last id received."""

    scan: Scan
    page_mode: str
    page_size: int
    last_id: int | None
    url: str = ""
    params: Params | None = None
    fresh: bool = True  # the next request starts a query (not a followed next_page)

    def restart(self, path: str) -> None:
        """Start a new query after the last id received, with the current page size."""
        self.url = path
        self.params = self.scan.params(after_id=self.last_id, page_size=self.page_size, page_mode=self.page_mode)
        self.fresh = True

    def follow(self, next_page: str) -> None:
        """Continue with the API's own ``next_page`` link, untouched."""
        self.url = next_page
        self.params = None
        self.fresh = False


class WmsClient:
    """A client of one WMS tenant's entity API (``lgfapi`` v10).

    Example::

        with WmsClient(settings.wms) as wms:
            for page in wms.pages(spec, Scan(window=window)):
                ...
    """

    def __init__(self, settings: WmsSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        if settings.base_url is None:
            raise SettingsError("GRUPONOS_WMS__BASE_URL must be set")
        self._settings = settings
        base = httpx.URL(settings.base_url)
        self._base_url = str(base.copy_with(userinfo=b"")) if base.userinfo else str(base)
        self._origin = (base.scheme, base.host, base.port)
        self._throttle = Throttle(settings.max_requests_per_s)
        self._server_date: datetime | None = None
        self._unordered: set[str] = set()  # entities that refused ``ordering``
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=settings.backoff_base_s,
            max=settings.backoff_max_s,
            jitter=settings.backoff_base_s,
        )
        self._http = httpx.Client(
            base_url=self._base_url,  # credentials travel only in the Authorization header
            auth=auth(settings),
            timeout=httpx.Timeout(settings.timeout_s),
            limits=httpx.Limits(
                max_connections=settings.max_concurrency,
                max_keepalive_connections=settings.max_concurrency,
            ),
            headers={"Accept": "application/json"},
            verify=tls(settings),
            transport=transport,
            follow_redirects=False,
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

    @property
    def base_url(self) -> str:
        """The API's base URL (without user information)."""
        return self._base_url

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    # --- the tenant -------------------------------------------------------------------

    def ping(self) -> datetime:
        """Check that the API answers and accepts the credentials (``GET entity/``).

        Returns the WMS's own clock (its ``Date`` header; ours if it sends none), so that
        sync windows end at the tenant's "now", whatever the skew of this machine's clock.
        Unlike a list, a 404 here is an error: the base URL is wrong.
        """
        self.entity_names()
        return self._server_date or datetime.now(UTC)

    def entity_names(self) -> list[str]:
        """The entities the tenant serves to this user (``GET entity/``), sorted."""
        found = self._call(None, lambda: ("entity/", None), entity_list, None)
        if found is None:
            raise WmsRequestError("the entity API is not at this base URL", url=f"{self._base_url}entity/", status=404)
        return found

    def describe(self, name: str) -> dict[str, Any]:
        """An entity's metadata (``GET entity/{name}/describe/``): filterable parameters, fields."""
        found = self._call(name, lambda: (f"entity/{name}/describe/", None), describe_body, None)
        if found is None:
            raise WmsRequestError(f"no describe for entity {name!r}", entity=name, status=404)
        return found

    # --- reading ----------------------------------------------------------------------

    def pages(self, spec: EntitySpec, scan: Scan | None = None, *, stats: ScanStats | None = None) -> Iterator[Page]:
        """Every page of ``spec`` matching ``scan``, in id order, each decoded once.

        ``stats`` (filled as the pages are consumed) carries the reconciliation figures.
        """
        from gruponos.wms.scan import ranged_pages  # the scan strategy for unordered entities

        scan = scan or Scan()
        stats = stats if stats is not None else ScanStats(spec.name)
        if spec.name in self._unordered:
            stats.unordered = True
            yield from ranged_pages(self, spec, scan, stats)
            return
        try:
            yield from self._ordered_pages(spec, scan, stats)
        except _OrderingRefused:
            self._unordered.add(spec.name)
            log.warning("%s: the WMS refuses ordering by id; reading by id ranges instead", spec.name)
            stats.unordered = True
            yield from ranged_pages(self, spec, scan, stats)

    def _ordered_pages(self, spec: EntitySpec, scan: Scan, stats: ScanStats) -> Iterator[Page]:
        mode = self._settings.page_mode
        path = _entity_path(spec)
        cursor = _Cursor(scan, mode, self._settings.page_size, scan.resume_after)
        cursor.restart(path)
        stats.page_size = cursor.page_size
        first = True

        def halve() -> None:
            if cursor.page_size <= self._settings.page_floor:
                return
            cursor.page_size = max(self._settings.page_floor, cursor.page_size // 2)
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
            except WmsRequestError as exc:
                if first and exc.status == 400 and self._refuses_ordering(spec, cursor.params):
                    raise _OrderingRefused from None
                raise
            if page is None:  # 404: no (more) rows
                if first and mode == "paged":
                    stats.result_count = 0
                return
            if first and mode == "paged":
                stats.result_count = page.result_count
            first = False
            requested, before = cursor.page_size, cursor.last_id
            page = self._account(page, cursor, stats)
            if page.batch.num_rows:
                yield page
            if mode == "paged":
                # a short page was the last one; a full one: the next page starts after it
                if page.sent < requested:
                    return
                if cursor.last_id == before:
                    raise WmsRequestError(
                        f"the WMS answered a full page with no id above {before}: it ignores id__gt, so a paged "
                        "scan cannot advance; use GRUPONOS_WMS__PAGE_MODE=sequenced",
                        entity=spec.name,
                    )
                cursor.restart(path)
            elif page.next_page is not None:
                cursor.follow(self._checked_link(spec.name, page.next_page))
            else:
                return

    def _refuses_ordering(self, spec: EntitySpec, params: Mapping[str, str] | None) -> bool:
        """Whether a 400 came from ``ordering``: the same query without it is accepted."""
        if not params or "ordering" not in params:
            return False
        probe = {k: v for k, v in params.items() if k != "ordering"} | {"page_size": "1", "fields": "id"}
        try:
            self._call(spec.name, lambda: (_entity_path(spec), probe), lambda body: True, None)
        except WmsRequestError:
            return False
        return True

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

    def count(self, spec: EntitySpec, params: Params) -> int:
        """How many records match ``params`` (the API's ``result_count``; 0 when it answers 404)."""
        query = {**params, "page_size": "1", "page_mode": "paged", "fields": "id"}
        query.pop("ordering", None)
        found = self._call(spec.name, lambda: (_entity_path(spec), query), result_count, None)
        return 0 if found is None else found

    def fetch(self, spec: EntitySpec, params: Params, stats: ScanStats | None = None) -> Page | None:
        """One page of ``params`` as asked (no paging); None when nothing matches."""
        return self._call(spec.name, lambda: (_entity_path(spec), params), lambda body: _decode(spec, body), stats)

    def _probe(self, spec: EntitySpec, params: Params) -> tuple[int, int | None] | None:
        """The first id of a one-row page and the API's result_count, or None if no rows."""
        path = _entity_path(spec)
        return self._call(spec.name, lambda: (path, params), first_id, None)

    def _account(self, page: Page, cursor: _Cursor, stats: ScanStats) -> Page:
        """Drop rows at or below the last id received, then count the page into ``stats``."""
        batch = page.batch
        if batch.num_rows:
            ids = batch.column("id")
            if cursor.last_id is not None and pc.min(ids).as_py() <= cursor.last_id:
                page = page.select(pc.fill_null(pc.greater(ids, cursor.last_id), True))
                stats.duplicates += batch.num_rows - page.batch.num_rows
                batch = page.batch
            top = pc.max(batch.column("id")).as_py()
            if top is not None and (cursor.last_id is None or top > cursor.last_id):
                cursor.last_id = top
        account(page, stats)
        stats.last_id = cursor.last_id
        return page

    def _checked_link(self, entity: str, link: str) -> str:
        """``link`` if it stays on the base URL's origin; else a non-retryable error naming it."""
        try:
            url = httpx.URL(link)
        except (httpx.InvalidURL, TypeError):
            raise WmsRequestError(f"unusable next_page link {redact(link)[:300]!r}", entity=entity) from None
        if (url.scheme, url.host, url.port) != self._origin:
            raise WmsRequestError(
                f"refused to follow a next_page link to another origin ({redact(str(url.copy_with(userinfo=b'')))}); "
                f"the credentials go only to {self._origin[0]}://{self._origin[1]}"
                + (f":{self._origin[2]}" if self._origin[2] else ""),
                entity=entity,
            )
        return link

    # --- one request ------------------------------------------------------------------

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
                error = self._unavailable(entity, exc.request, f"no answer within {self._settings.timeout_s:g}s")
                if on_read_timeout is not None:
                    on_read_timeout()
                raise _Transient(error) from exc
            except httpx.ConnectError as exc:
                if certificate_problem(exc):
                    raise WmsTlsError(
                        f"the TLS certificate of {exc.request.url.host} is not trusted ({tls_reason(exc)}); "
                        "set GRUPONOS_WMS__CA_BUNDLE to the PEM file of the CA that signed it",
                        entity=entity,
                        url=redact(exc.request.url),
                    ) from None
                where = f"{exc.request.url.host}:{exc.request.url.port or exc.request.url.scheme}"
                error = self._unavailable(
                    entity, exc.request, f"cannot connect to {where} ({redact(exc)}); check GRUPONOS_WMS__BASE_URL"
                )
                raise _Transient(error) from exc
            except (httpx.TransportError, httpx.DecodingError) as exc:
                error = self._unavailable(entity, exc.request, f"{type(exc).__name__}: {redact(exc)}")
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
            stop=tenacity.stop_after_attempt(self._settings.max_retries + 1)
            | tenacity.stop_before_delay(self._settings.retry_budget_s),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        started = time.monotonic()
        try:
            return retrying(attempt)
        except _Transient as exc:
            tries = retrying.statistics.get("attempt_number", 1)
            if tries > 1:
                exc.error.message += f" (gave up after {tries} attempts in {time.monotonic() - started:.0f} s)"
                exc.error.args = (str(exc.error),)
            raise exc.error from None

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
        code, message, reference = envelope(response.content)
        text = f"HTTP {status}" + (f" {code}" if code else "") + (f": {redact(message)}" if message else "")
        url = redact(response.request.url)
        if status in (401, 403):
            hint = (
                "check GRUPONOS_WMS__TOKEN"
                if self._settings.auth == "bearer"
                else "check GRUPONOS_WMS__USERNAME and GRUPONOS_WMS__PASSWORD"
            )
            if status == 403:
                hint += " and that the user has lgfapi_read_access"
            raise WmsAuthError(f"{text} ({hint})", entity=entity, url=url, status=status, reference=reference)
        if status in _RETRY_STATUSES or status >= 500:
            error = WmsUnavailable(text, entity=entity, url=url, status=status, reference=reference, retryable=True)
            raise _Transient(error, retry_after=retry_after(response))
        if 300 <= status < 400:
            where = response.headers.get("location", "")
            text = f"HTTP {status}: the WMS redirects to {redact(where)[:300]!r}; check GRUPONOS_WMS__BASE_URL"
        raise WmsRequestError(text, entity=entity, url=url, status=status, reference=reference)

    def _unavailable(
        self, entity: str | None, request: httpx.Request, message: str, status: int | None = None
    ) -> WmsUnavailable:
        """A retryable error for a request that got no usable answer."""
        return WmsUnavailable(message, entity=entity, url=redact(request.url), status=status, retryable=True)


class _OrderingRefused(Exception):
    """The WMS answered 400 to ``ordering`` for this entity (internal signal)."""


def account(page: Page, stats: ScanStats) -> None:
    """Count one received page into ``stats`` (rows, drift, values that could not be typed)."""
    stats.pages += 1
    stats.rows += page.batch.num_rows
    stats.unknown_fields |= page.unknown_fields
    for name, count in page.invalid_values.items():
        stats.invalid_values[name] = stats.invalid_values.get(name, 0) + count


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
    of page bodies piled up (bench_extract shows the peak RSS it cost). Dropping the stream breaks it.
    """
    response.stream = httpx.ByteStream(b"")


def _entity_path(spec: EntitySpec) -> str:
    """The list address of an entity, relative to the base URL."""
    return f"entity/{spec.name}/"
