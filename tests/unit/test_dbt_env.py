"""gruponos.dbt_runner turns the settings into what transform/profiles.yml reads: one target
per warehouse kind, absolute DuckDB paths, Oracle and PostgreSQL credentials — and never
shows a secret in a repr."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gruponos import dbt_runner
from gruponos import settings as settings_module


def cfg(**warehouse: object) -> settings_module.Settings:
    return settings_module.load(env="local", warehouse=warehouse)


def test_duckdb_targets_local_with_an_absolute_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    env = dbt_runner.dbt_env(cfg(kind="duckdb", path="data/wh.duckdb"))
    assert env["GRUPONOS_DBT__TARGET"] == "local"
    assert env["GRUPONOS_WAREHOUSE__PATH"] == str(tmp_path / "data" / "wh.duckdb")
    assert env["GRUPONOS_WAREHOUSE__SCHEMA"] == "wms_raw"
    assert "GRUPONOS_DBT__SCHEMA" not in env


def test_oracle_passes_dsn_user_password_and_wallet() -> None:
    env = dbt_runner.dbt_env(
        cfg(
            kind="oracle",
            dsn="db.example:1522/svc_high",
            user="GRUPONOS",
            password="s3cret",
            schema="WMS_RAW",
            wallet_dir="/wallet",
            wallet_password="w4llet",
        ),
        schema="ANALYTICS",
    )
    assert env["GRUPONOS_DBT__TARGET"] == "oracle"
    assert env["GRUPONOS_WAREHOUSE__DSN"] == "db.example:1522/svc_high"
    assert (env["GRUPONOS_WAREHOUSE__USER"], env["GRUPONOS_WAREHOUSE__PASSWORD"]) == ("GRUPONOS", "s3cret")
    assert (env["WALLET_LOCATION"], env["CONFIG_DIR"], env["WALLET_PASSWORD"]) == ("/wallet", "/wallet", "w4llet")
    assert (env["GRUPONOS_WAREHOUSE__SCHEMA"], env["GRUPONOS_DBT__SCHEMA"]) == ("WMS_RAW", "ANALYTICS")


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://etl:pw@pg.example:6543/warehouse",
        "host=pg.example port=6543 user=etl password=pw dbname=warehouse",
    ],
)
def test_postgres_dsn_becomes_the_profile_fields(dsn: str) -> None:
    env = dbt_runner.dbt_env(cfg(kind="postgres", dsn=dsn))
    assert env["GRUPONOS_DBT__TARGET"] == "postgres"
    assert [env[f"GRUPONOS_DBT__PG_{k}"] for k in ("HOST", "PORT", "USER", "PASSWORD", "DBNAME")] == [
        "pg.example",
        "6543",
        "etl",
        "pw",
        "warehouse",
    ]


def test_repr_hides_passwords() -> None:
    env = dbt_runner.dbt_env(cfg(kind="oracle", dsn="db:1521/x", user="u", password="s3cret", wallet_password="w4llet"))
    text = repr(env)
    assert "s3cret" not in text and "w4llet" not in text
    assert "GRUPONOS_WAREHOUSE__PASSWORD" in text and "db:1521" not in text


def test_args_name_the_project_profiles_and_target() -> None:
    args = dbt_runner.dbt_args("docs generate", cfg(kind="duckdb"), "--static", target_path="/srv/dbt-target")
    project = str(dbt_runner.PROJECT_DIR)
    assert args == [
        "docs",
        "generate",
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--target",
        "local",
        "--target-path",
        "/srv/dbt-target",
        "--static",
    ]
    assert (dbt_runner.PROJECT_DIR / "dbt_project.yml").is_file()
    assert (dbt_runner.PROJECT_DIR / "profiles.yml").is_file()


def test_environment_sets_the_variables_for_the_block_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRUPONOS_DBT__TARGET", "before")
    monkeypatch.delenv("GRUPONOS_WAREHOUSE__PATH", raising=False)
    with dbt_runner.environment(cfg(kind="duckdb", path="/srv/wh.duckdb")) as env:
        assert os.environ["GRUPONOS_DBT__TARGET"] == "local"
        assert os.environ["GRUPONOS_WAREHOUSE__PATH"] == "/srv/wh.duckdb" == env["GRUPONOS_WAREHOUSE__PATH"]
    assert os.environ["GRUPONOS_DBT__TARGET"] == "before"
    assert "GRUPONOS_WAREHOUSE__PATH" not in os.environ


def test_top_facilities_refuses_a_schema_that_is_not_an_identifier(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid schema"):
        dbt_runner.top_facilities(tmp_path / "x.duckdb", schema='analytics"; drop table x; --')
