"""``meltano-run``: the Meltano project (``meltano/``) run by prefect-shell, for teams keeping
their Singer EL jobs. Meltano's log streams into the run's log; a non-zero exit fails the run
with Meltano's last lines; the run reports rows per stream from the tap's Singer metrics."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect_shell import ShellOperation  # type: ignore[import-untyped]

from flows.alerts import alert
from flows.tasks import settings_for
from gruponos.tap import meltano

__all__ = ["meltano_run"]

JOBS = ("full-sync-job", "incremental-sync-job")


@flow(name="meltano-run", on_failure=[alert], on_crashed=[alert])
def meltano_run(env: str = "local", job: str = "incremental-sync-job", full_refresh: bool = False) -> dict[str, int]:
    """``meltano --environment=<env> run <job>``; returns the records extracted per stream.

    The artifact shows, per stream, the records the tap extracted and the target loaded.

    The tap's settings come from gruponos's (``GRUPONOS_WMS__*``); the loader's connection from
    the worker's environment (``TARGET_POSTGRES_*``), as ``meltano/meltano.yml`` documents.
    ``local`` runs Meltano's ``dev`` environment.
    """
    if job not in JOBS:
        raise ValueError(f"job must be one of {', '.join(JOBS)}, not {job!r}")
    logger = get_run_logger()
    cfg = settings_for(env)
    password = cfg.wms.password.get_secret_value() if cfg.wms.password else ""
    variables = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TAP_ORACLE_WMS_BASE_URL": cfg.wms.base_url or "",
        "TAP_ORACLE_WMS_USERNAME": cfg.wms.username or "",
        "TAP_ORACLE_WMS_PASSWORD": password,
        "TAP_ORACLE_WMS_PAGE_SIZE": str(cfg.wms.page_size),
        "TAP_ORACLE_WMS_OVERLAP_MINUTES": str(cfg.wms.overlap_minutes),
    }
    environment = "dev" if env == "local" else env
    command = f"meltano --environment={environment} run {job}" + (" --full-refresh" if full_refresh else "")
    logger.info("%s (in %s)", command, meltano.PROJECT_DIR)
    operation = ShellOperation(
        commands=[command + " 2>&1"], working_dir=str(meltano.PROJECT_DIR), env=variables, stream_output=True
    )
    with operation:
        process = operation.trigger()
        try:
            process.wait_for_completion()
        except RuntimeError:
            tail = "\n".join(process.fetch_result()[-25:]).replace(password or "\0", "***")
            raise meltano.MeltanoError(
                f"{command} exited with code {process.return_code}; last lines:\n{tail}"
            ) from None
        lines = process.fetch_result()
    rows = meltano.record_counts(lines, "tap-")
    loaded = meltano.record_counts(lines, "target-")
    table = ["| stream | extracted | loaded |", "|---|--:|--:|"]
    table += [f"| {s} | {n:,} | {loaded.get(s, 0):,} |" for s, n in sorted(rows.items())]
    create_markdown_artifact(
        key=f"meltano-run-{env}",
        markdown=f"# meltano run {job} ({environment})\n\n" + "\n".join(table),
        description=f"{sum(rows.values()):,} records in {len(rows)} streams",
    )
    logger.info("records per stream: %s", ", ".join(f"{s} {n:,}" for s, n in sorted(rows.items())) or "none")
    return rows
