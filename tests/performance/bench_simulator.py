"""Simulator serving speed: fetch-and-discard of 1,000-record allocation pages over loopback.

    uv run python -m tests.performance.bench_simulator [--scale 200000] [--churn 200]

Reports records/s for three fetch-and-discard clients on one keep-alive connection: a raw
socket loop (what the server can serve), http.client, and httpx (what our client's transport
can take); cold (records rendered on demand) and warm (pre-rendered); then the raw socket
again on a living tenant (realtime clock, ``--churn`` changes a second) to show whether the
background writer slows the readers.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import socket
import time
from urllib.parse import urlsplit

import httpx
import orjson

from gruponos.simulator.process import spawn
from tests.performance._common import AUTH, admin, simulator


def _next(body: bytes) -> str | None:
    head = body[:1024]
    start = head.index(b'"next_page":') + len(b'"next_page":')
    if head[start : start + 4] == b"null":
        return None
    end = head.index(b'"', start + 1)
    return head[start + 1 : end].decode()


def _rows(body: bytes, url: str | None) -> int:
    """Full pages hold page_size rows; count only the last one (counting costs client time)."""
    return 1000 if url else len(orjson.loads(body)["results"])


def scan_raw(base_url: str) -> tuple[int, float]:
    parts = urlsplit(base_url)
    assert parts.hostname and parts.port
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    auth = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    buf = bytearray(4 << 20)
    view = memoryview(buf)
    path: str | None = parts.path + "entity/allocation/?page_mode=sequenced&page_size=1000"
    rows, started = 0, time.perf_counter()
    while path:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Basic {auth}\r\n\r\n".encode())
        got = 0
        while (end := buf.find(b"\r\n\r\n", 0, got)) < 0:
            got += sock.recv_into(view[got:])
        head = bytes(buf[:end]).lower()
        length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
        total = end + 4 + length
        if total > len(buf):
            buf.extend(bytes(total - len(buf)))
            view = memoryview(buf)
        while got < total:
            got += sock.recv_into(view[got:total])
        body = bytes(buf[end + 4 : total])
        url = _next(body)
        rows += _rows(body, url)
        path = urlsplit(url).path + "?" + urlsplit(url).query if url else None
    sock.close()
    return rows, time.perf_counter() - started


def scan_http_client(base_url: str) -> tuple[int, float]:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    auth = "Basic " + base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    url: str | None = base_url + "entity/allocation/?page_mode=sequenced&page_size=1000"
    rows, started = 0, time.perf_counter()
    while url:
        conn.request("GET", url[len(f"http://{parts.netloc}") :], headers={"Authorization": auth})
        body = conn.getresponse().read()
        url = _next(body)
        rows += _rows(body, url)
    return rows, time.perf_counter() - started


def scan_httpx(base_url: str) -> tuple[int, float]:
    url: str | None = base_url + "entity/allocation/?page_mode=sequenced&page_size=1000"
    rows, started = 0, time.perf_counter()
    with httpx.Client(auth=AUTH) as client:
        while url:
            body = client.get(url).content
            url = _next(body)
            rows += _rows(body, url)
    return rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=200_000)
    parser.add_argument("--churn", type=float, default=200.0, help="changes a second on the living tenant")
    args = parser.parse_args()
    print(f"$ uv run python -m tests.performance.bench_simulator --scale {args.scale} --churn {args.churn:g}")
    with spawn(scale=args.scale) as base_url:
        rows, s = scan_raw(base_url)
        print(f"  cold (render on demand), raw socket: {rows:,} records in {s:.2f}s = {rows / s:,.0f} records/s")
    with simulator(args.scale) as base_url:
        for name, scan in (("raw socket", scan_raw), ("http.client", scan_http_client), ("httpx", scan_httpx)):
            rows, s = scan(base_url)
            print(f"  warm, {name:<11}: {rows:,} records in {s:.2f}s = {rows / s:,.0f} records/s")
        status = httpx.get(base_url.split("/local/")[0] + "/_sim/status", auth=AUTH).json()
        print(f"  requests served: {status['requests']}; payload per record ≈ {_record_bytes(base_url):,} bytes")
    with spawn(scale=args.scale, clock="realtime", churn=args.churn) as base_url:
        while not httpx.get(admin(base_url) + "/status", auth=AUTH).json()["prerendered"]:
            time.sleep(0.5)
        for _ in range(2):
            rows, s = scan_raw(base_url)
            rate = f"{rows:,} records in {s:.2f}s = {rows / s:,.0f} records/s"
            print(f"  living (churn {args.churn:g}/s), raw socket: {rate}")
        changes = httpx.get(admin(base_url) + "/status", auth=AUTH).json()["changes"]
        print(f"  changes made meanwhile: {changes}")


def _record_bytes(base_url: str) -> int:
    body = httpx.get(base_url + "entity/allocation/?page_size=1000", auth=AUTH).content
    return len(body) // len(orjson.loads(body)["results"])


if __name__ == "__main__":
    main()
