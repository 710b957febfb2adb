"""Settings from ``GRUPONOS_*`` environment variables (nested delimiter ``__``).

``GRUPONOS_ENV=local`` (the default) points at the bundled simulator; every other
environment must name its WMS explicitly. A bad value fails at start with a message that
names the variable, never its secret value.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from gruponos import redact
from gruponos.errors import SettingsError

__all__ = [
    "LOCAL_PASSWORD",
    "LOCAL_USERNAME",
    "Environment",
    "FlowSettings",
    "QualitySettings",
    "Settings",
    "SyncSettings",
    "WarehouseSettings",
    "WmsSettings",
    "load",
]

ENV_PREFIX = "GRUPONOS_"
LOCAL_USERNAME = "gruponos"
LOCAL_PASSWORD = "wms-sim-local"  # noqa: S105 - the simulator's well-known local credential
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
    retry_budget_s: Annotated[float, Field(gt=0, le=3600)] = 30.0  # retries of one request stop after this
    backoff_base_s: Annotated[float, Field(ge=0, le=60)] = 0.5
    backoff_max_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    min_page_size: Annotated[int | None, Field(ge=1, le=1250)] = None  # default: min(25, page_size)
    overlap_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 30
    max_concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    max_requests_per_s: Annotated[float | None, Field(gt=0)] = None
    partition_min_rows: Annotated[int, Field(ge=1)] = 20_000
    ca_bundle: str | None = None  # PEM file of the CA(s) to trust for an https:// base URL
    allow_insecure_http: bool = False  # prod refuses http:// with Basic credentials unless this is set

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if not value.rstrip("/").endswith("/wms/lgfapi/v10"):
            raise ValueError("must end in /wms/lgfapi/v10/")
        return value if value.endswith("/") else value + "/"

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.min_page_size is not None and self.min_page_size > self.page_size:
            raise ValueError(
                f"GRUPONOS_WMS__MIN_PAGE_SIZE ({self.min_page_size}) must not exceed GRUPONOS_WMS__PAGE_SIZE "
                f"({self.page_size})"
            )
        return self

    @property
    def page_floor(self) -> int:
        """The smallest page size a scan halves down to after timeouts."""
        return self.min_page_size or min(25, self.page_size)


class WarehouseSettings(BaseModel):
    """Where the raw tables live: embedded DuckDB (default), PostgreSQL or Oracle."""

    kind: Literal["duckdb", "postgres", "oracle"] = "duckdb"
    path: str = "data/gruponos.duckdb"  # DuckDB file (created with its folder)
    dsn: SecretStr | None = None  # postgresql://… or an Oracle DSN/TNS alias (may hold a password)
    user: str | None = None  # Oracle user (PostgreSQL: inside the DSN)
    password: SecretStr | None = None  # Oracle password
    db_schema: Annotated[str, Field(alias="schema", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,29}$")] = "wms_raw"
    merge_batch_rows: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    # DuckDB's buffer pool, capped so a sync's memory does not grow with the table (bench_sync measures it)
    duckdb_memory_limit: Annotated[str, Field(pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$")] = "112MB"
    pool_max: Annotated[int, Field(ge=1, le=64)] = 4
    wallet_dir: str | None = None  # Oracle: folder of the Autonomous Database wallet (TCPS)
    wallet_password: SecretStr | None = None  # Oracle: the wallet's password (thin mode needs it)

    model_config = {"populate_by_name": True}

    @field_validator("db_schema")
    @classmethod
    def _schema(cls, value: str) -> str:
        if value.lower() in _RESERVED_SCHEMAS or value.lower().startswith("pg_"):
            raise ValueError(f"{value!r} is a schema the database keeps for itself; choose another (e.g. wms_raw)")
        return value

    def secret_dsn(self) -> str:
        """The DSN (a secret); the validator below makes sure PostgreSQL and Oracle have one."""
        if self.dsn is None:
            raise SettingsError(f"GRUPONOS_WAREHOUSE__DSN must be set when GRUPONOS_WAREHOUSE__KIND={self.kind}")
        return self.dsn.get_secret_value()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind != "duckdb" and self.dsn is None:
            raise ValueError(f"GRUPONOS_WAREHOUSE__DSN must be set when GRUPONOS_WAREHOUSE__KIND={self.kind}")
        return self


_RESERVED_SCHEMAS = frozenset({"information_schema", "pg_catalog", "pg_toast", "sys", "system", "temp", "dual"})


class QualitySettings(BaseModel):
    """The contract's tolerances."""

    max_rejected_share: Annotated[float, Field(ge=0, le=1)] = 0.05
    batch_rows: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000  # rows checked together, then staged for MERGE
    drift_policy: Literal["evolve", "freeze"] = "evolve"


# The entities a default sync selects: the ones a distributor's analysts read (Fivetran's Oracle WMS
# connector syncs the same 26 by default). Names or globs; the tenant's ``GET entity/`` decides
# which exist.
DEFAULT_ENTITIES: tuple[str, ...] = (
    "allocation", "order_hdr", "order_dtl", "item", "location", "inventory", "facility", "company",
    "container", "container_lock_xref", "inventory_attribute", "batch_number", "purchase_order_hdr",
    "purchase_order_dtl", "ib_shipment", "ib_shipment_dtl", "ib_container", "inventory_lock", "item_metric",
    "history_activity", "putaway_type", "order_type", "purchase_order_status", "order_status",
    "inventory_status", "vendor",
)  # fmt: skip


class SyncSettings(BaseModel):
    """What a sync selects (``GRUPONOS_SYNC__*``): entity names or globs, exclusions, required filters."""

    entities: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_ENTITIES))
    exclude: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # fixed query filters per entity, e.g. {"inventory_history": {"company_id__code": "CO01", ...}}
    filters: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("entities", "exclude", mode="before")
    @classmethod
    def _names(cls, value: object) -> object:
        """A comma-separated list or a JSON list, from the environment."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                try:
                    return json.loads(text)
                except ValueError as exc:
                    raise ValueError(f"not a JSON list: {exc}") from None
            return [part.strip() for part in text.split(",") if part.strip()]
        return value


class FlowSettings(BaseModel):
    """How the Prefect flows run the syncs (``GRUPONOS_FLOWS__*``)."""

    entity_concurrency: Annotated[int, Field(ge=1, le=16)] = 4  # entities at once per run (WMS requests: tenant slots)
    tenant_slots: Annotated[int, Field(ge=1, le=64)] = 4  # flow-wide cap on extractions per WMS tenant
    task_retries: Annotated[int, Field(ge=0, le=20)] = 3
    retry_delay_s: Annotated[float, Field(ge=0, le=3600)] = 10.0
    results_path: str = "data/prefect-results"  # persisted task results (the cache)
    landing_path: str = "data/landing"  # extractions waiting to be loaded
    webhook_url: SecretStr | None = None  # alerts: failed, crashed or late runs (POSTed JSON)
    # freshness limits (hours): unset, the dbt project's vars decide (transform/dbt_project.yml);
    # set, they override those vars for the health check and dbt's source freshness alike
    freshness_hours_operational: Annotated[float | None, Field(gt=0)] = None
    freshness_hours_master: Annotated[float | None, Field(gt=0)] = None


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
    sync: SyncSettings = SyncSettings()
    flows: FlowSettings = FlowSettings()

    @model_validator(mode="after")
    def _environment_defaults(self) -> Self:
        wms = self.wms
        if self.env is Environment.LOCAL:
            if wms.base_url is None:
                wms.base_url = local_base_url()
            if "max_concurrency" not in wms.model_fields_set:
                # the bundled simulator shares this machine's cores: requests in flight beyond
                # them add memory, not speed; a remote WMS keeps the default
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
        insecure = (wms.base_url or "").startswith("http://") and wms.auth == "basic"
        if self.env is Environment.PROD and insecure and not wms.allow_insecure_http:
            raise ValueError(
                "GRUPONOS_WMS__BASE_URL is http:// with Basic credentials in prod: the password would cross the "
                "network in clear; use https:// or set GRUPONOS_WMS__ALLOW_INSECURE_HTTP=true"
            )
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
    except SourceError as exc:  # a variable that should hold JSON does not (GRUPONOS_WMS=notjson)
        field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else "*"
        raise SettingsError(
            f"invalid settings:\n  {ENV_PREFIX}{field.upper()}: not valid JSON; set the nested variables instead "
            f"(e.g. {ENV_PREFIX}{field.upper()}__<NAME>=value)"
        ) from None
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            secret = not loc or any(str(p) in _SECRETS for p in loc)
            value = err.get("input")
            got = "" if secret or isinstance(value, dict | list) or "input" not in err else f" (got {value!r})"
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{_variable(loc)}: {message}{got}" if loc else message)
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
    _register_secrets(settings)
    return settings
