"""A mutating HTTP proxy in front of the simulator: it forwards every request as it came and lets a
test rewrite the answer's bytes, so the sync meets input that neither the simulator nor gruponos
produced (a float where an integer belongs, bytes that are not UTF-8, a link to another host)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson

Mutation = Callable[[str, bytes], bytes]  # (request path with query, body) → body


class Proxy:
    """Forwards to ``upstream`` (a base URL's origin); ``mutate`` rewrites answer bodies."""

    def __init__(self, upstream: str, mutate: Mutation | None = None) -> None:
        self.upstream = httpx.URL(upstream)
        self.mutate = mutate
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, headers) of each request
        self._client = httpx.Client(timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy.requests.append((self.path, dict(self.headers)))
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "accept")}
                target = proxy.upstream.copy_with(raw_path=self.path.encode())
                answer = proxy._client.get(str(target), headers=headers)
                body = answer.content
                if proxy.mutate is not None and answer.status_code == 200:
                    body = proxy.mutate(self.path, body)
                body = body.replace(
                    str(proxy.upstream.copy_with(raw_path=b"/")).rstrip("/").encode(), proxy.origin.encode()
                )
                self.upstream_date = answer.headers.get("date")  # the tenant's clock, not the proxy's
                self.send_response(answer.status_code)
                if "content-type" in answer.headers:
                    self.send_header("content-type", answer.headers["content-type"])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def date_time_string(self, timestamp: float | None = None) -> str:
                return getattr(self, "upstream_date", None) or super().date_time_string(timestamp)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"

    def base_url(self, sim_base_url: str) -> str:
        """The simulator's base URL, reached through this proxy."""
        path = httpx.URL(sim_base_url).raw_path.decode()
        return f"{self.origin}{path}"

    def start(self) -> Proxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._client.close()


@contextmanager
def proxy(upstream: str, mutate: Mutation | None = None) -> Iterator[Proxy]:
    p = Proxy(upstream, mutate).start()
    try:
        yield p
    finally:
        p.close()


def records(mutate: Callable[[dict[str, Any]], dict[str, Any] | None], entity: str = "allocation") -> Mutation:
    """A mutation applied to each record of ``entity``'s list pages (return None to keep it)."""

    def apply(path: str, body: bytes) -> bytes:
        if f"/entity/{entity}/" not in path or "describe" in path:
            return body
        page = orjson.loads(body)
        if not isinstance(page, dict) or "results" not in page:
            return body
        page["results"] = [mutate(r) or r for r in page["results"]]
        return orjson.dumps(page)

    return apply
