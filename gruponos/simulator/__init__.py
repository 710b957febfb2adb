"""A fake Oracle WMS Cloud tenant over real HTTP, for the demo, the tests and the benchmarks.

    with Simulator(scale=2_000, seed=42) as sim:
        httpx.get(sim.base_url + "entity/allocation/", auth=(sim.username, sim.password))

It plays the *other* side: it imports only the entity catalog.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

from gruponos.simulator.documents import DocumentStore
from gruponos.simulator.server import Faults, WmsServer
from gruponos.simulator.tenant import EPOCH, STATUS_CODES, Changes, Tenant

__all__ = ["EPOCH", "STATUS_CODES", "Changes", "Faults", "Simulator", "Tenant"]

DEFAULT_USERNAME = "gruponos"
DEFAULT_PASSWORD = "gruponos-local"  # noqa: S105 - the local environment's well-known credential


class Simulator:
    """A WMS tenant served on ``host:port`` (port 0 picks a free one) until ``stop()``."""

    def __init__(
        self,
        *,
        scale: int = 2_000,
        seed: int = 42,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        token: str | None = None,
        environment: str = "local",
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        tz_offset_minutes: int = -180,
        prerender: bool = True,
        verbose: bool = False,
    ) -> None:
        self.tenant = Tenant(scale=scale, seed=seed)
        self.username, self.password, self.token = username, password, token
        self.environment = environment
        self.faults = faults or Faults()
        self.tz = timedelta(minutes=tz_offset_minutes)
        self.verbose = verbose
        self.prerendered = threading.Event()
        self._host, self._port, self._prerender = host, port, prerender
        self._server: WmsServer | None = None
        self._documents: DocumentStore | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        self._server = WmsServer(self, self._host, self._port)
        self._documents = DocumentStore(self.tenant, base_url=self.base_url, offset=self.tz)
        serve = threading.Thread(target=self._server.serve_forever, name="wms-sim-http", daemon=True)
        serve.start()
        self._threads.append(serve)
        if self._prerender:
            render = threading.Thread(target=self._render_all, name="wms-sim-render", daemon=True)
            render.start()
            self._threads.append(render)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for t in self._threads:
            t.join(timeout=30)
        if self._documents is not None:
            self._documents.close()
        self.tenant.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def _render_all(self) -> None:
        self.documents.prerender(self._stop)
        if not self._stop.is_set():
            self.prerendered.set()

    # --- what tests and scripts use -------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port/{environment}/wms/lgfapi/v10/``."""
        return f"http://{self._host}:{self.port}/{self.environment}/wms/lgfapi/v10/"

    @property
    def documents(self) -> DocumentStore:
        if self._documents is None:
            raise RuntimeError("simulator not started")
        return self._documents

    def advance(self, **kwargs: Any) -> Changes:
        """Move the tenant's clock (see ``Tenant.advance``)."""
        return self.tenant.advance(**kwargs)

    def delete(self, entity: str, ids: list[int]) -> list[int]:
        return self.tenant.delete(entity, ids)

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
