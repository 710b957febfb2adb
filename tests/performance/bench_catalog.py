"""Every default entity in one full sync, against the eight gruponos first synced, same tenant.

    uv run python -m tests.performance.bench_catalog [--scale 200000] [--concurrency 1]

Two fresh child processes sync into their own DuckDB files through ``gruponos.runs.sync_many``
(what ``gruponos sync full`` runs without Prefect): first every default entity (26), then only
the original eight. Per entity: records, seconds, records/s and CPU per record; per run: wall
time, records/s, CPU per record and peak RSS (the simulator runs in a third process, so each
RSS is the sync's own). With ``--concurrency 1`` (the default) entities run one after another,
so the CPU the process spends from one entity's end to the next one's is that entity's:
connect, prepare, plan, extract, validate, load, finish. That includes a fixed cost per entity,
which dominates small ones; "beyond fixed" takes it out (the median CPU of the entities under
100 records) for entities of 10,000 records or more, and "ns/value" divides that by the
entity's columns (a wide entity stores more per record). Entities whose CPU per record (raw or
beyond the fixed cost) or per value exceeds allocation's are flagged.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.performance._common import simulator

EIGHT = ("allocation", "order_hdr", "order_dtl", "item", "location", "inventory", "facility", "company")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(base_url: str, path: str, which: str, concurrency: int) -> None:
    """In a fresh process: one full sync of ``which`` (all | eight); print JSON figures."""
    from gruponos import settings
    from gruponos.catalog import discover
    from gruponos.errors import SyncError
    from gruponos.runs import Progress, sync_many
    from gruponos.wms import WmsClient

    cfg = settings.load(
        env="local",
        wms={"base_url": base_url},
        warehouse={"kind": "duckdb", "path": path},
        flows={"entity_concurrency": concurrency},
    )
    names = None if which == "all" else list(EIGHT)
    started, cpu0 = time.perf_counter(), _cpu()
    with WmsClient(cfg.wms) as wms:
        catalog = discover(wms, cfg.sync, names)
    discovery = {"seconds": time.perf_counter() - started, "cpu_s": _cpu() - cpu0}
    cpu_done: dict[str, float] = {}

    def progress(event: Progress) -> None:
        if event.phase in ("done", "failed"):
            cpu_done[event.entity] = _cpu()

    cpu_start, wall = _cpu(), time.perf_counter()
    outcomes = sync_many(cfg, "full", names, progress=progress, catalog=catalog)
    wall = time.perf_counter() - wall
    entities, last = [], cpu_start
    for o in outcomes:
        if isinstance(o, SyncError):
            raise SystemExit(str(o))
        cpu = cpu_done[o.entity] - last if concurrency == 1 else None
        last = cpu_done[o.entity]
        entities.append({"entity": o.entity, "records": o.extracted, "seconds": o.seconds, "cpu_s": cpu,
                         "columns": len(catalog.spec(o.entity).columns)})  # fmt: skip
    print(json.dumps({"entities": entities, "wall_s": wall, "cpu_s": _cpu() - cpu_start, "discovery": discovery,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))  # fmt: skip


def _run(base_url: str, path: Path, which: str, concurrency: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "tests.performance.bench_catalog", "--child", base_url, str(path), which,
           str(concurrency)]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _per_record_us(cpu_s: float | None, records: int) -> float | None:
    return None if cpu_s is None or not records else cpu_s / records * 1e6


def _fixed_s(result: dict[str, Any]) -> float | None:
    """What an entity costs whatever its size: the median CPU of the entities under 100 records."""
    small: list[float] = sorted(e["cpu_s"] for e in result["entities"] if e["cpu_s"] is not None and e["records"] < 100)
    return small[len(small) // 2] if small else None


def _beyond_us(e: dict[str, Any], fixed: float | None) -> float | None:
    """CPU per record once the fixed cost is taken out (only where records outweigh it)."""
    if e["cpu_s"] is None or fixed is None or e["records"] < 10_000:
        return None
    return max(0.0, float(e["cpu_s"]) - fixed) / int(e["records"]) * 1e6


def _per_value_ns(e: dict[str, Any], fixed: float | None) -> float | None:
    """CPU per stored value (one column of one record) beyond the fixed cost: wide entities compare fairly."""
    beyond = _beyond_us(e, fixed)
    return None if beyond is None else beyond / int(e["columns"]) * 1e3


def _entity_lines(result: dict[str, Any], alloc: dict[str, Any], fixed: float | None) -> list[str]:
    """One line per entity, flagged where a CPU figure exceeds allocation's (raw, beyond fixed, per value)."""
    limits = (_per_record_us(alloc["cpu_s"], alloc["records"]), _beyond_us(alloc, fixed), _per_value_ns(alloc, fixed))
    names = ("raw", "beyond fixed", "per value")
    lines = [f"    {'entity':<22} {'records':>9} {'cols':>4} {'s':>6} {'records/s':>9} {'CPU µs/rec':>10} "
             f"{'beyond fixed':>12} {'ns/value':>8}"]  # fmt: skip
    for e in result["entities"]:
        figures = (_per_record_us(e["cpu_s"], e["records"]), _beyond_us(e, fixed), _per_value_ns(e, fixed))
        rate = e["records"] / e["seconds"] if e["seconds"] else 0.0
        flags = [n for n, v, top in zip(names, figures, limits, strict=True) if v is not None and top and v > top]
        flag = f"  > allocation ({', '.join(flags)})" if flags and e["entity"] != "allocation" else ""
        shown = ["—" if v is None else f"{v:,.1f}" for v in figures]
        lines.append(f"    {e['entity']:<22} {e['records']:>9,} {e['columns']:>4} {e['seconds']:>6.2f} {rate:>9,.0f} "
                     f"{shown[0]:>10} {shown[1]:>12} {shown[2]:>8}{flag}")  # fmt: skip
    return lines


def _total(label: str, entities: list[dict[str, Any]], wall: float, cpu: float, rss: float | None) -> str:
    records = sum(e["records"] for e in entities)
    memory = f", peak RSS {rss:,.0f} MB" if rss is not None else ""
    return (f"  {label:<44} {records:>9,} records in {wall:7.2f} s = {records / wall:>8,.0f} records/s, "
            f"CPU {cpu / records * 1e6:6.1f} µs/record{memory}")  # fmt: skip


def bench(scale: int, concurrency: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    with simulator(scale) as base_url:
        every = _run(base_url, work / "all.duckdb", "all", concurrency)
        eight = _run(base_url, work / "eight.duckdb", "eight", concurrency)
    alloc = next(e for e in every["entities"] if e["entity"] == "allocation")
    fixed = _fixed_s(every)
    print(f"  every default entity ({len(every['entities'])}), one full sync, entity concurrency {concurrency}:")
    print("\n".join(_entity_lines(every, alloc, fixed)))
    print(f"  catalog discovery: {every['discovery']['seconds']:.2f} s, CPU {every['discovery']['cpu_s']:.2f} s; "
          f"fixed cost per entity (median CPU of those under 100 records): "
          f"{'—' if fixed is None else f'{fixed:.3f} s'}")  # fmt: skip
    print("  the original eight alone (a fresh process, same tenant):")
    print("\n".join(_entity_lines(eight, alloc, fixed)))
    print(_total(f"every default entity ({len(every['entities'])}):", every["entities"], every["wall_s"],
                 every["cpu_s"], every["peak_rss_mb"]))  # fmt: skip
    within = [e for e in every["entities"] if e["entity"] in EIGHT]
    if concurrency == 1:
        print(_total("the eight, inside that run:", within, sum(e["seconds"] for e in within),
                     sum(e["cpu_s"] for e in within), None))  # fmt: skip
    print(_total("the eight alone:", eight["entities"], eight["wall_s"], eight["cpu_s"], eight["peak_rss_mb"]))
    for label, figure in (("per record", _beyond_us), ("per value", _per_value_ns)):
        limit = figure(alloc, fixed) or float("inf")
        over = [e["entity"] for e in every["entities"] if (figure(e, fixed) or 0.0) > limit]
        print(f"  beyond the fixed cost, CPU {label} above allocation's: {', '.join(over) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=200_000, help="allocations in the simulated tenant")
    parser.add_argument("--concurrency", type=int, default=1, help="entities synced at once")
    parser.add_argument("--child", nargs=4, metavar=("BASE_URL", "PATH", "WHICH", "CONCURRENCY"))
    args = parser.parse_args()
    if args.child:
        base_url, path, which, concurrency = args.child
        _child(base_url, path, which, int(concurrency))
        return
    print(f"bench_catalog: --scale {args.scale:,} (the machine may be shared: figures vary)", flush=True)
    bench(args.scale, args.concurrency)


if __name__ == "__main__":
    main()
