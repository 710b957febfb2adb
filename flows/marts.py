"""``dbt-build``: ``dbt build`` of ``transform/`` for the environment's target.

The production build (``gruponos.dbt_runner.production_build``): after a sync, the models
build incrementally, unchanged seeds and views are left alone and the data tests read the
rows the build changed; ``full_refresh=True`` rebuilds and tests everything. Neither runs
the unit tests (CI does).

By default one ``transform`` task runs dbt in-process (dbt's own runner): dbt's partial parsing
is kept between runs (its ``target/`` lives under the data folder, not in the project), and the
run's log carries dbt's summary. ``dbt_nodes=True`` runs it through prefect-dbt instead, each
model and test a task of its own (readable node by node in the dashboard, at ~0.15 s a node).
The sync flows call ``build`` after loading unless ``run_dbt=False``.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from flows.alerts import alert
from gruponos import dbt_runner
from gruponos.settings import Settings

__all__ = ["build", "dbt_build"]


def build(
    cfg: Settings, *, threads: int | None = None, per_node: bool = False, full_refresh: bool = False
) -> tuple[str, bool]:
    """The production ``dbt build`` against the settings' warehouse: (what happened, whether it failed)."""
    logger = get_run_logger()
    if not (dbt_runner.PROJECT_DIR / "dbt_project.yml").exists():
        logger.info("no dbt project in %s: dbt build skipped", dbt_runner.PROJECT_DIR)
        return "skipped: no dbt project", False
    if per_node:
        return _per_node(cfg, threads, full_refresh)
    name = f"transform ({dbt_runner.dbt_target(cfg)}{', full refresh' if full_refresh else ''})"
    return transform.with_options(task_run_name=name)(cfg, threads, full_refresh)


@task(name="transform", persist_result=False)
def transform(cfg: Settings, threads: int | None, full_refresh: bool = False) -> tuple[str, bool]:
    """``dbt build`` in this process; the failed nodes named when any fails."""
    logger = get_run_logger()
    logger.info(
        "dbt build%s (target %s, %s threads)",
        " --full-refresh" if full_refresh else "",
        dbt_runner.dbt_target(cfg),
        threads or "default",
    )
    result = dbt_runner.production_build(cfg, full_refresh=full_refresh, threads=threads)
    if result.exception is not None:
        return f"dbt build could not run: {result.exception}", True
    summary = dbt_runner.summary(result)
    if not result.success:
        logger.error("dbt build failed: %s", dbt_runner.failures(result))
        return f"dbt build: {summary}; failed: {dbt_runner.failures(result)}", True
    logger.info("dbt build: %s", summary)
    return f"dbt build: {summary}", False


def _per_node(cfg: Settings, threads: int | None, full_refresh: bool) -> tuple[str, bool]:
    """prefect-dbt: each dbt node a task of the run."""
    from dbt_common.events.base_types import EventLevel
    from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings  # type: ignore[import-untyped]

    work = dbt_runner.work_dir(cfg)
    plan = dbt_runner.production_args(cfg, full_refresh=full_refresh, target_path=work / "target")
    args = dbt_runner.dbt_args("build", cfg, *plan.args[1:], target_path=work / "target", log_path=work / "logs")
    success = False
    try:
        settings = PrefectDbtSettings(
            project_dir=dbt_runner.PROJECT_DIR, profiles_dir=dbt_runner.PROJECT_DIR, log_level=EventLevel.INFO
        )
        with dbt_runner.environment(cfg, threads=threads), dbt_runner.data_test_scope(full_refresh=full_refresh):
            result = PrefectDbtRunner(settings=settings, raise_on_failure=True).invoke(args)
        success = True
    except (ValueError, RuntimeError) as exc:  # prefect-dbt names every failed node
        return str(exc), True
    finally:
        dbt_runner.release_duckdb()
        dbt_runner.record_state(cfg, success, target_path=work / "target", skipped=plan.skipped, runs=plan.runs)
    nodes = len(result.result.results) if result.result is not None and hasattr(result.result, "results") else 0
    return f"dbt build: {nodes} nodes passed", False


@flow(name="dbt-build", on_failure=[alert], on_crashed=[alert])
def dbt_build(
    env: str = "local", dbt_threads: int | None = None, dbt_nodes: bool = False, full_refresh: bool = False
) -> str:
    """Run ``dbt build`` for the environment (``full_refresh``: rebuild and test everything);
    the run fails naming the failed models and tests."""
    from flows.tasks import settings_for

    message, failed = build(settings_for(env), threads=dbt_threads, per_node=dbt_nodes, full_refresh=full_refresh)
    if failed:
        raise RuntimeError(message)
    return message
