"""The dbt runner: the dbt project (``transform/``) seen from Python: where it is, how to point it at the
warehouse the settings describe, how to run it, and one read of its marts for the demo.

    cfg = settings.load()
    result = dbt_runner.invoke(["build"], cfg)          # dbtRunner, in this process
    if not result.success: ...
    for row in dbt_runner.top_facilities(cfg.warehouse.path):
        print(row.facility_code, row.fulfillment_rate)

Or with any other dbt runner (PrefectDbtRunner, a subprocess)::

    with dbt_runner.environment(cfg):                    # the variables profiles.yml reads
        runner.invoke(dbt_runner.dbt_args("build", cfg))

The profile (``transform/profiles.yml``) takes every value from environment variables;
:func:`dbt_env` builds them from the settings, with the DuckDB path made absolute (dbt
resolves relative paths against the working directory, not the project).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import psycopg.conninfo

from gruponos.settings import Settings

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

__all__ = [
    "PROJECT_DIR",
    "TARGETS",
    "DbtEnv",
    "FacilityFulfillment",
    "dbt_args",
    "dbt_env",
    "dbt_target",
    "environment",
    "failures",
    "freshness_hours",
    "invoke",
    "release_duckdb",
    "summary",
    "top_facilities",
    "work_dir",
]

# The dbt project, and its profiles.yml, beside the package in a source checkout.
PROJECT_DIR = Path(__file__).resolve().parent.parent / "transform"

# The profile's target for each warehouse kind.
TARGETS: dict[str, str] = {"duckdb": "local", "oracle": "oracle", "postgres": "postgres"}

# The schema the models are built in when none is given (Oracle: the user's own schema).
DEFAULT_SCHEMA = "analytics"

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
        import json

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
) -> dbtRunnerResult:
    """Run one dbt command in this process (dbt's ``dbtRunner``) against the settings' warehouse.

    ``args`` is the command and its own options (``["build", "--select", "marts"]``,
    ``["docs", "generate"]``); the project, profiles and target are added. The result's
    ``success`` is False when any node failed, and ``result`` holds every node's status
    (``exception`` when dbt itself broke). DuckDB is released afterwards (see
    :func:`release_duckdb`).
    """
    from dbt.cli.main import dbtRunner  # dbt is slow to import: only when dbt runs

    words = 1
    while words < len(args) and not args[words].startswith("-"):
        words += 1  # "docs generate", "source freshness"
    command, extra = " ".join(args[:words]), args[words:]
    work = work_dir(settings)
    full = dbt_args(
        command, settings, *extra, target_path=target_path or work / "target", log_path=log_path or work / "logs"
    )
    try:
        with environment(settings, schema=schema):
            return dbtRunner().invoke(full)
    finally:
        release_duckdb()


def freshness_hours(settings: Settings) -> dict[str, float]:
    """The freshness error limits in hours by sync class (``operational``, ``master``).

    One home: the dbt project's vars (``freshness_error_hours_*``), which its sources read;
    ``GRUPONOS_FLOWS__FRESHNESS_HOURS_*`` override them here and in dbt (:func:`dbt_args`).
    """
    import yaml  # type: ignore[import-untyped]

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
