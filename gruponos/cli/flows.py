"""``gruponos sync`` through the Prefect flows (``PREFECT_API_URL`` set, or ``--prefect``)."""

from __future__ import annotations

import os
import threading
from typing import Any

from gruponos import settings as settings_module
from gruponos.cli.output import Bars
from gruponos.runs import Progress

__all__ = ["prefect_defaults", "run_flow"]


def prefect_defaults(*, verbose: bool) -> None:
    """Offline-friendly Prefect settings for an ad hoc run (the user's own settings win)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    if not verbose:  # the run's logs still reach the Prefect API; the terminal shows the table and the error
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL", "CRITICAL")
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL", "CRITICAL")


def run_flow(
    cfg: settings_module.Settings,
    kind: str,
    entities: list[str] | None,
    *,
    run_dbt: bool,
    stop: threading.Event,
    verbose: bool,
) -> tuple[list[Any], str | None]:
    """Run the kind's flow ad hoc with a progress bar per entity: (outcomes, the run's error)."""
    prefect_defaults(verbose=verbose)
    from flows import tasks
    from flows.sync import SyncFailed, full_sync, incremental_sync, master_data
    from gruponos.pipeline import Stopped

    chosen = {"full": full_sync, "incremental": incremental_sync, "master": master_data}[kind]
    with Bars() as bars:

        def tick(name: str, phase: str, rows: int) -> None:
            if stop.is_set():
                raise Stopped
            bars.update(Progress(name, phase, rows))

        tasks.listeners.append(tick)
        try:
            state = chosen(env=cfg.env.value, entities=entities, run_dbt=run_dbt, return_state=True)
        finally:
            tasks.listeners.remove(tick)
    value: Any = state.result(raise_on_failure=False)
    if isinstance(value, SyncFailed):
        return value.outcomes, value.message
    if isinstance(value, BaseException):
        return [], f"the {chosen.name} run {state.name}: {state.message or value}"
    return list(value), None
