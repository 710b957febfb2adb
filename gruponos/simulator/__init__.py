"""A fake Oracle WMS Cloud tenant over real HTTP(S), for the demo, the tests and the benchmarks.

    with Simulator(scale=2_000, seed=42) as sim:
        httpx.get(sim.base_url + "entity/allocation/", auth=(sim.username, sim.password))

    # a tenant that lives: wall-clock time, 50 changes a second, 10 % of them committing 5 s late
    with Simulator(clock="realtime", workload=Workload(rate=50, late_share=0.1, late_s=5)) as sim:
        ...

It plays the *other* side: it owns its schema (``simulator/schema.py``, where the
``describe`` type vocabulary is written down) and imports nothing else from gruponos.

Where things are: ``schema*`` what the tenant serves (field kinds, the field tables, the
entities, the lookups and codes); ``formulas*`` the SQL every row is made from; ``store`` the
rows in DuckDB, ``tenant`` what changes them, ``workload`` the background writer;
``query`` request parameters to SQL, ``answers`` what the entity API answers, ``documents``
the rendered records, ``server`` the HTTP side; ``certificate``, ``options``, ``process``
the TLS certificate, settings taken as a mapping, and a simulator in its own process.
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
import threading
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from gruponos.simulator.certificate import ensure_certificate
from gruponos.simulator.documents import DocumentStore
from gruponos.simulator.schema import SCHEMA, STATUS_CODES
from gruponos.simulator.server import Faults, WmsServer
from gruponos.simulator.tenant import EPOCH, Changes, Clock, Tenant
from gruponos.simulator.workload import Workload, Writer

__all__ = ["EPOCH", "SCHEMA", "STATUS_CODES", "Changes", "Faults", "Simulator", "Tenant", "Workload"]

DEFAULT_USERNAME = "gruponos"
DEFAULT_PASSWORD = "wms-sim-local"  # noqa: S105 - the local environment's well-known credential


class Simulator:
    """A WMS tenant served on ``host:port`` (port 0 picks a free one) until ``stop()``.

    ``clock="fixed"`` (the default, for tests) starts at :data:`EPOCH` and moves only with
    :meth:`advance`; ``clock="realtime"`` follows the wall clock and runs the ``workload``
    (changes a second, late commits) in a background writer. ``tls=True`` serves HTTPS with a
    self-signed certificate written to ``data_dir`` (see :attr:`ca_bundle`).
    """

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
        clock: Clock = "fixed",
        workload: Workload | None = None,
        tls: bool = False,
        data_dir: str | Path | None = None,
    ) -> None:
        self.tenant = Tenant(scale=scale, seed=seed, clock=clock)
        self.username, self.password, self.token = username, password, token
        self.environment = environment
        self.faults = faults or Faults()
        self.tz = timedelta(minutes=tz_offset_minutes)
        self.verbose = verbose
        self.prerendered = threading.Event()
        self.workload = Workload()
        self.tls = tls
        self.certificate: Path | None = None
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="wms-sim-"))
        self._host, self._port, self._prerender = host, port, prerender
        self._server: WmsServer | None = None
        self._documents: DocumentStore | None = None
        self._writer: Writer | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.set_workload(workload or Workload())

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        context = None
        if self.tls:
            self.certificate, key = ensure_certificate(self.data_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.certificate, key)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = WmsServer(self, self._host, self._port, context)
        self._documents = DocumentStore(
            self.tenant, base_url=self.base_url, offset=self.tz, directory=str(self.data_dir)
        )
        serve = threading.Thread(target=self._server.serve_forever, name="wms-sim-http", daemon=True)
        serve.start()
        self._threads.append(serve)
        if self._prerender:
            render = threading.Thread(target=self._render_all, name="wms-sim-render", daemon=True)
            render.start()
            self._threads.append(render)
        if self.tenant.clock == "realtime":
            self._writer = Writer(self.tenant, self.workload, after=self.documents.refresh)
            self._writer.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._writer is not None:
            self._writer.stop()
            self._writer.join(timeout=30)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for t in self._threads:
            t.join(timeout=30)
        if self._documents is not None:
            self._documents.close()
        self.tenant.close()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

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
        """``http(s)://host:port/{environment}/wms/lgfapi/v10/``."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self._host}:{self.port}/{self.environment}/wms/lgfapi/v10/"

    @property
    def ca_bundle(self) -> Path | None:
        """The PEM a client trusts to verify this simulator's HTTPS (None over plain HTTP)."""
        return self.certificate

    @property
    def documents(self) -> DocumentStore:
        if self._documents is None:
            raise RuntimeError("simulator not started")
        return self._documents

    def advance(self, **kwargs: Any) -> Changes:
        """Change rows now (see ``Tenant.advance``; the fixed clock also moves)."""
        return self.tenant.advance(**kwargs)

    def delete(self, entity: str, ids: list[int]) -> list[int]:
        return self.tenant.delete(entity, ids)

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults

    def set_workload(self, workload: Workload) -> None:
        """Change the background workload (rate, shares, late commits) from now on."""
        if workload.rate > 0 and self.tenant.clock != "realtime":
            raise ValueError("a workload (churn) needs the realtime clock: the fixed clock moves only with advance()")
        self.workload = workload
        self.tenant.late_share, self.tenant.late_s = workload.late_share, workload.late_s
        if self._writer is not None:
            self._writer.workload = workload

    def settle(self, timeout: float = 60.0) -> None:
        """Stop the churn and wait until every late commit is visible (a quiet tenant)."""
        self.set_workload(Workload(late_share=self.workload.late_share, late_s=self.workload.late_s))
        deadline = time.monotonic() + timeout
        while self.tenant.pending:
            if self.tenant.clock == "fixed":
                raise RuntimeError("late commits wait for the fixed clock: advance() past them")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.tenant.pending} late commits still pending after {timeout}s")
            time.sleep(0.05)

    def status(self) -> dict[str, Any]:
        """What ``/_sim/status`` reports."""
        return {
            "now": self.tenant.now.isoformat(),
            "clock": self.tenant.clock,
            "counts": {n: self.tenant.count(n) for n in SCHEMA},
            "prerendered": self.prerendered.is_set(),
            "faults": asdict(self.faults),
            "workload": self.workload.as_dict(),
            "pending_late_commits": self.tenant.pending,
            "changes": dict(self._writer.totals) if self._writer is not None else {},
            "ca_bundle": str(self.certificate.resolve()) if self.certificate is not None else None,
        }
