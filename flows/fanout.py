"""Fan-out: each entity of a sync as its own ``sync-entity`` flow run on the work pool.

A pool of N workers (process, Docker, Kubernetes) then spreads one sync over N machines; the
parent run waits for its children and collects their reports. The children's results are
persisted under ``GRUPONOS_FLOWS__RESULTS_PATH``, which the workers must share with the parent
(one machine, or a shared volume).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.logging import get_run_logger

from flows.tasks import Outcome
from gruponos.errors import SyncError
from gruponos.pipeline import EntityReport

__all__ = ["fan_out"]


def fan_out(
    env: str,
    names: list[str],
    mode: str,
    now: datetime,
    group: str,
    *,
    page_size: int | None,
    merge_batch_size: int | None,
) -> list[Outcome]:
    """Schedule one ``sync-entity/<env>`` run per entity, then wait for each; their outcomes in order."""
    logger = get_run_logger()
    deployment = f"sync-entity/{env}"
    schedule: Any = run_deployment  # called from a sync flow: returns the FlowRun
    children: list[FlowRun] = [
        schedule(
            name=deployment,
            parameters={
                "env": env,
                "entity": name,
                "mode": mode,
                "now": now.isoformat(),
                "group": group,
                "page_size": page_size,
                "merge_batch_size": merge_batch_size,
            },
            timeout=0,  # scheduled now, awaited below
            flow_run_name=f"sync {name} ({mode})",
        )
        for name in names
    ]
    logger.info("%d entities fanned out to %s", len(children), deployment)
    outcomes: list[Outcome] = []
    for name, child in zip(names, children, strict=True):
        finished = _wait(child)
        state = finished.state
        if state is not None and state.is_completed():
            report = state.result()
            if isinstance(report, EntityReport):
                outcomes.append(report)
                continue
        message = state.message if state is not None and state.message else "the run did not complete"
        outcomes.append(
            SyncError(name, "fan-out", f"flow run {finished.name} {state.name if state else '?'}: {message}")
        )
    return outcomes


def _wait(child: FlowRun, poll_s: float = 2.0) -> FlowRun:
    """The child run once it reached a final state."""
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(child.id)
            if run.state is not None and run.state.is_final():
                return run
            time.sleep(poll_s)
