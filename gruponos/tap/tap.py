"""``tap-oracle-wms``: settings, their validation and the streams of the entity catalog.

Example::

    tap-oracle-wms --about
    TAP_ORACLE_WMS_BASE_URL=https://x.wms.ocs.oraclecloud.com/prod/wms/lgfapi/v10/ \\
    TAP_ORACLE_WMS_USERNAME=etl TAP_ORACLE_WMS_PASSWORD=... tap-oracle-wms --config ENV --discover
"""

from __future__ import annotations

import sys
from typing import Any, Literal, get_args, get_origin

import httpx
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import Message, RecordMessage

from gruponos.catalog import discover
from gruponos.entities import SyncClass
from gruponos.errors import SettingsError
from gruponos.redact import redact
from gruponos.settings import DEFAULT_ENTITIES, SyncSettings, WmsSettings
from gruponos.tap.client import wms_settings
from gruponos.tap.streams import stream_type
from gruponos.wms import WmsClient

__all__ = ["TapOracleWMS"]

_SUFFIX = "/wms/lgfapi/v10"
_NUMBER = r"^[0-9]+(\.[0-9]+)?$"


def _number(name: str, description: str, default: float | None = None) -> th.Property[Any]:
    """A decimal setting; numeric text is accepted too, as Meltano hands over such values from
    the environment (its ``decimal`` setting kind cannot be written to a plugin's config)."""
    number = th.CustomType({"type": ["number", "string"], "pattern": _NUMBER})
    return th.Property(name, number, default=default, description=description)


def _client(name: str, description: str) -> th.Property[Any]:
    """A client setting with the default ``WmsSettings`` gives it (and its bounds, for whole numbers;
    its choices, for a choice): the tap restates none of them."""
    field = WmsSettings.model_fields[name]
    if field.annotation is int:
        minimum = next(m.ge for m in field.metadata if hasattr(m, "ge"))
        maximum = next(m.le for m in field.metadata if hasattr(m, "le"))
        kind: th.JSONTypeHelper[Any] = th.IntegerType(minimum=minimum, maximum=maximum)
    elif get_origin(field.annotation) is Literal:
        kind = th.StringType(allowed_values=list(get_args(field.annotation)))
    else:
        return _number(name, description, field.default)
    return th.Property(name, kind, default=field.default, description=description)


class _Writer(SingerWriter):
    """Singer messages to stdout, flushed at every message but a record (a state message
    therefore always follows its records out); singer-sdk's writer flushes every record."""

    def write_message(self, message: Message) -> None:
        sys.stdout.write(self.format_message(message) + "\n")
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()


class TapOracleWMS(Tap):
    """Oracle WMS Cloud entities (lgfapi v10) as Singer streams."""

    name = "tap-oracle-wms"
    package_name = "gruponos"
    message_writer_class = _Writer

    config_jsonschema = th.PropertiesList(
        th.Property(
            "base_url",
            th.StringType,
            required=True,
            description="The tenant's entity API, ending in /wms/lgfapi/v10/ "
            "(e.g. https://x.wms.ocs.oraclecloud.com/prod/wms/lgfapi/v10/).",
        ),
        th.Property("username", th.StringType, required=True, description="A user with lgfapi_read_access."),
        th.Property("password", th.StringType, required=True, secret=True, description="That user's password."),
        _client("page_size", "Records per page (the API allows up to 1250)."),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Incremental streams without a bookmark read records modified since then (default: all).",
        ),
        _client("overlap_minutes", "Incremental streams re-read this many minutes before their bookmark."),
        th.Property(
            "entities",
            th.ArrayType(th.StringType),
            default=list(DEFAULT_ENTITIES),
            description="Entity names or globs (order_*) to expose as streams, as the tenant's GET entity/ lists them "
            "(default: the 26 a distributor reads; a name the tenant does not serve fails discovery).",
        ),
        th.Property(
            "exclude",
            th.ArrayType(th.StringType),
            default=[],
            description="Entity names or globs to leave out.",
        ),
        th.Property(
            "sync_classes",
            th.ArrayType(th.StringType(allowed_values=[c.value for c in SyncClass])),
            default=[c.value for c in SyncClass],
            description="Only entities of these sync classes (operational: has mod_ts, read incrementally; "
            "master and lookup: read in full).",
        ),
        _client("page_mode", "sequenced (keyset cursor, recommended) or paged (offsets)."),
        _client("max_retries", "Retries per request."),
        _client("backoff_base_s", "First retry delay in seconds (exponential backoff with jitter)."),
        _client("backoff_max_s", "Longest retry delay in seconds, Retry-After included."),
        _client("timeout_s", "Read timeout in seconds."),
        _client("max_concurrency", "Requests in flight when a large entity is read in id partitions."),
        _client("max_requests_per_s", "Upper bound on the request rate (default: none)."),
        _number(
            "max_rejected_share",
            "A stream fails when a larger share (0..1) of its records breaks the entity's contract.",
            0.05,
        ),
    ).to_dict()

    def discover_streams(self) -> list[Stream]:
        """One stream per selected entity, from the tenant's ``GET entity/`` and ``describe``."""
        if not self.config.get("base_url"):
            return []  # --about, --help: no tenant to ask
        entities = list(self.config.get("entities") or DEFAULT_ENTITIES)
        sync = SyncSettings(entities=entities, exclude=list(self.config.get("exclude") or []))
        with WmsClient(wms_settings(self.config)) as wms:
            catalog = discover(wms, sync)
        classes = [SyncClass(c) for c in self.config.get("sync_classes") or list(SyncClass)]
        return [stream_type(catalog.spec(name))(self) for name in catalog.of_class(*classes)]

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The JSON schema's checks plus the base URL's shape; no error shows a secret."""
        errors = super()._validate_config(raise_errors=False)
        errors += _config_problems(self._config)
        errors = [redact(error) for error in errors]
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors, schema=self.config_jsonschema)
        return errors


def _config_problems(config: dict[str, Any]) -> list[str]:
    """What the JSON schema cannot say: a usable base URL, settings the client accepts."""
    base_url = config.get("base_url")
    if not isinstance(base_url, str):
        return []
    problems: list[str] = []
    url = httpx.URL(base_url)
    shown = str(url.copy_with(userinfo=b"")) if url.userinfo else base_url
    if url.scheme not in ("http", "https") or not url.host:
        problems.append(f"base_url must be an http(s) URL, got {shown!r}")
    if not url.path.rstrip("/").endswith(_SUFFIX):
        problems.append(
            f"base_url must end in {_SUFFIX}/ (e.g. https://x.wms.ocs.oraclecloud.com/prod{_SUFFIX}/), got {shown!r}"
        )
    if url.userinfo:
        problems.append("base_url must not carry credentials: set username and password instead")
    if not problems:
        try:
            wms_settings(config)  # the client's own ranges, numeric text included
        except SettingsError as exc:
            problems.append(str(exc))
    share = config.get("max_rejected_share")
    try:
        valid = share is None or 0 <= float(share) <= 1
    except (TypeError, ValueError):
        valid = False
    if not valid:
        problems.append(f"max_rejected_share must be a number from 0 to 1, got {share!r}")
    return problems
