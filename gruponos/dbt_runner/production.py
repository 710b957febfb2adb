"""The production build: the ``dbt build`` a sync runs after loading, and the full rebuild.

After a sync the build leaves out what the sync cannot have changed: the seeds and views
whose definition is the same as at the last successful production build (dbt's
``state:unmodified`` against that build's manifest) and everything built only on sources no
sync run has changed since then (the run log, :func:`changed_sources`); its data tests read
only the rows it changed (``GRUPONOS_DBT__TEST_SCOPE=window``, ``transform/macros/
incremental.sql``). The full rebuild runs every seed, model, snapshot and data test over
every row.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gruponos.dbt_runner.project import dbt_target, project_vars, work_dir
from gruponos.dbt_runner.run import invoke, relation_exists, source_exclusions
from gruponos.settings import Settings
from gruponos.warehouse.status import RunLog, changed_entities, read_run_log

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

__all__ = [
    "PRODUCTION_EXCLUDES",
    "QUIET_SELECTION",
    "TEST_SCOPE",
    "BuildPlan",
    "build_args",
    "changed_sources",
    "data_test_scope",
    "forget_lost_state",
    "production_args",
    "production_build",
    "record_state",
]

log = logging.getLogger(__name__)

# The variable that tells the project's tests which rows to read (macros/incremental.sql):
# "window" (the rows the build changed), "all" (every row, and the window moves on).
TEST_SCOPE = "GRUPONOS_DBT__TEST_SCOPE"

# Node types the production build leaves out: unit tests check the SQL, not the data, and
# run where the SQL changes (CI: tests/integration/test_dbt.py runs a plain `dbt build`).
PRODUCTION_EXCLUDES = ("--exclude-resource-type", "unit_test")

# dbt warns on the terminal for each selection criterion that selects nothing, and when
# nothing is selected at all; after a sync `state:modified+` usually selects nothing (no
# definition changed since the last build), and a build after a sync that changed nothing
# has nothing to do (the runner says so in its own words).
QUIET_SELECTION = ("--warn-error-options", json.dumps({"silence": ["NoNodesForSelectionCriteria", "NothingToDo"]}))


def production_build(
    settings: Settings,
    *,
    full_refresh: bool = False,
    threads: int | None = None,
    schema: str | None = None,
    target_path: Path | str | None = None,
    log_path: Path | str | None = None,
    log_level: str | None = None,
    callbacks: Sequence[Callable[[Any], None]] = (),
) -> dbtRunnerResult:
    """The ``dbt build`` a sync runs after loading (or, ``full_refresh``, the full rebuild);
    ``log_level`` (``warn``) keeps dbt's per-node lines off the terminal (its log file has them);
    ``callbacks``: see :func:`invoke`.

    Both leave out the unit tests (:data:`PRODUCTION_EXCLUDES`). After a sync, the build
    (:func:`build_args`) also leaves out the seeds and views whose definition has not changed
    since its last successful build and what is built only on sources no sync run changed
    since then (:func:`changed_sources`), and its data tests read only the rows it changed
    (``GRUPONOS_DBT__TEST_SCOPE=window``, see ``transform/macros/incremental.sql``). The full
    rebuild runs every seed, model, snapshot and data test over every row.
    """
    target = Path(target_path or work_dir(settings) / "target")
    plan = production_args(settings, full_refresh=full_refresh, schema=schema, target_path=target)
    args = plan.args
    if threads:
        args += ["--threads", str(threads)]
    if log_level:
        args += ["--log-level", log_level]
    with data_test_scope(full_refresh=full_refresh):
        result = invoke(
            args,
            settings,
            schema=schema,
            target_path=target,
            log_path=log_path,
            exclude_missing=False,
            callbacks=callbacks,
        )
    record_state(settings, result.success, schema=schema, target_path=target, skipped=plan.skipped, runs=plan.runs)
    return result


@dataclass(frozen=True, slots=True)
class BuildPlan:
    """A production build: dbt's arguments, the source exclusions they carry and the run log
    as it stood before the build started (both kept by :func:`record_state` when it passes)."""

    args: list[str]
    skipped: list[str]
    runs: RunLog | None


def production_args(
    settings: Settings, *, full_refresh: bool = False, schema: str | None = None, target_path: Path
) -> BuildPlan:
    """The production build's plan (:func:`build_args`), the last build's state forgotten first
    when the warehouse lost what it built (:func:`forget_lost_state`). Whoever runs dbt (this
    module's runner or prefect-dbt's) starts here, and hands the plan to :func:`record_state`."""
    skipped = source_exclusions(settings, target_path / "manifest.json")
    if not full_refresh:
        forget_lost_state(settings, schema=schema, target_path=target_path)
    kept = None if full_refresh else _kept_runs(_state_dir(settings, schema, target_path))  # a rebuild builds all
    runs, changed = changed_sources(settings, kept)
    args = build_args(
        settings, full_refresh=full_refresh, schema=schema, target_path=target_path, skipped=skipped, changed=changed
    )
    return BuildPlan(args, skipped, runs)


def changed_sources(settings: Settings, seen: RunLog | None) -> tuple[RunLog | None, set[str] | None]:
    """The run log as it stands now, and the sources a sync run changed since it was ``seen``
    (None: unknown — no log seen, or the warehouse could not tell; every source counts).

    The look-back is the dbt project's ``incremental_lookback_hours``, the one its incremental
    models allow late commits and clocks behind."""
    from gruponos.errors import WarehouseError
    from gruponos.warehouse import connect

    lookback = timedelta(hours=float(project_vars()["incremental_lookback_hours"]))
    try:
        warehouse = connect(settings.warehouse)
    except WarehouseError:
        return None, None  # dbt will say why it cannot connect
    try:
        now = read_run_log(warehouse, lookback)
        changed = changed_entities(warehouse, seen) if seen is not None else None
    except WarehouseError as exc:
        log.warning("dbt: could not read the run log (every source is built): %s", exc)
        return None, None
    finally:
        warehouse.close()
    if changed is not None:
        log.info("dbt: sources changed since the last build: %s", ", ".join(sorted(changed)) or "none")
    return now, changed


@contextmanager
def data_test_scope(*, full_refresh: bool) -> Iterator[None]:
    """The rows the project's data tests read during a build (:data:`TEST_SCOPE`): every row
    for a full rebuild, the rows the build changed otherwise; the previous value restored."""
    saved = os.environ.get(TEST_SCOPE)
    os.environ[TEST_SCOPE] = "all" if full_refresh else "window"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(TEST_SCOPE, None)
        else:
            os.environ[TEST_SCOPE] = saved


def build_args(
    settings: Settings,
    *,
    full_refresh: bool = False,
    schema: str | None = None,
    target_path: Path | str | None = None,
    skipped: Sequence[str] = (),
    changed: Collection[str] | None = None,
) -> list[str]:
    """The production build's command and options (``dbt build ...``; see :func:`production_build`).

    ``skipped``: :func:`source_exclusions`, appended. Seeds and views are left out only when
    they are unchanged since the last successful production build into the same schema, with
    the same sources skipped (dbt's ``state:unmodified`` against that build's manifest, which
    :func:`record_state` keeps); their data tests still run (indirect selection ``empty``),
    but the seeds' own tests, which read nothing else, do not. Against that build, when
    ``changed`` names the sources synced since (:func:`changed_sources`), only what is built on
    them or on a changed definition runs (``--select source:wms.<name>+ state:modified+``).
    """
    args = ["build", *PRODUCTION_EXCLUDES]
    if full_refresh:
        return [*args, "--full-refresh", *skipped]
    state = _state_dir(settings, schema, Path(target_path or work_dir(settings) / "target"))
    try:
        same = (state / "skipped.json").read_text() == json.dumps(list(skipped))
    except OSError:
        same = False
    if same and (state / "manifest.json").is_file():
        args += ["--state", str(state), "--indirect-selection", "empty"]
        if changed is not None:
            args += ["--select", "state:modified+", *(f"source:wms.{name}+" for name in sorted(changed))]
        args += ["--exclude", "path:seeds,state:unmodified", "config.materialized:view,state:unmodified"]
        args += list(skipped[1:])  # more --exclude values
        if changed is not None:
            args += QUIET_SELECTION  # most builds change no definition: state:modified+ selects nothing
    else:
        args += list(skipped)
    return args


def record_state(
    settings: Settings,
    success: bool,
    *,
    schema: str | None = None,
    target_path: Path | str,
    skipped: Sequence[str] = (),
    runs: RunLog | None = None,
) -> None:
    """Keep the manifest of a successful production build (what :func:`build_args` compares
    with), the sources it skipped and the run log as it stood when the build started (``runs``,
    what :func:`changed_sources` compares with); forget them after a failure, so the next build
    runs every seed and view, and builds on every source, again."""
    state = _state_dir(settings, schema, Path(target_path))
    shutil.rmtree(state, ignore_errors=True)
    if not success:
        return
    state.mkdir(parents=True)
    shutil.copyfile(Path(target_path) / "manifest.json", state / "manifest.json")
    (state / "skipped.json").write_text(json.dumps(list(skipped)))
    if runs is not None and runs.since is not None:
        kept = {"since": runs.since.isoformat(), "finished": sorted(runs.finished)}
        (state / "runs.json").write_text(json.dumps(kept))


def _kept_runs(state: Path) -> RunLog | None:
    """The run log as the last successful production build found it (None: not kept)."""
    try:
        kept: dict[str, Any] = json.loads((state / "runs.json").read_text())
        return RunLog(datetime.fromisoformat(kept["since"]), frozenset(kept["finished"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget_lost_state(settings: Settings, *, schema: str | None = None, target_path: Path | str) -> None:
    """Forget the last production build's state when the warehouse no longer holds a seed or
    view it built (a DuckDB file deleted and made again, a schema dropped): the next build then
    runs every seed and view instead of leaving out relations that are gone."""
    from gruponos.errors import WarehouseError
    from gruponos.warehouse import connect

    state = _state_dir(settings, schema, Path(target_path))
    try:
        nodes = json.loads((state / "manifest.json").read_text())["nodes"].values()
    except (OSError, ValueError, KeyError):
        return
    kept = [
        n
        for n in nodes
        if n.get("resource_type") == "seed"
        or (n.get("resource_type") == "model" and n.get("config", {}).get("materialized") == "view")
    ]
    try:
        warehouse = connect(settings.warehouse)
    except WarehouseError:
        return  # dbt will say why it cannot connect
    try:
        for node in kept:
            relation = (str(node["schema"]), str(node.get("alias") or node["name"]))
            if relation_exists(warehouse, *relation) is False:
                log.info("dbt: %s.%s is gone from the warehouse: every seed and view is built again", *relation)
                shutil.rmtree(state, ignore_errors=True)
                return
    finally:
        warehouse.close()


def _state_dir(settings: Settings, schema: str | None, target_path: Path) -> Path:
    """Where the last production build's manifest is kept: beside ``target/``, one per warehouse and schema."""
    wh = settings.warehouse
    where = str(Path(wh.path).expanduser().resolve()) if wh.kind == "duckdb" else wh.secret_dsn()
    key = "|".join((dbt_target(settings), where, wh.db_schema, schema or ""))
    return target_path.parent / "state" / hashlib.sha256(key.encode()).hexdigest()[:16]
