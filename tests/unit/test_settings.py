"""Settings errors name the variable to fix, in one line each, without a traceback or a secret."""

from __future__ import annotations

import pytest

from gruponos import settings
from gruponos.errors import SettingsError


def _error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for key in [k for k in list(__import__("os").environ) if k.startswith("GRUPONOS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as raised:
        settings.load()
    return str(raised.value)


@pytest.mark.parametrize("size", ["1", "10", "24"])
def test_small_page_sizes_are_valid(monkeypatch: pytest.MonkeyPatch, size: str) -> None:
    monkeypatch.setenv("GRUPONOS_WMS__PAGE_SIZE", size)
    cfg = settings.load()
    assert cfg.wms.page_size == int(size) and cfg.wms.page_floor == int(size)


def test_a_section_that_is_not_json_names_the_nested_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _error(monkeypatch, GRUPONOS_WMS="notjson")
    assert "GRUPONOS_WMS" in message and "GRUPONOS_WMS__<NAME>" in message and len(message.splitlines()) <= 3


def test_a_bad_base_url_names_its_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _error(monkeypatch, GRUPONOS_WMS__BASE_URL="ftp://wms.example/x")
    assert "GRUPONOS_WMS__BASE_URL" in message and "http" in message


@pytest.mark.parametrize("schema", ["information_schema", "pg_catalog", "PG_TOAST"])
def test_a_schema_the_database_keeps_is_refused(monkeypatch: pytest.MonkeyPatch, schema: str) -> None:
    message = _error(monkeypatch, GRUPONOS_WAREHOUSE__SCHEMA=schema)
    assert "GRUPONOS_WAREHOUSE__SCHEMA" in message


def test_prod_refuses_basic_credentials_over_plain_http_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "GRUPONOS_ENV": "prod",
        "GRUPONOS_WMS__BASE_URL": "http://wms.example/prod/wms/lgfapi/v10/",
        "GRUPONOS_WMS__USERNAME": "etl",
        "GRUPONOS_WMS__PASSWORD": "pr0d-secret-value",
    }
    message = _error(monkeypatch, **env)
    assert "GRUPONOS_WMS__ALLOW_INSECURE_HTTP" in message and "pr0d-secret-value" not in message
    monkeypatch.setenv("GRUPONOS_WMS__ALLOW_INSECURE_HTTP", "true")
    assert settings.load().wms.allow_insecure_http


def test_a_missing_ca_bundle_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    message = _error(monkeypatch, GRUPONOS_WMS__CA_BUNDLE="/nonexistent/ca.pem")
    assert "GRUPONOS_WMS__CA_BUNDLE" in message and "/nonexistent/ca.pem" in message


def test_entity_selection_reads_commas_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRUPONOS_SYNC__ENTITIES", "order_*, allocation")
    monkeypatch.setenv("GRUPONOS_SYNC__EXCLUDE", '["order_status"]')
    cfg = settings.load()
    assert cfg.sync.entities == ["order_*", "allocation"] and cfg.sync.exclude == ["order_status"]
