"""The dbt runner: the dbt project (``transform/``) seen from Python: where it is, how to point it at the
warehouse the settings describe, how to run it, and one read of its marts for the demo.

    cfg = settings.load()
    result = dbt_runner.invoke(["build"], cfg)          # dbtRunner, in this process
    if not result.success: ...
    result = dbt_runner.production_build(cfg)           # the build after a sync (see there)
    for row in dbt_runner.top_facilities(cfg.warehouse.path):
        print(row.facility_code, row.fulfillment_rate)

Or with any other dbt runner (PrefectDbtRunner, a subprocess)::

    with dbt_runner.environment(cfg):                    # the variables profiles.yml reads
        runner.invoke(dbt_runner.dbt_args("build", cfg))

The profile (``transform/profiles.yml``) takes every value from environment variables;
:func:`dbt_env` builds them from the settings, with the DuckDB path made absolute (dbt
resolves relative paths against the working directory, not the project).

A build that reads the sources (``build``, ``run``, ``test``, ``snapshot``) leaves out every
declared source whose raw table the warehouse does not have (an entity never synced) and
what is built on it, and logs which (:func:`missing_sources`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import psycopg.conninfo

from gruponos.settings import Settings

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

__all__ = [
    "PROJECT_DIR",
    "TARGETS",
    "TEST_SCOPE",
    "DbtEnv",
    "FacilityFulfillment",
    "build_args",
    "data_test_scope",
    "dbt_args",
    "dbt_env",
    "dbt_target",
    "declared_sources",
    "environment",
    "failures",
    "freshness_hours",
    "invoke",
    "missing_sources",
    "production_args",
    "production_build",
    "record_state",
    "release_duckdb",
    "source_exclusions",
    "summary",
    "top_facilities",
    "work_dir",
]

log = logging.getLogger(__name__)

# The dbt project, and its profiles.yml, beside the package in a source checkout.
PROJECT_DIR = Path(__file__).resolve().parent.parent / "transform"

# The profile's target for each warehouse kind.
TARGETS: dict[str, str] = {"duckdb": "local", "oracle": "oracle", "postgres": "postgres"}

# The schema the models are built in when none is given (Oracle: the user's own schema).
DEFAULT_SCHEMA = "analytics"

# The variable that tells the project's tests which rows to read (macros/incremental.sql):
# "window" (the rows the build changed), "all" (every row, and the window moves on).
TEST_SCOPE = "GRUPONOS_DBT__TEST_SCOPE"

# Node types the production build leaves out: unit tests check the SQL, not the data, and
# run where the SQL changes (CI: tests/integration/test_dbt.py runs a plain `dbt build`).
PRODUCTION_EXCLUDES = ("--exclude-resource-type", "unit_test")

# dbt commands that read the sources (and fail on a missing raw table).
_READS_SOURCES = frozenset({"build", "run", "test", "snapshot"})

_SECRET_MARKERS = ("PASSWORD", "DSN")  # an Oracle DSN may embed a password
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class DbtEnv(Mapping[str, str]):
    """Environment variables for dbt; holds secrets, so its repr shows names only."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        shown = {k: "***" if any(m in k for m in _SECRET_MARKERS) else v for k, v in self._values.items()}
        return f"DbtEnv({shown})"


def work_dir(settings: Settings) -> Path:
    """Where dbt writes its ``target/`` and ``logs/``: beside the landing folder, out of the project.

    Kept between runs, so dbt's partial parsing saves most of its parse time on the next run.
    """
    return Path(settings.flows.landing_path).resolve().parent / "dbt"


def dbt_target(settings: Settings) -> str:
    """The profile target for the configured warehouse (duckdb → local, oracle, postgres)."""
    return TARGETS[settings.warehouse.kind]


def dbt_env(settings: Settings, *, schema: str | None = None, threads: int | None = None) -> DbtEnv:
    """The variables ``transform/profiles.yml`` and the sources read, for these settings.

    ``schema`` is where the models go (default ``analytics``; on Oracle the connecting
    user's schema). The raw tables are read from ``settings.warehouse.db_schema``.
    """
    wh = settings.warehouse
    env = {
        "GRUPONOS_DBT__TARGET": dbt_target(settings),
        "GRUPONOS_WAREHOUSE__SCHEMA": wh.db_schema,
    }
    if schema is not None:
        env["GRUPONOS_DBT__SCHEMA"] = schema
    if threads is not None:
        env["GRUPONOS_DBT__THREADS"] = str(threads)
    dsn = wh.dsn.get_secret_value() if wh.dsn is not None else ""
    if wh.kind == "duckdb":
        env["GRUPONOS_WAREHOUSE__PATH"] = str(Path(wh.path).expanduser().resolve())
    elif wh.kind == "oracle":
        env |= {"GRUPONOS_WAREHOUSE__DSN": dsn, "GRUPONOS_WAREHOUSE__USER": wh.user or ""}
        if wh.password is not None:
            env["GRUPONOS_WAREHOUSE__PASSWORD"] = wh.password.get_secret_value()
        if wh.wallet_dir:  # python-oracledb thin mode, read by dbt-oracle from these names
            env |= {"WALLET_LOCATION": wh.wallet_dir, "CONFIG_DIR": wh.wallet_dir}
        if wh.wallet_password is not None:
            env["WALLET_PASSWORD"] = wh.wallet_password.get_secret_value()
    else:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
        for key, name in (("host", "HOST"), ("port", "PORT"), ("user", "USER"), ("dbname", "DBNAME")):
            if parts.get(key) is not None:
                env[f"GRUPONOS_DBT__PG_{name}"] = str(parts[key])
        if parts.get("password") is not None:
            env["GRUPONOS_DBT__PG_PASSWORD"] = str(parts["password"])
    return DbtEnv(env)


def dbt_args(
    command: str,
    settings: Settings,
    *extra: str,
    target_path: Path | str | None = None,
    log_path: Path | str | None = None,
) -> list[str]:
    """``[command, --project-dir, --profiles-dir, --target, ...]`` for a dbt runner.

    ``command`` may hold a sub-command (``"docs generate"``, ``"source freshness"``).
    ``target_path``/``log_path`` move dbt's ``target/`` and ``logs/`` out of the project.
    """
    args = [*command.split(), "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)]
    args += ["--target", dbt_target(settings)]
    overrides = _freshness_overrides(settings)
    if overrides:  # the same limits the health check applies
        args += ["--vars", json.dumps({f"freshness_error_hours_{k}": v for k, v in overrides.items()})]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    if log_path is not None:
        args += ["--log-path", str(log_path)]
    return [*args, *extra]


@contextmanager
def environment(settings: Settings, *, schema: str | None = None, threads: int | None = None) -> Iterator[DbtEnv]:
    """Set :func:`dbt_env`'s variables in ``os.environ`` for the block, then restore them.

    For in-process runners (dbtRunner, PrefectDbtRunner), which read ``os.environ``.
    Process-wide: do not run two blocks with different settings at once.
    """
    env = dbt_env(settings, schema=schema, threads=threads)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def invoke(
    args: Sequence[str],
    settings: Settings,
    *,
    schema: str | None = None,
    target_path: Path | str | None = None,
    log_path: Path | str | None = None,
    exclude_missing: bool = True,
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
            return dbtRunner().invoke(full)
    finally:
        release_duckdb()


def production_build(
    settings: Settings,
    *,
    full_refresh: bool = False,
    threads: int | None = None,
    schema: str | None = None,
    target_path: Path | str | None = None,
    log_path: Path | str | None = None,
    log_level: str | None = None,
) -> dbtRunnerResult:
    """The ``dbt build`` a sync runs after loading (or, ``full_refresh``, the full rebuild);
    ``log_level`` (``warn``) keeps dbt's per-node lines off the terminal (its log file has them).

    Both leave out the unit tests (:data:`PRODUCTION_EXCLUDES`). After a sync, the build
    (:func:`build_args`) also leaves out the seeds and views whose definition has not changed
    since its last successful build, and its data tests read only the rows it changed
    (``GRUPONOS_DBT__TEST_SCOPE=window``, see ``transform/macros/incremental.sql``). The full
    rebuild runs every seed, model, snapshot and data test over every row.
    """
    target = Path(target_path or work_dir(settings) / "target")
    args, skipped = production_args(settings, full_refresh=full_refresh, schema=schema, target_path=target)
    if threads:
        args += ["--threads", str(threads)]
    if log_level:
        args += ["--log-level", log_level]
    with data_test_scope(full_refresh=full_refresh):
        result = invoke(args, settings, schema=schema, target_path=target, log_path=log_path, exclude_missing=False)
    record_state(settings, result.success, schema=schema, target_path=target, skipped=skipped)
    return result


def production_args(
    settings: Settings, *, full_refresh: bool = False, schema: str | None = None, target_path: Path
) -> tuple[list[str], list[str]]:
    """The production build's arguments (:func:`build_args`) and the source exclusions they
    carry (for :func:`record_state`), the last build's state forgotten first when the warehouse
    lost what it built (:func:`forget_lost_state`). Whoever runs dbt (this module's runner or
    prefect-dbt's) starts here."""
    skipped = source_exclusions(settings, target_path / "manifest.json")
    if not full_refresh:
        forget_lost_state(settings, schema=schema, target_path=target_path)
    args = build_args(settings, full_refresh=full_refresh, schema=schema, target_path=target_path, skipped=skipped)
    return args, skipped


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
) -> list[str]:
    """The production build's command and options (``dbt build ...``; see :func:`production_build`).

    ``skipped``: :func:`source_exclusions`, appended. Seeds and views are left out only when
    they are unchanged since the last successful production build into the same schema, with
    the same sources skipped (dbt's ``state:unmodified`` against that build's manifest, which
    :func:`record_state` keeps); their data tests still run (indirect selection ``empty``),
    but the seeds' own tests, which read nothing else, do not.
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
        args += ["--exclude", "path:seeds,state:unmodified", "config.materialized:view,state:unmodified"]
        args += list(skipped[1:])  # more --exclude values
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
) -> None:
    """Keep the manifest of a successful production build (what :func:`build_args` compares
    with) and the sources it skipped; forget both after a failure, so the next build runs
    every seed and view again."""
    state = _state_dir(settings, schema, Path(target_path))
    shutil.rmtree(state, ignore_errors=True)
    if not success:
        return
    state.mkdir(parents=True)
    shutil.copyfile(Path(target_path) / "manifest.json", state / "manifest.json")
    (state / "skipped.json").write_text(json.dumps(list(skipped)))


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
            if _exists(warehouse, *relation) is False:
                log.info("dbt: %s.%s is gone from the warehouse: every seed and view is built again", *relation)
                shutil.rmtree(state, ignore_errors=True)
                return
    finally:
        warehouse.close()


def _exists(warehouse: Any, schema: str, name: str) -> bool | None:
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


def _state_dir(settings: Settings, schema: str | None, target_path: Path) -> Path:
    """Where the last production build's manifest is kept: beside ``target/``, one per warehouse and schema."""
    wh = settings.warehouse
    where = str(Path(wh.path).expanduser().resolve()) if wh.kind == "duckdb" else wh.secret_dsn()
    key = "|".join((dbt_target(settings), where, wh.db_schema, schema or ""))
    return target_path.parent / "state" / hashlib.sha256(key.encode()).hexdigest()[:16]


def declared_sources() -> list[str]:
    """The raw tables the dbt project declares (``models/staging/__sources.yml``, source
    ``wms``); the sync's own control tables (declared with an ``identifier``) left out."""
    import yaml  # type: ignore[import-untyped]

    document = yaml.safe_load((PROJECT_DIR / "models" / "staging" / "__sources.yml").read_text())
    return [
        str(table["name"])
        for source in document.get("sources") or []
        if source.get("name") == "wms"
        for table in source.get("tables") or []
        if "identifier" not in table
    ]


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
            if _exists(warehouse, warehouse.schema, name) is False:
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


def freshness_hours(settings: Settings) -> dict[str, float]:
    """The freshness error limits in hours by sync class (``operational``, ``master``).

    One home: the dbt project's vars (``freshness_error_hours_*``), which its sources read;
    ``GRUPONOS_FLOWS__FRESHNESS_HOURS_*`` override them here and in dbt (:func:`dbt_args`).
    """
    import yaml

    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    limits = {kind: float(project["vars"][f"freshness_error_hours_{kind}"]) for kind in ("operational", "master")}
    for kind, value in _freshness_overrides(settings).items():
        limits[kind] = value
    return limits


def _freshness_overrides(settings: Settings) -> dict[str, float]:
    flows = settings.flows
    given = {"operational": flows.freshness_hours_operational, "master": flows.freshness_hours_master}
    return {k: v for k, v in given.items() if v is not None}


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


@dataclass(frozen=True, slots=True)
class FacilityFulfillment:
    """One facility's allocation fulfillment, summed over ``fct_allocation_performance``."""

    facility_id: int
    facility_code: str | None
    allocation_count: int
    allocated_qty: Decimal
    packed_qty: Decimal
    fulfillment_rate: float | None  # packed_qty / allocated_qty


def top_facilities(path: str | Path, *, schema: str = DEFAULT_SCHEMA, limit: int = 5) -> list[FacilityFulfillment]:
    """The facilities with the highest fulfillment rate (packed / allocated units, every
    allocation not cancelled) in a built DuckDB warehouse, best first; read-only."""
    if not _IDENTIFIER.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    sql = f"""
        select
            facility_id,
            max(facility_code),
            cast(sum(allocation_count) as bigint),
            sum(allocated_qty),
            sum(packed_qty),
            cast(sum(packed_qty) as double) / nullif(cast(sum(allocated_qty) as double), 0) as fulfillment_rate
        from "{schema}".fct_allocation_performance
        group by facility_id
        order by fulfillment_rate desc nulls last, facility_id
        limit ?
    """
    with duckdb.connect(str(path), read_only=True) as db:
        rows = db.execute(sql, [limit]).fetchall()
    return [FacilityFulfillment(int(r[0]), r[1], int(r[2]), r[3], r[4], r[5]) for r in rows]
