"""Running dbt in this process, and reading what a run did.

A build that reads the sources (``build``, ``run``, ``test``, ``snapshot``) leaves out every
declared source whose raw table the warehouse does not have (an entity never synced) and
what is built on it, and logs which (:func:`missing_sources`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gruponos.dbt_runner.project import dbt_args, declared_sources, environment, work_dir
from gruponos.settings import Settings

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

__all__ = ["failures", "invoke", "missing_sources", "relation_exists", "release_duckdb", "source_exclusions", "summary"]

log = logging.getLogger(__name__)

# dbt commands that read the sources (and fail on a missing raw table).
_READS_SOURCES = frozenset({"build", "run", "test", "snapshot"})


def invoke(
    args: Sequence[str],
    settings: Settings,
    *,
    schema: str | None = None,
    target_path: Path | str | None = None,
    log_path: Path | str | None = None,
    exclude_missing: bool = True,
    callbacks: Sequence[Callable[[Any], None]] = (),
) -> dbtRunnerResult:
    """Run one dbt command in this process (dbt's ``dbtRunner``) against the settings' warehouse.

    ``args`` is the command and its own options (``["build", "--select", "marts"]``,
    ``["docs", "generate"]``); the project, profiles and target are added. The result's
    ``success`` is False when any node failed, and ``result`` holds every node's status
    (``exception`` when dbt itself broke). DuckDB is released afterwards (see
    :func:`release_duckdb`). A command that reads the sources leaves out the sources whose
    raw table is missing (:func:`source_exclusions`) unless ``exclude_missing=False``.
    """
    from dbt.cli.main import dbtRunner  # dbt is slow to import: only when dbt runs

    words = 1
    while words < len(args) and not args[words].startswith("-"):
        words += 1  # "docs generate", "source freshness"
    command, extra = " ".join(args[:words]), list(args[words:])
    work = work_dir(settings)
    if exclude_missing and command in _READS_SOURCES:
        extra += source_exclusions(settings, Path(target_path or work / "target") / "manifest.json")
    full = dbt_args(
        command, settings, *extra, target_path=target_path or work / "target", log_path=log_path or work / "logs"
    )
    try:
        with environment(settings, schema=schema):
            return dbtRunner(callbacks=list(callbacks)).invoke(full)
    finally:
        release_duckdb()


def relation_exists(warehouse: Any, schema: str, name: str) -> bool | None:
    """Whether the warehouse has the table or view ``schema.name`` (None: it could not tell —
    a fault that may heal, which is logged)."""
    from gruponos.errors import WarehouseError

    try:
        warehouse.query(f"SELECT 1 FROM {warehouse.dialect.table(schema, name)} WHERE 1 = 0")
    except WarehouseError as exc:
        if exc.retryable:
            log.warning("dbt: could not look for %s.%s: %s", schema, name, exc)
            return None
        return False
    return True


def _read_sources(manifest: Path) -> set[str] | None:
    """The ``wms`` sources some node reads, from a manifest dbt wrote (None: no manifest)."""
    try:
        children: dict[str, list[str]] = json.loads(manifest.read_bytes())["child_map"]
    except (OSError, ValueError, KeyError):
        return None
    prefix = "source.gruponos.wms."
    return {key.removeprefix(prefix) for key, nodes in children.items() if key.startswith(prefix) and nodes}


def missing_sources(settings: Settings) -> dict[str, str]:
    """The declared sources whose raw table the settings' warehouse lacks, each with why.

    An entity nobody synced (left out of the selection) has no raw table, and dbt would fail
    on its staging view. Empty when the warehouse cannot be opened (dbt then says why).
    """
    from gruponos.errors import WarehouseError
    from gruponos.warehouse import connect

    try:
        warehouse = connect(settings.warehouse)
    except WarehouseError as exc:
        log.warning("dbt: could not look for missing raw tables: %s", exc)
        return {}
    missing = {}
    try:
        for name in declared_sources():
            if relation_exists(warehouse, warehouse.schema, name) is False:
                table = warehouse.table(name)
                missing[name] = f"no raw table {table} in the warehouse (the entity was never synced)"
    finally:
        warehouse.close()
    return missing


def source_exclusions(settings: Settings, manifest: Path | None = None) -> list[str]:
    """``--exclude source:wms.<entity>+`` for each source :func:`missing_sources` finds.

    Each is logged as a warning when something reads it (by ``manifest``, the last one dbt
    wrote; every source when there is none), otherwise at debug level.
    """
    missing = missing_sources(settings)
    read = _read_sources(manifest) if manifest is not None else None
    for name, why in missing.items():
        level = logging.WARNING if read is None or name in read else logging.DEBUG
        log.log(level, "dbt: source wms.%s and everything built on it skipped: %s", name, why)
    return ["--exclude", *(f"source:wms.{name}+" for name in missing)] if missing else []


def summary(result: dbtRunnerResult) -> str:
    """What a dbt run did, by status (``176 pass, 2 warn``), or its error."""
    if result.exception is not None:
        return f"dbt could not run: {result.exception}"
    counts: dict[str, int] = {}
    for r in getattr(result.result, "results", None) or []:
        status = str(getattr(r.status, "value", r.status))
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to do"


def failures(result: dbtRunnerResult) -> str:
    """The failed nodes of a dbt run, named with their message (or dbt's own error)."""
    if result.exception is not None:
        return str(result.exception)
    failed = [
        f"{r.node.name}: {r.message}"
        for r in getattr(result.result, "results", None) or []
        if str(getattr(r.status, "value", r.status)) in ("error", "fail", "runtime error")
    ]
    return "; ".join(failed[:10]) or "dbt reported a failure"


def release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a run.

    dbt-duckdb holds the file (and its lock) until the process ends: a long-lived process
    that runs dbt in-process (a Prefect worker, the demo) must call this after each run, or
    the next sync — and any read-only reader — cannot open the file. A no-op otherwise.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed
        return
    with DuckDBConnectionManager._LOCK:
        env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if env is not None:
        env.close()
