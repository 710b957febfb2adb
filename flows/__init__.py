"""Prefect flows: the thin orchestration layer over ``gruponos`` (no business logic here).

    from flows import full_sync
    reports = full_sync(env="local", entities=["allocation"])

Flow names are the jobs (``full-sync``, ``incremental-sync``, ``master-data``, ``dbt-build``,
``health-check``); deployments (``prefect.yaml``) are named after environments.
"""

from flows.dbt_build import dbt_build
from flows.health import health_check
from flows.meltano_run import meltano_run
from flows.sync import full_sync, incremental_sync, master_data

__all__ = ["dbt_build", "full_sync", "health_check", "incremental_sync", "master_data", "meltano_run"]
