"""Prefect flows: the thin orchestration layer over ``gruponos`` (no business logic here).

    from flows import full_sync
    reports = full_sync(env="local", entities=["allocation"])

Flow names are the jobs (``full-sync``, ``incremental-sync``, ``master-data``, ``sync-entity``,
``dbt-build``, ``health-check``, ``meltano-run``); deployments (``prefect.yaml``) are named after
environments. The flows are imported on first use: ``import flows`` loads none of dbt,
prefect-dbt, singer-sdk, prefect-shell or Meltano.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# Offline-friendly defaults for runs without a Prefect server (a user's own settings win):
# no telemetry to send from a machine without internet, time for the temporary server to start.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

__all__ = [
    "dbt_build",
    "full_sync",
    "health_check",
    "incremental_sync",
    "master_data",
    "meltano_run",
    "sync_one_entity",
]

_HOMES = {
    "dbt_build": "flows.marts",
    "full_sync": "flows.sync",
    "health_check": "flows.health",
    "incremental_sync": "flows.sync",
    "master_data": "flows.sync",
    "meltano_run": "flows.meltano_jobs",
    "sync_one_entity": "flows.sync",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'flows' has no attribute {name!r}")
