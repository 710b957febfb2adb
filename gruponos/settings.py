"""Settings from ``GRUPONOS_*`` environment variables (nested delimiter ``__``).

``GRUPONOS_ENV=local`` (the default) points at the bundled simulator; every other
environment must name its WMS explicitly. A bad value fails at start with a message that
names the variable, never its secret value.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gruponos import redact
from gruponos.errors import SettingsError

__all__ = [
    "LOCAL_PASSWORD",
    "LOCAL_USERNAME",
    "Environment",
    "FlowSettings",
    "QualitySettings",
    "Settings",
    "WarehouseSettings",
    "WmsSettings",
    "load",
]

ENV_PREFIX = "GRUPONOS_"
LOCAL_USERNAME = "gruponos"
LOCAL_PASSWORD = "gruponos-local"  # noqa: S105 - the simulator's well-known local credential
LOCAL_PORT = 8765


class Environment(StrEnum):
    LOCAL = "local"
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


def local_base_url(port: int = LOCAL_PORT, environment: str = "local") -> str:
    return f"http://127.0.0.1:{port}/{environment}/wms/lgfapi/v10/"


class WmsSettings(BaseModel):
    """How to reach and page through the WMS entity API."""

    base_url: str | None = Field(
        default=None,
        description="Ends in /wms/lgfapi/v10/ (e.g. https://x.wms.ocs.oraclecloud.com/prod/wms/lgfapi/v10/).",
    )
    auth: Literal["basic", "bearer"] = "basic"
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    page_size: Annotated[int, Field(ge=1, le=1250)] = 1000
    page_mode: Literal["sequenced", "paged"] = "sequenced"
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 60.0
    max_retries: Annotated[int, Field(ge=0, le=50)] = 6
    backoff_base_s: Annotated[float, Field(ge=0, le=60)] = 0.5
    backoff_max_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    min_page_size: Annotated[int, Field(ge=1, le=1250)] = 25
    overlap_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 30
    max_concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    max_requests_per_s: Annotated[float | None, Field(gt=0)] = None
    partition_min_rows: Annotated[int, Field(ge=1)] = 20_000

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.base_url is not None:
            if not self.base_url.startswith(("http://", "https://")):
                raise ValueError("base_url must start with http:// or https://")
            if not self.base_url.rstrip("/").endswith("/wms/lgfapi/v10"):
                raise ValueError("base_url must end in /wms/lgfapi/v10/")
            if not self.base_url.endswith("/"):
                self.base_url += "/"
        if self.min_page_size > self.page_size:
            raise ValueError("min_page_size must not exceed page_size")
        return self


class WarehouseSettings(BaseModel):
    """Where the raw tables live: embedded DuckDB (default), PostgreSQL or Oracle."""

    kind: Literal["duckdb", "postgres", "oracle"] = "duckdb"
    path: str = "data/gruponos.duckdb"  # DuckDB file (created with its folder)
    dsn: SecretStr | None = None  # postgresql://… or an Oracle DSN/TNS alias (may hold a password)
    user: str | None = None  # Oracle user (PostgreSQL: inside the DSN)
    password: SecretStr | None = None  # Oracle password
    db_schema: Annotated[str, Field(alias="schema", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,29}$")] = "wms_raw"
    merge_batch_rows: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    # DuckDB's buffer pool: with 112MB a 1M-row full sync peaks under 300 MB RSS (128MB: ~310)
    duckdb_memory_limit: Annotated[str, Field(pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$")] = "112MB"
    pool_max: Annotated[int, Field(ge=1, le=64)] = 4
    wallet_dir: str | None = None  # Oracle: folder of the Autonomous Database wallet (TCPS)
    wallet_password: SecretStr | None = None  # Oracle: the wallet's password (thin mode needs it)

    model_config = {"populate_by_name": True}

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind != "duckdb" and self.dsn is None:
            raise ValueError(f"GRUPONOS_WAREHOUSE__DSN must be set when GRUPONOS_WAREHOUSE__KIND={self.kind}")
        return self


class QualitySettings(BaseModel):
    """The contract's tolerances."""

    max_rejected_share: Annotated[float, Field(ge=0, le=1)] = 0.05
    batch_rows: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000  # rows checked together, then staged for MERGE
    drift_policy: Literal["evolve", "freeze"] = "evolve"


class FlowSettings(BaseModel):
    """How the Prefect flows run the syncs (``GRUPONOS_FLOWS__*``)."""

    entity_concurrency: Annotated[int, Field(ge=1, le=16)] = 2  # entities synced at once per flow run
    tenant_slots: Annotated[int, Field(ge=1, le=64)] = 4  # flow-wide cap on extractions per WMS tenant
    task_retries: Annotated[int, Field(ge=0, le=20)] = 3
    retry_delay_s: Annotated[float, Field(ge=0, le=3600)] = 10.0
    results_path: str = "data/prefect-results"  # persisted task results (the cache)
    landing_path: str = "data/landing"  # extractions waiting to be loaded
    webhook_url: SecretStr | None = None  # alerts: failed, crashed or late runs (POSTed JSON)
    freshness_hours_operational: Annotated[float, Field(gt=0)] = 4.0
    freshness_hours_master: Annotated[float, Field(gt=0)] = 8 * 24.0


class Settings(BaseSettings):
    """All of gruponos's settings; ``load()`` reads them from the environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    env: Environment = Environment.LOCAL
    wms: WmsSettings = WmsSettings()
    warehouse: WarehouseSettings = WarehouseSettings()
    quality: QualitySettings = QualitySettings()
    flows: FlowSettings = FlowSettings()

    @model_validator(mode="after")
    def _environment_defaults(self) -> Self:
        wms = self.wms
        if self.env is Environment.LOCAL:
            if wms.base_url is None:
                wms.base_url = local_base_url()
            if "max_concurrency" not in wms.model_fields_set:
                # the bundled simulator shares this machine's cores: requests in flight beyond
                # them add memory (~15 MB each), not speed; a remote WMS keeps the default
                wms.max_concurrency = min(wms.max_concurrency, os.cpu_count() or 2)
            if wms.username is None:
                wms.username = LOCAL_USERNAME
            if wms.password is None:
                wms.password = SecretStr(LOCAL_PASSWORD)
            return self
        missing = []
        if wms.base_url is None:
            missing.append("GRUPONOS_WMS__BASE_URL")
        if wms.auth == "basic":
            missing += [
                v
                for v, val in (
                    ("GRUPONOS_WMS__USERNAME", wms.username),
                    ("GRUPONOS_WMS__PASSWORD", wms.password),
                )
                if val is None
            ]
        elif wms.token is None:
            missing.append("GRUPONOS_WMS__TOKEN")
        if missing:
            raise ValueError(f"{', '.join(missing)} must be set when GRUPONOS_ENV={self.env.value}")
        return self


_SECRETS = frozenset({"password", "token", "dsn", "wallet_password", "webhook_url"})


def _register_secrets(settings: Settings) -> None:
    """Tell ``redact`` every secret value these settings hold."""
    for section in (settings.wms, settings.warehouse, settings.flows):
        for value in section.__dict__.values():
            if isinstance(value, SecretStr):
                redact.register(value.get_secret_value())


def _variable(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-", "constrained-"))]
    return ENV_PREFIX + "__".join(p.upper() for p in parts) if parts else f"{ENV_PREFIX}*"


def load(**overrides: object) -> Settings:
    """Read the settings; a bad value raises ``SettingsError`` naming the variable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            secret = not loc or any(str(p) in _SECRETS for p in loc)
            value = err.get("input")
            got = "" if secret or isinstance(value, dict | list) or "input" not in err else f" (got {value!r})"
            problems.append(f"{_variable(loc)}: {err['msg']}{got}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
    _register_secrets(settings)
    return settings
