"""The dlt peer of the sync benchmark: allocations from the simulator into DuckDB with dlt's ``rest_api`` source.

    uv run --group perf python -m tests.performance.dlt_peer --scale 200000

dlt is only in the ``perf`` dependency group (not installed by the default ``uv sync``).

``run_dlt(base_url, mode=..., pipelines_dir=..., duckdb_path=...)`` runs one dlt pipeline run in a
fresh child process (so the peak RSS it reports is dlt's own, not the caller's or the simulator's)
and returns ``{"rows", "seconds", "records_per_s", "peak_rss_mb", ...}``:

- ``mode="full"``: every allocation (no filter), merged on ``id`` into ``<dataset>.allocation``;
  the table and the cursor state of the resource are reset first (``refresh="drop_resources"``),
  and dlt records the highest ``mod_ts`` seen as the cursor for the next incremental run.
- ``mode="incremental"``: the same resource with ``mod_ts__gte=<last cursor, whole seconds>``;
  dlt drops the re-read rows older than the cursor and de-duplicates the ones equal to it.

The same ``pipelines_dir`` and ``duckdb_path`` must be passed to the full run and to the
incremental runs that follow it (the cursor lives in the pipeline state). Telemetry is off,
dlt's global dir is put under ``pipelines_dir``, and the credentials reach the child on stdin
(never on its command line).

``main()``: full sync, a no-change incremental, then ``advance`` (1% of rows modified) and an
incremental, with checks against the simulator (row counts, modified rows' ``mod_ts``).
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
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from gruponos.settings import LOCAL_PASSWORD, LOCAL_USERNAME

PIPELINE_NAME = "wms_allocation_dlt"
DATASET = "wms"
TABLE = "allocation"
INITIAL_MOD_TS = "2000-01-01T00:00:00+00:00"
DECIMALS = ("alloc_qty", "packed_qty")

Mode = Literal["full", "incremental"]


def _dlt_env(pipelines_dir: str) -> dict[str, str]:
    """Environment for a dlt child: no telemetry, nothing written outside ``pipelines_dir``."""
    env = dict(os.environ)
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env["DLT_DATA_DIR"] = str(Path(pipelines_dir) / "_dlt_data")
    env.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    return env


def whole_seconds(value: Any) -> str:
    """The simulator's timestamp filters take whole seconds with a UTC offset: floor and format.

    dlt keeps the cursor as the raw string from the records (``2026-10-31T21:59:00.168179-03:00``);
    flooring is safe with ``__gte``: dlt filters out the re-read rows below its cursor.
    """
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if ts.tzinfo is None:
        raise ValueError(f"cursor value without a UTC offset: {value!r}")
    return ts.replace(microsecond=0).isoformat()


def _source(base_url: str, mode: Mode, page_size: int, username: str, password: str) -> Any:
    from dlt.sources.rest_api import rest_api_source

    incremental: dict[str, Any] = {"cursor_path": "mod_ts", "initial_value": INITIAL_MOD_TS}
    if mode == "incremental":
        incremental |= {"start_param": "mod_ts__gte", "convert": whole_seconds}
    # full: no start_param, so no filter is sent, but dlt still tracks max(mod_ts) for the next run
    config: dict[str, Any] = {
        "client": {
            "base_url": base_url,
            "auth": {"type": "http_basic", "username": username, "password": password},
            "paginator": {"type": "json_link", "next_url_path": "next_page"},
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {
                "name": TABLE,
                "endpoint": {
                    "path": "entity/allocation/",
                    "data_selector": "results",
                    "params": {"page_mode": "sequenced", "page_size": page_size, "ordering": "id"},
                    "incremental": incremental,
                },
                # without hints dlt keeps the decimal strings ("15.0000") as text
                "columns": {q: {"data_type": "decimal", "precision": 18, "scale": 4} for q in DECIMALS},
            }
        ],
    }
    return rest_api_source(config)


def _sync(
    base_url: str, mode: Mode, pipelines_dir: str, duckdb_path: str, page_size: int, username: str, password: str
) -> dict[str, Any]:
    """One dlt pipeline run in this process (call it in a child: see ``run_dlt``)."""
    import dlt

    started = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=pipelines_dir,
        destination=dlt.destinations.duckdb(duckdb_path),
        dataset_name=DATASET,
    )
    source = _source(base_url, mode, page_size, username, password)
    pipeline.run(
        source,
        loader_file_format="parquet",
        refresh="drop_resources" if mode == "full" else None,
    )
    seconds = time.perf_counter() - started
    trace = pipeline.last_trace
    normalize_info = trace.last_normalize_info if trace else None
    rows = int(normalize_info.row_counts.get(TABLE, 0)) if normalize_info else 0
    state = pipeline.state.get("sources", {}).get(source.name, {}).get("resources", {}).get(TABLE, {})
    cursor = state.get("incremental", {}).get("mod_ts", {}).get("last_value")
    steps = {
        f"{step.step}_s": (step.finished_at - step.started_at).total_seconds()
        for step in (trace.steps if trace else [])
        if step.step in ("extract", "normalize", "load") and step.finished_at
    }
    return {
        "mode": mode,
        "rows": rows,
        "seconds": seconds,
        "records_per_s": rows / seconds if seconds > 0 else 0.0,
        "cursor": cursor,
        **steps,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),  # the whole child, dlt's import included
    }


def run_dlt(
    base_url: str,
    *,
    mode: Mode,
    pipelines_dir: str,
    duckdb_path: str,
    page_size: int = 1000,
    username: str = LOCAL_USERNAME,
    password: str = LOCAL_PASSWORD,
) -> dict[str, Any]:
    """Sync allocations from the WMS at ``base_url`` into ``duckdb_path`` with dlt, in a fresh child process.

    Returns ``rows`` (loaded this run), ``seconds`` (pipeline setup + extract + normalize + load,
    not the import of dlt), ``records_per_s``, ``peak_rss_mb`` (the child's ru_maxrss), ``cursor``
    (dlt's stored ``mod_ts`` cursor after the run), ``extract_s``/``normalize_s``/``load_s`` (dlt's
    step timings) and ``mode``.
    """
    args = {
        "base_url": base_url,
        "mode": mode,
        "pipelines_dir": pipelines_dir,
        "duckdb_path": duckdb_path,
        "page_size": page_size,
        "username": username,
        "password": password,
    }
    cmd = [sys.executable, "-m", "tests.performance.dlt_peer", "--child"]
    proc = subprocess.run(
        cmd, input=json.dumps(args), capture_output=True, text=True, env=_dlt_env(pipelines_dir), check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dlt child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _child() -> None:
    args = json.loads(sys.stdin.read())
    print(json.dumps(_sync(**args)), flush=True)


def _table_stats(duckdb_path: str, since: str | None = None) -> tuple[int, int]:
    """(rows in the dlt table, rows whose mod_ts >= since)."""
    import duckdb

    with duckdb.connect(duckdb_path, read_only=True) as con:
        total = con.execute(f"select count(*) from {DATASET}.{TABLE}").fetchone()
        recent = (
            con.execute(f"select count(*) from {DATASET}.{TABLE} where mod_ts >= ?::timestamptz", [since]).fetchone()
            if since
            else (0,)
        )
    assert total is not None
    assert recent is not None
    return int(total[0]), int(recent[0])


def _fmt(r: dict[str, Any]) -> str:
    return (
        f"{r['rows']:>9,} rows in {r['seconds']:7.2f}s = {r['records_per_s']:>9,.0f} rec/s,"
        f" peak RSS {r['peak_rss_mb']:6.0f} MB (extract {r.get('extract_s', 0):.1f}s,"
        f" normalize {r.get('normalize_s', 0):.1f}s, load {r.get('load_s', 0):.1f}s)"
    )


def bench(scale: int, page_size: int, modify: float) -> None:
    import httpx

    from tests.performance._common import AUTH, admin, simulator

    with simulator(scale) as base_url, tempfile.TemporaryDirectory(prefix="dlt_peer_") as tmp:
        kw: dict[str, Any] = {
            "pipelines_dir": str(Path(tmp) / "pipelines"),
            "duckdb_path": str(Path(tmp) / "dlt.duckdb"),
            "page_size": page_size,
            "username": AUTH[0],
            "password": AUTH[1],
        }
        status = httpx.get(admin(base_url) + "/status", auth=AUTH).json()
        expected = int(status["counts"]["allocation"])

        full = run_dlt(base_url, mode="full", **kw)
        total, _ = _table_stats(kw["duckdb_path"])
        ok = "OK" if total == expected == full["rows"] else "MISMATCH"
        print(f"  full sync               {_fmt(full)}; table {total:,} / simulator {expected:,} {ok}", flush=True)

        same = run_dlt(base_url, mode="incremental", **kw)
        print(f"  incremental, no change  {_fmt(same)}", flush=True)

        before = status["now"]
        adv = httpx.post(
            admin(base_url) + "/advance",
            params={"minutes": 60, "modify": modify, "insert": 0, "delete": 0},
            auth=AUTH,
        )
        adv.raise_for_status()
        modified = int(adv.json()["modified"].get("allocation", 0))
        changed = run_dlt(base_url, mode="incremental", **kw)
        total, recent = _table_stats(kw["duckdb_path"], since=before)
        ok = "OK" if total == expected and recent == modified and changed["rows"] >= modified else "MISMATCH"
        print(
            f"  incremental, {modify:.0%} changed {_fmt(changed)}; simulator modified {modified:,};"
            f" table {total:,} rows, {recent:,} with mod_ts >= {before} {ok}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, nargs="+", default=[200_000])
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--modify", type=float, default=0.01)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child()
        return
    scales = " ".join(map(str, args.scale))
    print(
        f"$ uv run --group perf python -m tests.performance.dlt_peer --scale {scales}"
        f" --page-size {args.page_size} --modify {args.modify}",
        flush=True,
    )
    import dlt

    print(f"dlt {dlt.__version__}, duckdb destination, parquet loader files, merge on id", flush=True)
    for scale in args.scale:
        print(f"scale {scale:,}", flush=True)
        bench(scale, args.page_size, args.modify)


if __name__ == "__main__":
    main()
