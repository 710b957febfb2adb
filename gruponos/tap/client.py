"""The one base stream: a WMS entity read through ``gruponos.wms``, emitted as Singer records.

Authentication, paging (``next_page`` followed as given, keyset-resumable, phantom pages,
timeouts that halve the page size), retries (429 with ``Retry-After``, 5xx, timeouts) and
decoding are the client's (``gruponos.wms``): the tap adds only what Singer needs.

- Incremental streams (operational entities) read the window
  ``[bookmark - overlap_minutes, WMS now)`` on ``mod_ts``; the records come ordered by id,
  not by ``mod_ts``, so the stream is unsorted and its bookmark (the highest ``mod_ts``
  emitted) is committed only when the stream has finished.
- Each page passes the entity's contract (``gruponos.quality``): a record that breaks it
  is left out and logged with its id and rule, and the stream fails once the rejected share
  passes ``max_rejected_share``; so every record emitted matches the stream's schema.
- Decimals are emitted as ``Decimal`` (exact JSON numbers), timestamps as fixed-width
  RFC 3339 strings in UTC, so bookmarks compare correctly as text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError
from returns.result import Failure
from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context

from gruponos import redact
from gruponos.entities import TIMESTAMP_TYPE, Column, EntitySpec
from gruponos.errors import SettingsError
from gruponos.quality import check
from gruponos.settings import WmsSettings
from gruponos.wms import Extraction, ScanStats, Window, WmsClient

__all__ = ["RejectedShareError", "WmsStream", "stream_schema", "wms_settings"]

log = logging.getLogger(__name__)

# Tap settings handed to gruponos.wms as they are (same name, same meaning).
_CLIENT_SETTINGS = (
    "base_url",
    "username",
    "page_size",
    "page_mode",
    "overlap_minutes",
    "max_retries",
    "backoff_base_s",
    "backoff_max_s",
    "timeout_s",
    "max_concurrency",
    "max_requests_per_s",
)
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S+00:00"  # %S carries the microseconds: fixed width, sorts as text
_LOGGED_REJECTIONS = 20  # per stream; the rest are counted
_DATE_TYPE = pa.date32()


class RejectedShareError(Exception):
    """More records broke the entity's contract than ``max_rejected_share`` allows."""


def wms_settings(config: Mapping[str, Any]) -> WmsSettings:
    """The client settings named by a tap config (SettingsError names the setting, never a secret)."""
    values = {key: config[key] for key in _CLIENT_SETTINGS if config.get(key) is not None}
    if config.get("password") is not None:
        values["password"] = config["password"]
        redact.register(str(config["password"]))
    try:
        return WmsSettings.model_validate(values)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in exc.errors(include_url=False)
        ]
        raise SettingsError("; ".join(problems)) from None


def stream_schema(spec: EntitySpec) -> dict[str, Any]:
    """The JSON schema of one entity's records: its flattened (table) columns."""
    required = {k for k in (spec.primary_key, spec.replication_key) if k is not None}
    properties = {c.name: _property(c, nullable=c.name not in required) for c in spec.columns}
    return {"type": "object", "properties": properties, "required": sorted(required)}


def _property(column: Column, *, nullable: bool) -> dict[str, Any]:
    """One column as a JSON schema property."""
    kind: str
    extra: dict[str, Any] = {}
    if pa.types.is_integer(column.type):
        kind = "integer"
    elif pa.types.is_decimal(column.type):
        kind = "number"
    elif pa.types.is_boolean(column.type):
        kind = "boolean"
    elif column.type == TIMESTAMP_TYPE:
        kind, extra = "string", {"format": "date-time"}
    elif column.type == _DATE_TYPE:
        kind, extra = "string", {"format": "date"}
    else:
        kind = "string"
        if column.max_length:
            extra = {"maxLength": column.max_length}
    return {"type": [kind, "null"] if nullable else [kind], **extra}


class WmsStream(Stream):
    """One catalog entity as a Singer stream; subclasses name the entity (``spec``)."""

    spec: ClassVar[EntitySpec]
    is_sorted = False  # ordered by id, not by mod_ts: the bookmark is final only at the end
    # Records come out of Arrow already typed as the schema says: no per-value conformance.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Any) -> None:
        super().__init__(tap, schema=stream_schema(self.spec), name=self.spec.name)
        self.stats: ScanStats | None = None
        self.rejected = 0

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Every record of the entity (in the incremental window), page by page."""
        settings = wms_settings(self.config)
        share = float(self.config.get("max_rejected_share", 0.05))
        with WmsClient(settings) as wms:
            window = self._window(wms, context, settings)
            if window is not None:
                self.logger.info("%s: reading mod_ts in [%s, %s)", self.name, window.start, window.end)
            extraction = Extraction(self.spec, wms, window=window)
            self.stats, self.rejected = extraction.stats, 0
            for page in extraction.pages():
                checked = check(self.spec, [page])
                if isinstance(checked, Failure):  # only the "freeze" drift policy fails here
                    raise RuntimeError(str(checked.failure()))
                part = checked.unwrap()
                for rejection in part.rejections:
                    self.rejected += 1
                    if self.rejected <= _LOGGED_REJECTIONS:
                        self.logger.warning("left out: %s (rule %s)", rejection.message, rejection.rule)
                yield from _records(self.spec, part.batch)
            stats = extraction.stats
            if stats.rows and self.rejected / stats.rows > share:
                raise RejectedShareError(
                    f"{self.name}: {self.rejected} of {stats.rows} records broke the contract, "
                    f"more than max_rejected_share={share:.1%}"
                )
            self.logger.info(
                "%s: %d records in %d pages (%d retries, %d left out)",
                self.name,
                stats.rows,
                stats.pages,
                stats.retries,
                self.rejected,
            )

    def _window(self, wms: WmsClient, context: Context | None, settings: WmsSettings) -> Window | None:
        """``[bookmark - overlap, WMS now)`` for incremental streams; None (everything) otherwise."""
        if not self.replication_key:
            return None
        now = wms.ping()  # the WMS's own clock ends the window, whatever this machine's skew
        start: datetime | None = self.get_starting_timestamp(context)
        if start is not None and self.get_context_state(context).get("replication_key_value") is not None:
            start -= timedelta(minutes=settings.overlap_minutes)  # re-read what may have been in flight
        if start is not None and start > now:
            start = now
        return Window(start=start, end=now)


def _records(spec: EntitySpec, batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """A checked batch as Singer records: the catalog's columns, JSON-ready values."""
    arrays: list[pa.Array] = []
    names: list[str] = []
    for column in spec.columns:
        values = batch.column(column.name)
        if column.type == TIMESTAMP_TYPE:
            values = pc.strftime(values, format=_TS_FORMAT)
        elif column.type == _DATE_TYPE:
            values = pc.cast(values, pa.string())
        arrays.append(values)
        names.append(column.name)
    records: list[dict[str, Any]] = pa.RecordBatch.from_arrays(arrays, names=names).to_pylist()
    return records
