"""``health-check``: the WMS answers and accepts our credentials, the warehouse takes writes,
every selected entity's last successful sync is within its freshness limit, and ``dbt source
freshness`` passes for the selected entities' raw tables (the dbt project declares a source for
every entity a deployment may sync; one it does not select has no table to measure). The
limits have one home, the dbt project's vars (``gruponos.dbt_runner.freshness_hours``). A check
reports what it finds now: the client retries the WMS within its budget, and the next
scheduled check is the retry."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from flows.alerts import alert
from flows.tasks import settings_for
from gruponos import dbt_runner
from gruponos.catalog import discover
from gruponos.errors import Error
from gruponos.redact import redact
from gruponos.settings import Settings
from gruponos.warehouse import connect
from gruponos.warehouse.status import entity_status, stale
from gruponos.wms import WmsClient

__all__ = ["health_check"]


@task(name="check wms", cache_policy=NONE)
def check_wms(cfg: Settings) -> tuple[list[str], dict[str, str]]:
    """Reachable and authorised (``GET entity/`` with our credentials): (problems, the selected
    entities with their sync classes)."""
    try:
        with WmsClient(cfg.wms) as wms:
            catalog = discover(wms, cfg.sync)
    except Error as exc:
        return [f"WMS: {redact(exc)}"], {}
    return [], {name: str(catalog.spec(name).sync_class) for name in catalog.selected}


@task(name="check warehouse", cache_policy=NONE)
def check_warehouse(cfg: Settings, expected: dict[str, str]) -> list[str]:
    """Reachable and writable, and every selected entity fresh enough (never synced counts as late)."""
    try:
        warehouse = connect(cfg.warehouse)
    except Error as exc:
        return [f"warehouse: {redact(exc)}"]
    try:
        warehouse.probe()
        statuses = entity_status(warehouse, cfg.warehouse.db_schema)
    except Error as exc:
        return [f"warehouse: {redact(exc)}"]
    finally:
        warehouse.close()
    limits = dbt_runner.freshness_hours(cfg)
    known = {s.entity for s in statuses}
    never = [f"{name}: never synced successfully" for name in expected if name not in known]
    return never + stale([s for s in statuses if not expected or s.entity in expected], limits, classes=expected)


@task(name="check source freshness", cache_policy=NONE)
def check_source_freshness(cfg: Settings, entities: list[str]) -> list[str]:
    """``dbt source freshness`` over the raw tables of ``entities``: an ``error`` is a problem, a
    ``warn`` a warning."""
    logger = get_run_logger()
    if not entities or not (dbt_runner.PROJECT_DIR / "dbt_project.yml").exists():
        return []
    selected = [f"source:wms.{name}" for name in entities]
    result = dbt_runner.invoke(["source", "freshness", "--select", *selected], cfg)
    if result.exception is not None:
        return [f"dbt source freshness could not run: {result.exception}"]
    problems = []
    for r in getattr(result.result, "results", []):
        status = str(getattr(r.status, "value", r.status))
        name = r.node.name if hasattr(r, "node") else r.unique_id
        if status in ("error", "runtime error"):
            detail = f"{r.age / 3600:.1f} h since the last load" if hasattr(r, "age") else str(r.error)
            problems.append(f"source {name}: freshness {status} ({detail})")
        elif status == "warn":
            logger.warning("source %s: freshness warn (%.1f h since the last load)", name, r.age / 3600)
    return problems


@flow(name="health-check", on_failure=[alert], on_crashed=[alert])
def health_check(env: str = "local") -> list[str]:
    """Fails (and alerts) naming every problem found; returns the checks passed otherwise."""
    cfg = settings_for(env)
    problems, expected = check_wms(cfg)
    problems += check_warehouse(cfg, expected)
    if not problems:  # dbt's own view of the sources (loaded_at_field + freshness per source)
        problems += check_source_freshness(cfg, list(expected))
    lines = [f"# Health check ({env})", ""] + ([f"- ❌ {p}" for p in problems] or ["All checks passed."])
    create_markdown_artifact(key=f"health-check-{env}", markdown="\n".join(lines))
    if problems:
        raise RuntimeError(f"{len(problems)} problem(s): " + "; ".join(problems))
    get_run_logger().info("healthy: WMS answers, warehouse writable, every entity fresh")
    return ["wms", "warehouse", "freshness", "source freshness"]
