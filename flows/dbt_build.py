"""``dbt-build``: ``dbt build`` of ``transform/`` for the environment's target, through prefect-dbt.

Each dbt node becomes a Prefect task (``PrefectDbtRunner``); a failing model or test fails the
run with the node's name and message. ``full-sync`` and ``incremental-sync`` call ``build``
after loading unless ``run_dbt=False``.
"""

from __future__ import annotations

from pathlib import Path

from dbt_common.events.base_types import EventLevel
from prefect import flow, get_run_logger
from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings  # type: ignore[import-untyped]
from returns.result import Failure, Result, Success

from flows.alerts import alert
from gruponos import dbt_runner
from gruponos.settings import Settings

__all__ = ["build", "dbt_build", "work_dir"]


def work_dir(cfg: Settings) -> Path:
    """Where dbt writes its ``target/`` and ``logs/``: beside the landing folder, out of the project."""
    return Path(cfg.flows.landing_path).resolve().parent / "dbt"


def build(cfg: Settings, *, threads: int | None = None) -> Result[str, str]:
    """``dbt build`` against the settings' warehouse: Success naming what ran, or Failure naming the nodes."""
    logger = get_run_logger()
    if not (dbt_runner.PROJECT_DIR / "dbt_project.yml").exists():
        logger.info("no dbt project in %s: dbt build skipped", dbt_runner.PROJECT_DIR)
        return Success("skipped: no dbt project")
    work = work_dir(cfg)
    args = dbt_runner.dbt_args("build", cfg, target_path=work / "target", log_path=work / "logs")
    logger.info("dbt build (target %s, %s threads)", dbt_runner.dbt_target(cfg), threads or "default")
    try:
        settings = PrefectDbtSettings(
            project_dir=dbt_runner.PROJECT_DIR, profiles_dir=dbt_runner.PROJECT_DIR, log_level=EventLevel.INFO
        )
        with dbt_runner.environment(cfg, threads=threads):
            result = PrefectDbtRunner(settings=settings, raise_on_failure=True).invoke(args)
    except (ValueError, RuntimeError) as exc:  # prefect-dbt names every failed node
        return Failure(str(exc))
    finally:
        dbt_runner.release_duckdb()
    nodes = len(result.result.results) if result.result is not None and hasattr(result.result, "results") else 0
    return Success(f"dbt build: {nodes} nodes passed")


@flow(name="dbt-build", on_failure=[alert], on_crashed=[alert])
def dbt_build(env: str = "local", dbt_threads: int | None = None) -> str:
    """Run ``dbt build`` for the environment; the run fails naming the failed models and tests."""
    from flows.tasks import settings_for

    result = build(settings_for(env), threads=dbt_threads)
    if isinstance(result, Failure):
        raise RuntimeError(result.failure())
    done: str = result.unwrap()
    return done
