"""Shared pieces of the benchmarks: a simulator in its own process, ready to serve."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import orjson

from gruponos.settings import LOCAL_PASSWORD, LOCAL_USERNAME
from gruponos.simulator.process import admin_url, spawn

AUTH = (LOCAL_USERNAME, LOCAL_PASSWORD)


admin = admin_url


@contextlib.contextmanager
def simulator(scale: int, *, faults: dict[str, object] | None = None, seed: int = 42) -> Iterator[str]:
    """A simulator process with every record pre-rendered (so serving is not what is measured)."""
    started = time.perf_counter()
    with spawn(scale=scale, seed=seed) as base_url:
        while not httpx.get(admin(base_url) + "/status", auth=AUTH).json()["prerendered"]:
            time.sleep(0.5)
        print(f"  simulator: {scale:,} allocations ready in {time.perf_counter() - started:.1f}s", flush=True)
        if faults:
            httpx.post(admin(base_url) + "/faults", auth=AUTH, content=orjson.dumps(faults)).raise_for_status()
        yield base_url
