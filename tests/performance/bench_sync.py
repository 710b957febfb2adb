"""Sync speed side by side: gruponos vs dlt, on the same simulator, in the same run.

    uv run --group perf python -m tests.performance.bench_sync [--sizes 200000 1000000] [--skip-dlt]

For each size: a full sync of every allocation into DuckDB (validation, MERGE, state
included), a no-change incremental, then the simulator's clock moves with 1 % of the rows
modified and an incremental loads them. gruponos and dlt each run in a fresh child process,
so each peak RSS is the sync's own (the simulator runs in a third process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.performance._common import AUTH, admin, simulator


def _child(base_url: str, mode: str, path: str) -> None:
    """In a fresh process: one gruponos sync of allocations; print JSON figures."""
    from returns.io import IOFailure
    from returns.unsafe import unsafe_perform_io

    from gruponos import settings
    from gruponos.pipeline import Context, sync_entity
    from gruponos.warehouse import connect
    from gruponos.wms import WmsClient
    from tests.specs import spec as entity

    cfg = settings.load(env="local", wms={"base_url": base_url}, warehouse={"kind": "duckdb", "path": path})
    started = time.perf_counter()
    wh = connect(cfg.warehouse)
    with WmsClient(cfg.wms) as wms:
        result = sync_entity(entity("allocation"), mode, Context(settings=cfg, wms=wms, warehouse=wh))  # type: ignore[arg-type]
    wh.close()
    seconds = time.perf_counter() - started
    if isinstance(result, IOFailure):
        raise SystemExit(str(unsafe_perform_io(result.failure())))
    report = unsafe_perform_io(result.unwrap())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"rows": report.extracted, "inserted": report.inserted, "updated": report.updated,
                      "seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024,
                      "cpu_s": usage.ru_utime + usage.ru_stime}))  # fmt: skip


def _simulator_cpu() -> float:
    """CPU seconds (user + sys) used so far by the simulator child of this process."""
    import psutil

    for child in psutil.Process().children():
        if "simulator" in " ".join(child.cmdline()):
            t = child.cpu_times()
            return float(t.user + t.system)
    return 0.0


def ours(base_url: str, mode: str, path: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "tests.performance.bench_sync", "--child", base_url, mode, path]
    before = _simulator_cpu()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["sim_cpu_s"] = _simulator_cpu() - before
    return result


def peer(base_url: str, mode: str, **kw: str) -> dict[str, Any]:
    from tests.performance.dlt_peer import run_dlt

    before = _simulator_cpu()
    result = run_dlt(base_url, mode=mode, **kw)  # type: ignore[arg-type]
    result["sim_cpu_s"] = _simulator_cpu() - before
    return result


def line(who: str, what: str, r: dict[str, Any]) -> str:
    rate = r["rows"] / r["seconds"] if r["seconds"] else 0.0
    cpu = f", CPU {r['cpu_s']:5.1f}s + simulator {r['sim_cpu_s']:5.1f}s" if "cpu_s" in r else ""
    return (f"  {who:<8} {what:<26} {r['rows']:>9,} rows in {r['seconds']:6.2f}s = {rate:>9,.0f} records/s, "
            f"peak RSS {r['peak_rss_mb']:4.0f} MB{cpu}")  # fmt: skip


def bench(size: int, *, with_dlt: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    with simulator(size) as base_url:
        results: dict[str, dict[str, Any]] = {}
        results["ours full"] = ours(base_url, "full", str(work / "ours.duckdb"))
        print(line("gruponos", "full", results["ours full"]), flush=True)
        if with_dlt:
            kw = {"pipelines_dir": str(work / "dlt"), "duckdb_path": str(work / "dlt.duckdb")}
            results["dlt full"] = peer(base_url, "full", **kw)
            print(line("dlt", "full", results["dlt full"]), flush=True)
        r = ours(base_url, "incremental", str(work / "ours.duckdb"))
        print(line("gruponos", "no-change incremental", r), flush=True)
        if with_dlt:
            print(line("dlt", "no-change incremental", peer(base_url, "incremental", **kw)), flush=True)
        changed = httpx.post(admin(base_url) + "/advance", params={"minutes": 60, "modify": 0.01, "insert": 0},
                             auth=AUTH, timeout=600).json()["modified"]["allocation"]  # fmt: skip
        print(f"  (clock moved 60 minutes, {changed:,} allocations modified)")
        r = ours(base_url, "incremental", str(work / "ours.duckdb"))
        print(line("gruponos", "1%-changed incremental", r), flush=True)
        if with_dlt:
            print(line("dlt", "1%-changed incremental", peer(base_url, "incremental", **kw)), flush=True)
            a, b = results["ours full"], results["dlt full"]
            ratio = (a["rows"] / a["seconds"]) / (b["rows"] / b["seconds"])
            print(f"  full sync: gruponos is {ratio:.1f}x dlt", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--skip-dlt", action="store_true")
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    print(f"$ uv run --group perf python -m tests.performance.bench_sync --sizes {' '.join(map(str, args.sizes))}"
          + (" --skip-dlt" if args.skip_dlt else ""), flush=True)  # fmt: skip
    for size in args.sizes:
        print(f"{size:,} allocations")
        bench(size, with_dlt=not args.skip_dlt)


if __name__ == "__main__":
    main()
