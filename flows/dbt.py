"""``dbt-build``: the dbt project under ``transform/`` for the environment's target.

Until the dbt project lands (``transform/dbt_project.yml``) the flow says so and does nothing.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from returns.result import Failure, Result, Success

from flows.alerts import alert
from gruponos.settings import Settings

__all__ = ["PROJECT_DIR", "build_if_present", "dbt_build"]

PROJECT_DIR = Path(__file__).resolve().parent.parent / "transform"


def build_if_present(cfg: Settings, *, threads: int | None = None) -> Result[str, str]:
    """``dbt build`` when a dbt project exists; Success with what was done, or Failure naming why."""
    logger = get_run_logger()
    if not (PROJECT_DIR / "dbt_project.yml").exists():
        logger.info("no dbt project in %s yet: dbt build skipped", PROJECT_DIR)
        return Success("skipped: no dbt project")
    del cfg, threads
    return Failure("the dbt project exists but this build of gruponos cannot run it yet")


@flow(name="dbt-build", on_failure=[alert], on_crashed=[alert])
def dbt_build(env: str = "local", dbt_threads: int | None = None) -> str:
    """Run ``dbt build`` for the environment (placeholder until the dbt project exists)."""
    from flows.tasks import settings_for

    result = build_if_present(settings_for(env), threads=dbt_threads)
    if isinstance(result, Failure):
        raise RuntimeError(result.failure())
    return result.unwrap()
