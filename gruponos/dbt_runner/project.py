"""Where the dbt project is and how dbt is pointed at the warehouse the settings describe.

The profile (``transform/profiles.yml``) takes every value from environment variables;
:func:`dbt_env` builds them from the settings, with the DuckDB path made absolute (dbt
resolves relative paths against the working directory, not the project).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg.conninfo

from gruponos.settings import Settings

__all__ = [
    "DEFAULT_SCHEMA",
    "PROJECT_DIR",
    "TARGETS",
    "DbtEnv",
    "dbt_args",
    "dbt_env",
    "dbt_target",
    "declared_sources",
    "environment",
    "freshness_hours",
    "project_vars",
    "work_dir",
]

PROJECT_DIR = Path(__file__).resolve().parents[2] / "transform"

# The profile's target for each warehouse kind.
TARGETS: dict[str, str] = {"duckdb": "local", "oracle": "oracle", "postgres": "postgres"}

# The schema the models are built in when none is given (Oracle: the user's own schema).
DEFAULT_SCHEMA = "analytics"

_SECRET_MARKERS = ("PASSWORD", "DSN")  # an Oracle DSN may embed a password


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
        env["PGOPTIONS"] = _pg_options()
    return DbtEnv(env)


def _pg_options() -> str:
    """libpq's ``PGOPTIONS`` for dbt's PostgreSQL sessions: the environment's own, then the
    project's ``postgres_session_settings`` (every session dbt opens plans as the models'
    pre-hook has it: the data tests' too)."""
    settings = project_vars()["postgres_session_settings"]
    options = [os.environ.get("PGOPTIONS", ""), *(f"-c {name}={value}" for name, value in settings.items())]
    return " ".join(o for o in options if o)


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


def project_vars() -> dict[str, Any]:
    """The dbt project's ``vars`` (``dbt_project.yml``): the values its models and the
    runner share (freshness limits, the incremental look-back)."""
    import yaml

    return dict(yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"])


def freshness_hours(settings: Settings) -> dict[str, float]:
    """The freshness error limits in hours by sync class (``operational``, ``master``).

    One home: the dbt project's vars (``freshness_error_hours_*``), which its sources read;
    ``GRUPONOS_FLOWS__FRESHNESS_HOURS_*`` override them here and in dbt (:func:`dbt_args`).
    """
    project = project_vars()
    limits = {kind: float(project[f"freshness_error_hours_{kind}"]) for kind in ("operational", "master")}
    for kind, value in _freshness_overrides(settings).items():
        limits[kind] = value
    return limits


def _freshness_overrides(settings: Settings) -> dict[str, float]:
    flows = settings.flows
    given = {"operational": flows.freshness_hours_operational, "master": flows.freshness_hours_master}
    return {k: v for k, v in given.items() if v is not None}
