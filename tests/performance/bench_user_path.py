"""The path users run, side by side with the engine underneath, in one run on one simulator.

    uv run python -m tests.performance.bench_user_path [--size 200000] [--big 1000000] [--demo] [--repeat 3]

- engine: ``pipeline.sync_entity`` of every allocation into DuckDB, in a fresh process;
- ``gruponos sync full --entity allocation`` (no Prefect API: the engine in the CLI's process);
- ``gruponos sync incremental`` with nothing changed, without and with a running Prefect server
  (``--prefect``, the server started here as ``service up`` starts it);
- ``--big``: peak RSS of the CLI's full sync of that many allocations (the CLI's process tree;
  the simulator and the Prefect server excluded);
- ``--demo``: ``gruponos demo`` at 100,000 allocations, wall time.

Wall times include the interpreter's start and imports (what a person waits for). Each child's
peak RSS comes from ``wait4``. Figures vary with the machine's load: compare ratios of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from tests.local import cli_env
from tests.performance._common import simulator

PYTHON = sys.executable


def _engine(base_url: str, path: str) -> None:
    """In a fresh process: one engine full sync of allocations; print JSON figures."""
    from returns.io import IOFailure
    from returns.unsafe import unsafe_perform_io

    from gruponos import settings
    from gruponos.catalog import discover
    from gruponos.pipeline import Context, sync_entity
    from gruponos.warehouse import connect
    from gruponos.wms import WmsClient

    cfg = settings.load(env="local", wms={"base_url": base_url}, warehouse={"kind": "duckdb", "path": path})
    started = time.perf_counter()
    with WmsClient(cfg.wms) as wms:
        spec = discover(wms, cfg.sync, ["allocation"]).spec("allocation")
        wh = connect(cfg.warehouse)
        result = sync_entity(spec, "full", Context(settings=cfg, wms=wms, warehouse=wh))
        wh.close()
    if isinstance(result, IOFailure):
        raise SystemExit(str(unsafe_perform_io(result.failure())))
    print(json.dumps({"seconds": time.perf_counter() - started}))


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB of the process tree it waited for, stdout) of one command."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out[-2000:]}{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out


def _env(base_url: str, folder: Path, **extra: str) -> dict[str, str]:
    own = {"GRUPONOS_FLOWS__RESULTS_PATH": str(folder / "results"), "GRUPONOS_SYNC__ENTITIES": "allocation"}
    return cli_env(base_url, folder, **(own | extra))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--big", type=int, default=0, help="also the CLI's peak RSS at this many allocations")
    parser.add_argument("--demo", action="store_true", help="also gruponos demo at 100,000")
    parser.add_argument("--repeat", type=int, default=3, help="engine and CLI full syncs taken in turns")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, simulator(args.size) as base_url:
        folder = Path(tmp)
        cli = [PYTHON, "-m", "gruponos.cli", "sync"]
        # Engine and CLI taken in turns, each into a fresh warehouse, so that the machine's load
        # falls on both alike; the medians are compared.
        engines, engine_walls, walls, rsss = [], [], [], []
        for i in range(args.repeat):
            started = time.perf_counter()
            engine_cmd = [PYTHON, "-m", "tests.performance.bench_user_path", "--engine", base_url]
            done = subprocess.run(
                [*engine_cmd, str(folder / f"engine{i}.duckdb")], capture_output=True, text=True, check=True
            )
            engine_walls.append(time.perf_counter() - started)
            engines.append(float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"]))
            run_folder = folder if i == args.repeat - 1 else folder / f"cli{i}"
            wall, rss, _ = _run([*cli, "full", "--entity", "allocation"], _env(base_url, run_folder))
            walls.append(wall)
            rsss.append(rss)
        engine, engine_wall, wall = median(engines), median(engine_walls), median(walls)
        rows.append(("engine: full sync (sync_entity), in process", f"{engine:.1f} s", f"median of {args.repeat}"))
        rows.append(("… the same as a process (start, imports, sync)", f"{engine_wall:.1f} s", ""))
        ratio = f"{wall / engine:.2f}x the engine ({wall / engine_wall:.2f}x its process), peak RSS {max(rsss):.0f} MB"
        rows.append(("gruponos sync full --entity allocation", f"{wall:.1f} s", ratio))
        wall, rss, _ = _run([*cli, "incremental"], _env(base_url, folder))
        rows.append(("gruponos sync incremental, nothing changed", f"{wall:.1f} s", f"{rss:.0f} MB"))
        from tests.prefect_server import prefect_server

        with prefect_server(folder / "prefect") as (api_url, _):
            env = _env(base_url, folder, PREFECT_API_URL=api_url, PREFECT_SERVER_ANALYTICS_ENABLED="false")
            _run([*cli, "incremental"], env)  # the first run registers the flow and its tasks
            wall, rss, _ = _run([*cli, "incremental"], env)
            rows.append(("… through a running Prefect server", f"{wall:.1f} s", f"{rss:.0f} MB (server excluded)"))
    if args.big:
        with tempfile.TemporaryDirectory() as tmp, simulator(args.big) as base_url:
            wall, rss, _ = _run([*cli, "full", "--entity", "allocation"], _env(base_url, Path(tmp)))
            rows.append((f"gruponos sync full, {args.big:,} allocations", f"{wall:.1f} s", f"peak RSS {rss:.0f} MB"))
    if args.demo:
        with tempfile.TemporaryDirectory() as tmp:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("GRUPONOS_", "PREFECT_"))}
            env |= {"GRUPONOS_WAREHOUSE__PATH": f"{tmp}/wh.duckdb", "GRUPONOS_FLOWS__LANDING_PATH": f"{tmp}/landing"}
            wall, rss, _ = _run([PYTHON, "-m", "gruponos.cli", "demo", "--scale", "100000"], env)
            rows.append(("gruponos demo (100,000 allocations)", f"{wall:.1f} s", f"{rss:.0f} MB"))
    print(f"\n{args.size:,} allocations; load average {os.getloadavg()[0]:.1f} at the end")
    width = max(len(r[0]) for r in rows)
    for name, figure, note in rows:
        print(f"  {name:<{width}}  {figure:>8}  {note}")


def _cli() -> Any:
    if len(sys.argv) == 4 and sys.argv[1] == "--engine":
        _engine(sys.argv[2], sys.argv[3])
        return
    main()


if __name__ == "__main__":
    _cli()
