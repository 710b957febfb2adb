"""Client fetch+decode throughput and peak RSS; partitioned vs serial extraction.

    uv run python -m tests.performance.bench_extract [--sizes 200000 1000000] [--latency 0.2]

1. For each size: extract every allocation (fetch + decode to Arrow, batches discarded) in a
   fresh child process, and print records/s and that process's peak RSS (the simulator runs
   in its own process, pre-rendered, so its cost is not the client's).
2. With the simulator answering each page after ``--latency`` seconds, extract 200,000
   allocations serially (max_concurrency=1) and partitioned (max_concurrency=16), and print
   both rates and their ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from tests.performance._common import AUTH, simulator


def _child(base_url: str, concurrency: int, page_size: int) -> None:
    """Run in a fresh process: extract allocations, print rows, seconds, peak RSS."""
    from gruponos.settings import WmsSettings
    from gruponos.wms import Extraction, WmsClient
    from tests.specs import spec as entity

    cfg = WmsSettings(
        base_url=base_url,
        username=AUTH[0],
        password=AUTH[1],
        page_size=page_size,
        max_concurrency=concurrency,
        partition_min_rows=20_000,
    )
    started = time.perf_counter()
    rows = 0
    with WmsClient(cfg) as wms:
        run = Extraction(entity("allocation"), wms)
        for batch in run:
            rows += batch.num_rows
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak_mb, "partitions": len(run.partitions)}))


def measure(base_url: str, concurrency: int, page_size: int = 1000) -> dict[str, float]:
    cmd = [
        sys.executable,
        "-m",
        "tests.performance.bench_extract",
        "--child",
        base_url,
        str(concurrency),
        str(page_size),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    sizes = " ".join(map(str, args.sizes))
    print(f"$ uv run python -m tests.performance.bench_extract --sizes {sizes} --latency {args.latency}", flush=True)
    print("1. fetch + decode, all allocations, 1,000-record pages, default concurrency (8)")
    for size in args.sizes:
        with simulator(size) as base_url:
            for label, conc in (("serial     ", 1), ("partitioned", 8)):
                r = measure(base_url, conc)
                print(
                    f"  {size:>9,} allocations, {label}: {r['rows']:,.0f} rows in {r['seconds']:.1f}s = "
                    f"{r['rows'] / r['seconds']:,.0f} records/s, peak RSS {r['peak_rss_mb']:.0f} MB",
                    flush=True,
                )
    print(f"2. partitioned vs serial, 200,000 allocations, each page answered after {args.latency * 1000:.0f} ms")
    with simulator(200_000, faults={"latency_s": args.latency}) as base_url:
        serial = measure(base_url, 1)
        parallel = measure(base_url, 16)
    s_rate, p_rate = serial["rows"] / serial["seconds"], parallel["rows"] / parallel["seconds"]
    print(f"  serial:      {serial['rows']:,.0f} rows in {serial['seconds']:.1f}s = {s_rate:,.0f} records/s")
    print(
        f"  partitioned: {parallel['rows']:,.0f} rows in {parallel['seconds']:.1f}s = {p_rate:,.0f} records/s "
        f"({parallel['partitions']:.0f} partitions, 16 concurrent)"
    )
    print(f"  ratio: {p_rate / s_rate:.1f}x")


if __name__ == "__main__":
    main()
