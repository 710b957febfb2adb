"""``health-check``: the WMS answers and accepts our credentials, the warehouse takes writes,
and every entity's last successful sync is within its freshness limit."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from flows.alerts import alert
from flows.tasks import settings_for
from gruponos.errors import Error
from gruponos.settings import Settings
from gruponos.status import entity_status, stale
from gruponos.warehouse import connect
from gruponos.wms import WmsClient

__all__ = ["health_check"]


@task(name="check-wms", cache_policy=NONE, retries=2, retry_delay_seconds=5)
def check_wms(cfg: Settings) -> list[str]:
    """Reachable and authorised (``GET entity/`` with our credentials)."""
    try:
        with WmsClient(cfg.wms) as wms:
            wms.ping()
    except Error as exc:
        return [f"WMS: {exc}"]
    return []


@task(name="check-warehouse", cache_policy=NONE, retries=2, retry_delay_seconds=5)
def check_warehouse(cfg: Settings) -> list[str]:
    """Reachable and writable, and every entity fresh enough."""
    try:
        warehouse = connect(cfg.warehouse)
    except Error as exc:
        return [f"warehouse: {exc}"]
    try:
        warehouse.probe()
        return stale(entity_status(warehouse, cfg.warehouse.db_schema), cfg)
    except Error as exc:
        return [f"warehouse: {exc}"]
    finally:
        warehouse.close()


@flow(name="health-check", on_failure=[alert], on_crashed=[alert])
def health_check(env: str = "local") -> list[str]:
    """Fails (and alerts) naming every problem found; returns the checks passed otherwise."""
    cfg = settings_for(env)
    problems = check_wms(cfg) + check_warehouse(cfg)
    lines = [f"# Health check ({env})", ""] + ([f"- ❌ {p}" for p in problems] or ["All checks passed."])
    create_markdown_artifact(key=f"health-check-{env}", markdown="\n".join(lines))
    if problems:
        raise RuntimeError(f"{len(problems)} problem(s): " + "; ".join(problems))
    get_run_logger().info("healthy: WMS answers, warehouse writable, every entity fresh")
    return ["wms", "warehouse", "freshness"]
