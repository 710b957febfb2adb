"""tap-oracle-wms speed: allocations from the simulator as Singer records, alone and into target-jsonl.

    uv run python -m tests.performance.bench_tap [--size 200000] [--meltano]

1. the tap alone, its output discarded (what the tap costs);
2. ``tap-oracle-wms | target-jsonl`` as two processes joined by a pipe (what Meltano runs);
3. with ``--meltano``: ``meltano run tap-oracle-wms target-jsonl`` (adds Meltano's relay).

Each process's peak RSS is its own (read with ``wait4``); the simulator runs in a third
process with every page pre-rendered, so serving is not what is measured. The loaders come
from ``meltano install`` (under meltano/.meltano).
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
from typing import IO, Any

from gruponos.tap import meltano
from tests.performance._common import AUTH, simulator

TAP = str(Path(sys.executable).parent / "tap-oracle-wms")
TARGET_JSONL = meltano.PROJECT_DIR / ".meltano/loaders/target-jsonl/venv/bin/target-jsonl"


def _wait(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Reap a child: (exit code, peak RSS in MB)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024


def _tap(config: Path, stdout: int | IO[bytes], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([TAP, "--config", str(config)], stdout=stdout, stderr=log)


def tap_alone(config: Path, work: Path) -> dict[str, Any]:
    with (work / "tap-alone.log").open("wb") as log:
        started = time.perf_counter()
        tap = _tap(config, subprocess.DEVNULL, log)
        code, rss = _wait(tap)
    seconds = time.perf_counter() - started
    if code:
        raise SystemExit(f"the tap failed ({code}); see {work / 'tap-alone.log'}")
    return {"seconds": seconds, "tap_rss_mb": rss}


def tap_to_jsonl(config: Path, work: Path) -> dict[str, Any]:
    out = work / "jsonl"
    out.mkdir()
    target_config = work / "target.json"
    target_config.write_text(json.dumps({"destination_path": str(out), "do_timestamp_file": False}))
    with (work / "tap.log").open("wb") as tap_log, (work / "target.log").open("wb") as target_log:
        started = time.perf_counter()
        tap = _tap(config, subprocess.PIPE, tap_log)
        target = subprocess.Popen(
            [str(TARGET_JSONL), "--config", str(target_config)],
            stdin=tap.stdout,
            stdout=subprocess.DEVNULL,
            stderr=target_log,
        )
        assert tap.stdout is not None
        tap.stdout.close()  # the target holds the read end
        tap_code, tap_rss = _wait(tap)
        target_code, target_rss = _wait(target)
    seconds = time.perf_counter() - started
    if tap_code or target_code:
        raise SystemExit(f"tap exited {tap_code}, target-jsonl exited {target_code}; logs in {work}")
    with (out / "allocation.jsonl").open("rb") as f:
        rows = sum(1 for _ in f)
    return {"seconds": seconds, "rows": rows, "tap_rss_mb": tap_rss, "target_rss_mb": target_rss}


def meltano_run(base_url: str, work: Path) -> dict[str, Any]:
    out = work / "meltano-jsonl"
    out.mkdir()
    env = {
        "MELTANO_DATABASE_URI": f"sqlite:///{work / 'meltano.db'}",
        "TAP_ORACLE_WMS_BASE_URL": base_url,
        "TAP_ORACLE_WMS_USERNAME": AUTH[0],
        "TAP_ORACLE_WMS_PASSWORD": AUTH[1],
        "TAP_ORACLE_WMS_ENTITIES": '["allocation"]',
        "TARGET_JSONL_DESTINATION_PATH": str(out),
    }
    run = meltano.run("tap-oracle-wms", "target-jsonl", env=env)
    with (out / "allocation.jsonl").open("rb") as f:
        rows = sum(1 for _ in f)
    return {"seconds": run.seconds, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--meltano", action="store_true", help="also time `meltano run tap-oracle-wms target-jsonl`")
    args = parser.parse_args()
    print(f"$ uv run python -m tests.performance.bench_tap --size {args.size}" + (" --meltano" * args.meltano))
    meltano.install()
    work = Path(tempfile.mkdtemp(prefix="bench-tap-"))
    with simulator(args.size) as base_url:
        config = work / "tap.json"
        settings = {"base_url": base_url, "username": AUTH[0], "password": AUTH[1], "entities": ["allocation"]}
        config.write_text(json.dumps(settings))

        r = tap_alone(config, work)
        rate = args.size / r["seconds"]
        print(f"  tap alone (output discarded) {args.size:>9,} records in {r['seconds']:6.2f}s = "
              f"{rate:>8,.0f} records/s, tap peak RSS {r['tap_rss_mb']:4.0f} MB", flush=True)  # fmt: skip

        r = tap_to_jsonl(config, work)
        if r["rows"] != args.size:
            raise SystemExit(f"target-jsonl wrote {r['rows']:,} rows, expected {args.size:,}")
        rate = r["rows"] / r["seconds"]
        print(f"  tap | target-jsonl           {r['rows']:>9,} records in {r['seconds']:6.2f}s = "
              f"{rate:>8,.0f} records/s, peak RSS tap {r['tap_rss_mb']:4.0f} MB, "
              f"target {r['target_rss_mb']:4.0f} MB", flush=True)  # fmt: skip

        if args.meltano:
            r = meltano_run(base_url, work)
            rate = r["rows"] / r["seconds"]
            print(f"  meltano run                  {r['rows']:>9,} records in {r['seconds']:6.2f}s = "
                  f"{rate:>8,.0f} records/s (Meltano start-up included)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
