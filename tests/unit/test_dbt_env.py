"""gruponos.dbt_runner turns the settings into what transform/profiles.yml reads: one target
per warehouse kind, absolute DuckDB paths, Oracle and PostgreSQL credentials — and never
shows a secret in a repr."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gruponos import dbt_runner
from gruponos import settings as settings_module
from gruponos.warehouse.status import RunLog


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


# --- the production build ---------------------------------------------------------------


def kept_build(tmp_path: Path, skipped: list[str]) -> settings_module.Settings:
    """Settings whose last production build (a manifest in ``tmp_path/target``) succeeded."""
    settings = cfg(kind="duckdb", path=str(tmp_path / "wh.duckdb"))
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text("{}")
    dbt_runner.record_state(settings, True, target_path=tmp_path / "target", skipped=skipped)
    return settings


def test_production_builds_leave_out_the_unit_tests_and_the_full_rebuild_runs_everything_else(tmp_path: Path) -> None:
    settings = kept_build(tmp_path, [])
    full = dbt_runner.build_args(settings, full_refresh=True, target_path=tmp_path / "target")
    assert full == ["build", "--exclude-resource-type", "unit_test", "--full-refresh"]
    first = dbt_runner.build_args(cfg(kind="duckdb", path=str(tmp_path / "other.duckdb")), target_path=tmp_path / "t")
    assert first == ["build", "--exclude-resource-type", "unit_test"]  # no build kept: every seed and view


def test_after_a_successful_build_unchanged_seeds_and_views_are_left_out(tmp_path: Path) -> None:
    settings = kept_build(tmp_path, [])
    args = dbt_runner.build_args(settings, target_path=tmp_path / "target")
    assert args[:3] == ["build", "--exclude-resource-type", "unit_test"]
    state = args[args.index("--state") + 1]
    assert (Path(state) / "manifest.json").is_file()
    assert args[args.index("--indirect-selection") + 1] == "empty"  # the views' own data tests still run
    exclude = args[args.index("--exclude") + 1 :]
    assert exclude == ["path:seeds,state:unmodified", "config.materialized:view,state:unmodified"]
    # another schema of the same warehouse has no build kept
    assert "--state" not in dbt_runner.build_args(settings, schema="other", target_path=tmp_path / "target")


def test_a_failed_build_or_other_skipped_sources_run_every_seed_and_view_again(tmp_path: Path) -> None:
    skipped = ["--exclude", "source:wms.ib_container+"]
    settings = kept_build(tmp_path, skipped)
    args = dbt_runner.build_args(settings, target_path=tmp_path / "target", skipped=skipped)
    assert "--state" in args and args[-1] == "source:wms.ib_container+"
    # the raw table appeared since: its staging view must be built, whatever the state says
    assert dbt_runner.build_args(settings, target_path=tmp_path / "target") == [
        "build",
        "--exclude-resource-type",
        "unit_test",
    ]
    dbt_runner.record_state(settings, False, target_path=tmp_path / "target", skipped=skipped)
    assert "--state" not in dbt_runner.build_args(settings, target_path=tmp_path / "target", skipped=skipped)


def test_declared_sources_are_the_raw_tables_of_the_sources_file() -> None:
    sources = dbt_runner.declared_sources()
    assert {"allocation", "order_hdr", "ib_container", "item", "inventory_history"} <= set(sources)
    assert "sync_runs" not in sources  # the sync's control table, always there


def test_after_a_successful_build_only_what_the_changed_sources_feed_is_selected(tmp_path: Path) -> None:
    settings = kept_build(tmp_path, [])
    args = dbt_runner.build_args(settings, target_path=tmp_path / "target", changed={"order_hdr", "allocation"})
    selected = args[args.index("--select") + 1 : args.index("--exclude")]
    # what a changed definition feeds, and what each changed source feeds (dbt's graph operator)
    assert selected == ["state:modified+", "source:wms.allocation+", "source:wms.order_hdr+"]
    nothing = dbt_runner.build_args(settings, target_path=tmp_path / "target", changed=set())
    assert nothing[nothing.index("--select") + 1 : nothing.index("--exclude")] == ["state:modified+"]
    assert nothing[-2:] == list(dbt_runner.QUIET_SELECTION)  # no warning when it selects nothing
    # unknown (no run log kept), no build kept, or a full rebuild: every source
    assert "--select" not in dbt_runner.build_args(settings, target_path=tmp_path / "target")
    other = cfg(kind="duckdb", path=str(tmp_path / "other.duckdb"))
    assert "--select" not in dbt_runner.build_args(other, target_path=tmp_path / "t", changed={"allocation"})
    full = dbt_runner.build_args(settings, full_refresh=True, target_path=tmp_path / "target", changed={"allocation"})
    assert "--select" not in full


def test_the_run_log_a_build_saw_is_kept_with_its_state_and_forgotten_after_a_failure(tmp_path: Path) -> None:
    settings = kept_build(tmp_path, [])
    since = datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)
    seen = RunLog(since, frozenset({"run-b", "run-a"}))
    target = tmp_path / "target"
    dbt_runner.record_state(settings, True, target_path=target, runs=seen)
    state = Path(dbt_runner.build_args(settings, target_path=target)[4])
    assert json.loads((state / "runs.json").read_text()) == {"since": since.isoformat(), "finished": ["run-a", "run-b"]}
    dbt_runner.record_state(settings, False, target_path=target, runs=seen)
    assert not (state / "runs.json").exists()


def test_postgres_sessions_get_the_projects_planner_settings_after_the_environments_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=60000")
    options = dbt_runner.dbt_env(cfg(kind="postgres", dsn="postgresql://etl@pg.example/w"))["PGOPTIONS"].split(" -c ")
    settings = dbt_runner.project_vars()["postgres_session_settings"]
    assert options[0] == "-c statement_timeout=60000"
    assert options[1:] == [f"{name}={value}" for name, value in settings.items()]
    assert settings["enable_nestloop"] == "off"  # windows are literals: see macros/incremental.sql
    assert "PGOPTIONS" not in dbt_runner.dbt_env(cfg(kind="duckdb", path="wh.duckdb"))
