"""The client's paging, retry and error logic against an in-memory WMS behind MockTransport."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from gruponos.errors import WmsAuthError, WmsRequestError, WmsUnavailable
from gruponos.settings import WmsSettings
from gruponos.wms import Extraction, Scan, ScanStats, Window, WmsClient, split
from tests.specs import spec as entity

ALLOCATION = entity("allocation")
PASSWORD = "s3cret-Passw0rd"
BASE = "http://wms.test/prod/wms/lgfapi/v10/"
T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)

Fault = Callable[[httpx.Request, int], httpx.Response | None]
Row = dict[str, Any]
FILTERS: dict[str, Callable[[Row, str], bool]] = {
    "id__gt": lambda r, v: r["id"] > int(v),
    "id__gte": lambda r, v: r["id"] >= int(v),
    "id__lt": lambda r, v: r["id"] < int(v),
    "mod_ts__gte": lambda r, v: r["mod_ts"] >= dt.datetime.fromisoformat(v).isoformat(),
    "mod_ts__lt": lambda r, v: r["mod_ts"] < dt.datetime.fromisoformat(v).isoformat(),
}


class FakeWms:
    """Serves ``entity/allocation/`` from memory, like lgfapi: filters, ordering, both modes."""

    def __init__(self, ids: Iterable[int], *, fault: Fault | None = None, refuse_ordering: bool = False) -> None:
        self.rows = {i: self.record(i) for i in ids}
        self.fault = fault
        self.refuse_ordering = refuse_ordering
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    @staticmethod
    def record(i: int) -> dict[str, Any]:
        """A sparse allocation record (absent catalog fields decode as nulls)."""
        return {
            "id": i,
            "url": f"{BASE}entity/allocation/{i}/",
            "alloc_qty": f"{i % 97}.5000",
            "order_dtl_id": {"id": i // 3, "key": f"D{i // 3}", "url": "u"},
            "status_id": 30,
            "mod_ts": (T0 + dt.timedelta(seconds=i)).isoformat(),
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            number = len(self.requests)
        if self.fault is not None:
            faulted = self.fault(request, number)
            if faulted is not None:
                return faulted
        with self.lock:
            return self.serve(request)

    def params(self, index: int) -> httpx.QueryParams:
        """The query parameters of the index-th request."""
        return self.requests[index].url.params

    def serve(self, request: httpx.Request) -> httpx.Response:
        """One list page: filter, order, then page by cursor (sequenced) or offset (paged)."""
        q = request.url.params
        if request.url.path.rstrip("/").endswith("/entity"):
            return httpx.Response(200, json={"allocation": f"{BASE}entity/allocation/"})
        if self.refuse_ordering and "ordering" in q:
            return error(400, "VALIDATION_ERROR", "ordering is not allowed for this entity")
        rows = sorted(self.rows.values(), key=lambda r: r["id"], reverse=q.get("ordering") == "-id")
        if "ordering" not in q:  # no order promised: a stable but meaningless one
            rows.sort(key=lambda r: (r["id"] * 7919) % 1009)
        for key, keep in FILTERS.items():
            if key in q:
                rows = [r for r in rows if keep(r, q[key])]
        if not rows:
            return error(404, "NOT_FOUND", "no records match")
        if "fields" in q:
            rows = [{f: r[f] for f in q["fields"].split(",")} for r in rows]
        size = int(q.get("page_size", "100"))
        if q.get("page_mode") == "paged":
            number = int(q.get("page", "1"))
            count = math.ceil(len(rows) / size)
            chunk = rows[(number - 1) * size : number * size]
            nxt = str(request.url.copy_set_param("page", number + 1)) if number < count else None
            body = {
                "result_count": len(rows),
                "page_count": count,
                "page_nbr": number,
                "next_page": nxt,
                "previous_page": None,
                "results": chunk,
            }
            return httpx.Response(200, content=orjson.dumps(body))
        after = int(base64.b64decode(q["cursor"]).decode()) if "cursor" in q else None
        rows = [r for r in rows if after is None or r["id"] > after]
        chunk = rows[:size]
        nxt = None
        if len(rows) > size:
            cursor = base64.b64encode(str(chunk[-1]["id"]).encode()).decode()
            nxt = str(request.url.copy_set_param("cursor", cursor))
        body = {"next_page": nxt, "previous_page": None, "results": chunk}
        return httpx.Response(200, content=orjson.dumps(body))


def error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    """A WMS error envelope."""
    envelope = {"reference": f"ref-{status}", "code": code, "message": message, "details": {}}
    return httpx.Response(status, json=envelope, headers=headers)


def settings(**overrides: Any) -> WmsSettings:
    """Fast test settings: tiny backoff, small pages."""
    values: dict[str, Any] = {
        "base_url": BASE,
        "username": "reader",
        "password": SecretStr(PASSWORD),
        "page_size": 10,
        "min_page_size": 2,
        "max_retries": 3,
        "backoff_base_s": 0.001,
        "backoff_max_s": 0.01,
        "timeout_s": 5,
        "max_concurrency": 1,
    }
    values.update(overrides)
    return WmsSettings(**values)


def scan_ids(wms: FakeWms, scan: Scan | None = None, stats: ScanStats | None = None, **overrides: Any) -> list[int]:
    """Every id one client scan yields, in order."""
    with WmsClient(settings(**overrides), transport=httpx.MockTransport(wms)) as client:
        pages = client.pages(ALLOCATION, scan, stats=stats)
        return [i for page in pages for i in page.batch.column("id").to_pylist()]


# --- paging -------------------------------------------------------------------------------


def test_sequenced_scan_follows_next_page_exactly_as_given() -> None:
    wms = FakeWms(range(1, 26))
    assert scan_ids(wms) == list(range(1, 26))
    first = wms.params(0)
    assert (first["ordering"], first["page_mode"], first["page_size"]) == ("id", "sequenced", "10")
    for request in wms.requests[1:]:
        assert "cursor" in request.url.params
    assert len(wms.requests) == 3


def test_next_page_link_on_the_same_origin_is_followed_exactly_as_given() -> None:
    opaque = f"{BASE}entity/allocation/?cursor=cD0xNDAw&x=%2B1"

    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        body: dict[str, Any]
        if number == 1:
            body = {"next_page": opaque, "results": [FakeWms.record(1)]}
            return httpx.Response(200, content=orjson.dumps(body))
        body = {"next_page": None, "results": [FakeWms.record(2)]}
        return httpx.Response(200, content=orjson.dumps(body))

    wms = FakeWms([], fault=fault)
    assert scan_ids(wms) == [1, 2]
    assert str(wms.requests[1].url) == opaque


@pytest.mark.parametrize(
    "link",
    [
        "http://attacker.test/prod/wms/lgfapi/v10/entity/allocation/?cursor=x",
        "https://wms.test/prod/wms/lgfapi/v10/entity/allocation/?cursor=x",  # another scheme
        "http://wms.test:8443/prod/wms/lgfapi/v10/entity/allocation/?cursor=x",  # another port
    ],
)
def test_a_next_page_link_to_another_origin_is_refused_and_never_requested(link: str) -> None:
    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        body = {"next_page": link, "results": [FakeWms.record(1)]}
        return httpx.Response(200, content=orjson.dumps(body))

    wms = FakeWms([], fault=fault)
    with pytest.raises(WmsRequestError) as caught:
        scan_ids(wms)
    assert not caught.value.retryable
    assert "another origin" in str(caught.value) and link.split("?")[0] in str(caught.value)
    assert [str(r.url.host) for r in wms.requests] == ["wms.test"]


def test_paged_scan_reports_result_count_beside_rows() -> None:
    wms = FakeWms(range(1, 24))
    stats = ScanStats("allocation")
    assert scan_ids(wms, stats=stats, page_mode="paged") == list(range(1, 24))
    assert (stats.result_count, stats.rows, stats.pages) == (23, 23, 3)
    # every page is the first page of the rows after the last id received (keyset, not offsets)
    assert [r.url.params.get("id__gt") for r in wms.requests] == [None, "10", "20"]
    assert not [r for r in wms.requests if "page" in r.url.params]


def test_sequenced_scan_has_no_result_count() -> None:
    stats = ScanStats("allocation")
    scan_ids(FakeWms(range(1, 5)), stats=stats)
    assert stats.result_count is None
    assert stats.rows == 4


def test_list_answering_404_is_no_rows_not_an_error() -> None:
    stats = ScanStats("allocation")
    assert scan_ids(FakeWms([]), stats=stats, page_mode="paged") == []
    assert (stats.rows, stats.result_count, stats.retries) == (0, 0, 0)


def test_window_and_resume_become_whole_second_utc_filters_ordered_by_id() -> None:
    watermark = dt.datetime(2026, 11, 1, 10, 30, 15, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    window = Window.since(watermark, until=T0 + dt.timedelta(seconds=20.7), overlap=dt.timedelta(minutes=30))
    wms = FakeWms(range(1, 40))
    ids = scan_ids(wms, Scan(window=window, resume_after=3))
    q = wms.params(0)
    assert q["mod_ts__gte"] == "2026-11-01T08:00:15+00:00"  # floored, never rounded up
    assert q["mod_ts__lt"] == "2026-11-01T08:00:20+00:00"
    assert (q["id__gt"], q["ordering"]) == ("3", "id")
    assert ids == list(range(15, 20))


def test_naive_datetimes_are_refused_in_windows() -> None:
    with pytest.raises(ValueError, match="naive"):
        Window(start=dt.datetime(2026, 1, 1))


# --- retries ------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds() -> None:
    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        return error(429, "THROTTLED", "slow down", **{"Retry-After": "0.3"}) if number == 1 else None

    stats = ScanStats("allocation")
    started = time.monotonic()
    ids = scan_ids(FakeWms(range(1, 4), fault=fault), stats=stats, backoff_max_s=5)
    assert ids == [1, 2, 3]
    assert time.monotonic() - started >= 0.3
    assert stats.retries == 1


def test_5xx_burst_is_retried_then_succeeds() -> None:
    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        return error(503 if number % 2 else 500, "DOWN", "busy") if number <= 3 else None

    stats = ScanStats("allocation")
    assert scan_ids(FakeWms(range(1, 15), fault=fault), stats=stats) == list(range(1, 15))
    assert stats.retries == 3


def test_truncated_body_is_retried() -> None:
    wms = FakeWms(range(1, 15))

    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        if number != 2:
            return None
        with wms.lock:
            whole = wms.serve(request)
        return httpx.Response(200, content=whole.content[: len(whole.content) // 2])

    wms.fault = fault
    stats = ScanStats("allocation")
    assert scan_ids(wms, stats=stats) == list(range(1, 15))
    assert stats.retries == 1
    assert str(wms.requests[2].url) == str(wms.requests[1].url)


def test_transport_errors_are_retried() -> None:
    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        if number == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return None

    assert scan_ids(FakeWms(range(1, 4), fault=fault)) == [1, 2, 3]


def test_retries_exhausted_raise_unavailable_with_status_reference_and_entity() -> None:
    wms = FakeWms(range(1, 4), fault=lambda request, number: error(503, "DOWN", "maintenance"))
    with pytest.raises(WmsUnavailable) as caught:
        scan_ids(wms, max_retries=2)
    assert len(wms.requests) == 3
    err = caught.value
    assert (err.entity, err.status, err.reference, err.retryable) == ("allocation", 503, "ref-503", True)
    assert err.url is not None
    assert err.url.startswith(f"{BASE}entity/allocation/")


def test_401_raises_auth_error_at_once_naming_entity_and_url_without_password() -> None:
    wms = FakeWms(range(1, 4), fault=lambda request, number: error(401, "AUTH", "bad credentials"))
    base = f"http://reader:{PASSWORD}@wms.test/prod/wms/lgfapi/v10/"
    with pytest.raises(WmsAuthError) as caught:
        scan_ids(wms, base_url=base)
    err = caught.value
    assert len(wms.requests) == 1
    assert wms.requests[0].url.userinfo == b""  # so httpx's own request log cannot show it
    assert err.entity == "allocation"
    assert (err.status, err.reference) == (401, "ref-401")
    assert err.url is not None
    assert err.url.startswith("http://wms.test/prod/wms/lgfapi/v10/entity/allocation/")
    for text in (str(err), repr(err), err.url):
        assert PASSWORD not in text
        assert "reader:" not in text


def test_403_is_an_auth_error_too() -> None:
    wms = FakeWms([1], fault=lambda request, number: error(403, "FORBIDDEN", "no lgfapi_read_access"))
    with pytest.raises(WmsAuthError, match="no lgfapi_read_access"):
        scan_ids(wms)
    assert len(wms.requests) == 1


def test_other_4xx_raise_request_error_without_retrying() -> None:
    wms = FakeWms([1], fault=lambda request, number: error(400, "VALIDATION_ERROR", "bad ordering"))
    with pytest.raises(WmsRequestError) as caught:
        scan_ids(wms)
    assert (caught.value.status, caught.value.reference) == (400, "ref-400")
    assert "VALIDATION_ERROR" in str(caught.value)
    # one more request, without ``ordering``, tells whether the entity refuses ordering; no retries
    assert len(wms.requests) == 2 and "ordering" not in wms.params(1)


def test_credentials_never_appear_in_client_repr() -> None:
    client = WmsClient(settings(), transport=httpx.MockTransport(FakeWms([])))
    bearer = WmsClient(settings(auth="bearer", token=SecretStr("tok-123")), transport=httpx.MockTransport(FakeWms([])))
    assert PASSWORD not in repr(client)
    assert "tok-123" not in repr(bearer)
    client.close()
    bearer.close()


def test_basic_and_bearer_authentication_headers() -> None:
    basic, bearer = FakeWms([1]), FakeWms([1])
    scan_ids(basic)
    scan_ids(bearer, auth="bearer", token=SecretStr("tok-123"))
    expected = "Basic " + base64.b64encode(f"reader:{PASSWORD}".encode()).decode()
    assert basic.requests[0].headers["Authorization"] == expected
    assert bearer.requests[0].headers["Authorization"] == "Bearer tok-123"


def test_ping_treats_404_as_a_wrong_base_url() -> None:
    with WmsClient(settings(), transport=httpx.MockTransport(FakeWms([]))) as client:
        client.ping()
    missing = FakeWms([], fault=lambda request, number: error(404, "NOT_FOUND", "no such path"))
    with (
        WmsClient(settings(), transport=httpx.MockTransport(missing)) as client,
        pytest.raises(WmsRequestError),
    ):
        client.ping()


# --- timeouts, shrinking and phantom pages ------------------------------------------------


def test_read_timeouts_halve_page_size_and_continue_after_the_last_id() -> None:
    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        if number > 1 and int(request.url.params.get("page_size", "0")) > 3:
            raise httpx.ReadTimeout("too slow", request=request)
        return None

    wms = FakeWms(range(1, 31), fault=fault)
    stats = ScanStats("allocation")
    assert scan_ids(wms, stats=stats, page_size=12, max_retries=4) == list(range(1, 31))
    assert (stats.halvings, stats.page_size) == (2, 3)
    continued = wms.params(3)
    assert (continued["page_size"], continued["id__gt"], "cursor" in continued) == ("3", "12", False)


def test_timeouts_at_the_page_size_floor_exhaust_retries_as_unavailable() -> None:
    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        raise httpx.ReadTimeout("too slow", request=request)

    wms = FakeWms(range(1, 5), fault=fault)
    with pytest.raises(WmsUnavailable, match="no answer within"):
        scan_ids(wms, page_size=4, min_page_size=2, max_retries=3)
    assert [r.url.params["page_size"] for r in wms.requests] == ["4", "2", "2", "2"]


def phantom_page_3(wms: FakeWms) -> Fault:
    """A fault: page 2 announces a page 3, which answers 500 forever."""

    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        q = request.url.params
        if q.get("page") == "2" and "id__gt" not in q:
            with wms.lock:
                body = orjson.loads(wms.serve(request).content)
            body.update(page_count=3, next_page=str(request.url.copy_set_param("page", 3)))
            return httpx.Response(200, content=orjson.dumps(body))
        if q.get("page") == "3":
            return error(500, "INTERNAL", "phantom page")
        return None

    return fault


def test_paged_phantom_last_page_is_never_requested() -> None:
    wms = FakeWms(range(1, 21))

    wms.fault = phantom_page_3(wms)
    stats = ScanStats("allocation")
    assert scan_ids(wms, stats=stats, page_mode="paged") == list(range(1, 21))
    assert stats.result_count == 20 and stats.retries == 0
    assert not [r for r in wms.requests if "page" in r.url.params]


def test_paged_page_count_shrinking_mid_scan_does_not_lose_rows() -> None:
    wms = FakeWms(range(1, 36))

    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        if number > 1:  # the tenant now claims the scan has one page left
            with wms.lock:
                body = orjson.loads(wms.serve(request).content)
            body.update(page_count=1, next_page=None)
            return httpx.Response(200, content=orjson.dumps(body))
        return None

    wms.fault = fault
    stats = ScanStats("allocation")
    assert scan_ids(wms, stats=stats, page_mode="paged") == list(range(1, 36))
    assert (stats.result_count, stats.rows) == (35, 35)


@pytest.mark.parametrize("page_mode", ["paged", "sequenced"])
def test_rows_inserted_or_deleted_behind_the_scan_shift_nothing(page_mode: str) -> None:
    wms = FakeWms(range(10, 40))

    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        if number == 2:  # rows appear below the scan's position, rows it read vanish
            with wms.lock:
                wms.rows.update({i: FakeWms.record(i) for i in (1, 2, 3)})
                for gone in (10, 11, 12, 13):
                    wms.rows.pop(gone)
        return None

    wms.fault = fault
    stats = ScanStats("allocation")
    ids = scan_ids(wms, stats=stats, page_mode=page_mode)
    assert ids == list(range(10, 40))  # every row present when the scan started, each once
    assert stats.duplicates == 0


def test_an_entity_that_refuses_ordering_is_read_by_id_ranges_completely() -> None:
    ids = [*range(1, 60), *range(5_000, 5_023), 91_234]
    wms = FakeWms(ids, refuse_ordering=True)
    stats = ScanStats("allocation")
    got = scan_ids(wms, stats=stats, page_mode="sequenced")
    assert got == sorted(ids)  # in id order, each once, although the WMS sends pages unordered
    assert stats.unordered and stats.result_count == len(ids)
    served = [r for r in wms.requests if "ordering" not in r.url.params and r.url.params.get("fields") != "id"]
    assert all(r.url.params.get("page", "1") == "1" for r in served)  # never an offset page


def test_a_range_that_grew_since_it_was_counted_is_split_and_read_again() -> None:
    wms = FakeWms(range(1, 15), refuse_ordering=True)
    grown = [False]

    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        q = request.url.params
        if not grown[0] and q.get("fields") != "id" and "id__gte" in q:
            grown[0] = True
            with wms.lock:  # rows inserted between the count and the read
                wms.rows.update({i: FakeWms.record(i) for i in range(15, 25)})
        return None

    wms.fault = fault
    got = scan_ids(wms, page_size=10)
    assert set(range(1, 15)) <= set(got) and got == sorted(set(got))


# --- partitioned extraction ---------------------------------------------------------------


def test_split_covers_every_integer_once() -> None:
    parts = split(100, 1_099, 7)
    assert parts[0].id_gte is None
    assert parts[-1].id_lt is None
    for left, right in itertools.pairwise(parts):
        assert left.id_lt == right.id_gte
    assert len(parts) == 7
    assert len(split(5, 6, 10)) == 2


def test_partitioned_extraction_has_no_duplicates_and_no_gaps() -> None:
    ids = sorted({(i * 7919) % 5_000 + 1 for i in range(1_200)})  # sparse, uneven ids
    wms = FakeWms(ids)
    inserted = [6_001, 6_002, 6_003]
    calls = {"n": 0}

    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        calls["n"] = number
        if number == 6:  # rows inserted while the scan runs land in the open last partition
            with wms.lock:
                wms.rows.update({i: FakeWms.record(i) for i in inserted})
        return None

    wms.fault = fault
    overrides = {"max_concurrency": 4, "partition_min_rows": 100, "page_size": 25}
    with WmsClient(settings(**overrides), transport=httpx.MockTransport(wms)) as client:
        run = Extraction(ALLOCATION, client)
        got = [i for batch in run for i in batch.column("id").to_pylist()]
    assert len(run.partitions) > 4
    assert len(got) == len(set(got))
    assert sorted(got) == ids + inserted
    assert run.stats.rows == len(got)
    assert run.resume_after == max(inserted)
    probes = [r for r in wms.requests if r.url.params.get("fields") == "id"]
    assert {p.url.params["ordering"] for p in probes} == {"id", "-id"}


def test_partitioned_extraction_in_paged_mode_sums_result_counts() -> None:
    wms = FakeWms(range(1, 501))
    overrides = {"max_concurrency": 3, "partition_min_rows": 50, "page_size": 20, "page_mode": "paged"}
    with WmsClient(settings(**overrides), transport=httpx.MockTransport(wms)) as client:
        run = Extraction(ALLOCATION, client, window=Window(end=T0 + dt.timedelta(seconds=401)))
        got = sorted(i for batch in run for i in batch.column("id").to_pylist())
    assert got == list(range(1, 401))
    assert run.stats.result_count == 400


def test_small_scan_is_read_serially() -> None:
    wms = FakeWms(range(1, 30))
    overrides = {"max_concurrency": 4, "partition_min_rows": 1_000}
    with WmsClient(settings(**overrides), transport=httpx.MockTransport(wms)) as client:
        run = Extraction(ALLOCATION, client)
        assert sum(b.num_rows for b in run) == 29
    assert run.partitions == ()
    assert run.resume_after == 29


def test_one_worker_skips_the_id_probes() -> None:
    wms = FakeWms(range(1, 30))
    with WmsClient(settings(max_concurrency=1), transport=httpx.MockTransport(wms)) as client:
        assert sum(b.num_rows for b in Extraction(ALLOCATION, client)) == 29
    assert not [r for r in wms.requests if "fields" in r.url.params]


def test_a_failing_partition_fails_the_extraction() -> None:
    def fault(request: httpx.Request, number: int) -> httpx.Response | None:
        q = request.url.params
        if "fields" not in q and q.get("id__gte") and int(q["id__gte"]) > 300:
            return error(400, "VALIDATION_ERROR", "bad filter")
        return None

    wms = FakeWms(range(1, 1_001), fault=fault)
    overrides = {"max_concurrency": 4, "partition_min_rows": 100, "page_size": 50}
    with (
        WmsClient(settings(**overrides), transport=httpx.MockTransport(wms)) as client,
        pytest.raises(WmsRequestError, match="bad filter"),
    ):
        for _ in Extraction(ALLOCATION, client):
            pass


def test_request_rate_limit_spaces_requests() -> None:
    wms = FakeWms(range(1, 51))
    started = time.monotonic()
    scan_ids(wms, page_size=5, max_requests_per_s=50)
    assert len(wms.requests) == 10
    assert time.monotonic() - started >= 9 / 50


def test_paged_link_past_a_short_page_is_not_followed_but_verified() -> None:
    wms = FakeWms(range(1, 16))

    wms.fault = phantom_page_3(wms)  # page 2 has 5 rows, yet links to a phantom page 3
    stats = ScanStats("allocation")
    assert scan_ids(wms, stats=stats, page_mode="paged") == list(range(1, 16))
    assert stats.retries == 0
    assert not [r for r in wms.requests if r.url.params.get("page") == "3"]


def test_partitioned_producers_stop_at_a_bounded_queue_while_the_consumer_waits() -> None:
    wms = FakeWms(range(1, 2_001))
    overrides = {"max_concurrency": 2, "partition_min_rows": 100, "page_size": 10}
    with WmsClient(settings(**overrides), transport=httpx.MockTransport(wms)) as client:
        batches = iter(Extraction(ALLOCATION, client))
        next(batches)
        time.sleep(0.3)
        fetched = len([r for r in wms.requests if "fields" not in r.url.params])
        assert fetched <= 2 * 2 + 2 + 1  # the queue, one page per worker, the one consumed
        batches.close()  # an early close stops the producers
        time.sleep(0.3)
        settled = len(wms.requests)
        time.sleep(0.3)
        assert len(wms.requests) == settled


def test_retries_stop_at_the_retry_budget_before_the_attempt_count() -> None:
    def refuse(request: httpx.Request, number: int) -> httpx.Response | None:
        raise httpx.ConnectError("connection refused", request=request)

    wms = FakeWms([1], fault=refuse)
    with pytest.raises(WmsUnavailable) as caught:
        scan_ids(wms, max_retries=50, retry_budget_s=0.3, backoff_base_s=0.05, backoff_max_s=0.1)
    assert "cannot connect" in str(caught.value) and caught.value.retryable
    assert 2 <= len(wms.requests) < 20  # the budget, not the 51 attempts, ended it
