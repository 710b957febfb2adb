"""The exception tree and the error value carried along the railway.

    Error                      every error gruponos raises on purpose
    ├── SettingsError          a GRUPONOS_* variable is missing or invalid
    ├── WarehouseError         the warehouse refused or lost a statement
    │   └── ConcurrentRunError another run of the same entity holds the lock
    └── WmsError               the WMS answered something we cannot use
        ├── WmsAuthError       401/403: credentials or grants are wrong (retry cannot help)
        ├── WmsRequestError    400/405, a link to another origin, other client errors (retry cannot help)
        ├── WmsTlsError        the server's certificate is not trusted (retry cannot help)
        └── WmsUnavailable     429/5xx/timeouts/garbled bodies, still failing after retries

``SyncError`` is not an exception: it is the value a failed step returns along the railway
(``IOResult[..., SyncError]``), naming the entity, the step, the window and whether a retry
can help.

Every ``WmsError`` names the entity, the URL without credentials, the HTTP status and the
WMS ``reference`` when the API sent one.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConcurrentRunError",
    "Error",
    "SettingsError",
    "SyncError",
    "WarehouseError",
    "WmsAuthError",
    "WmsError",
    "WmsRequestError",
    "WmsTlsError",
    "WmsUnavailable",
]


class Error(Exception):
    """Base of every error gruponos raises on purpose."""


class SettingsError(Error):
    """A setting is missing or invalid; the message names the variable."""


class WarehouseError(Error):
    """The warehouse refused or lost a statement (the message names entity and step).

    ``retryable`` is decided by the adapter that raised it, which knows its driver's errors:
    a lost connection or a lock timeout may heal; bad data, a missing grant or a bad
    identifier will not.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class ConcurrentRunError(WarehouseError):
    """Another run of the same entity holds its lock; this run did not start."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message, retryable=retryable)


@dataclass(frozen=True, slots=True)
class SyncError:
    """Why one entity's sync failed: a value carried along the railway."""

    entity: str
    step: str  # extract | check | load | finish | lock
    message: str
    retryable: bool = False
    window: str | None = None
    record_id: int | None = None
    rule: str | None = None
    stopped: bool = False  # Ctrl-C: stopped mid-way (a rerun resumes) or not started (step "plan")

    def __str__(self) -> str:
        where = f"{self.entity}: {self.step} failed"
        if self.window:
            where += f" (window {self.window})"
        extra = []
        if self.record_id is not None:
            extra.append(f"record id {self.record_id}")
        if self.rule:
            extra.append(f"rule {self.rule}")
        hint = "a retry may help" if self.retryable else "a retry will not help until the cause is fixed"
        return f"{where}: {self.message}" + (f" [{', '.join(extra)}]" if extra else "") + f"; {hint}"


@dataclass(eq=False)
class WmsError(Error):
    """The WMS answered something the client cannot use."""

    message: str
    entity: str | None = None
    url: str | None = None
    status: int | None = None
    reference: str | None = None
    retryable: bool = False

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [self.message]
        if self.entity:
            parts.append(f"entity={self.entity}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.reference:
            parts.append(f"reference={self.reference}")
        if self.url:
            parts.append(f"url={self.url}")
        return "; ".join(parts)


class WmsAuthError(WmsError):
    """401/403: wrong credentials or missing ``lgfapi_read_access``."""


class WmsRequestError(WmsError):
    """The request itself is wrong (400, 405, …): retrying the same request cannot help."""


class WmsTlsError(WmsError):
    """The TLS handshake failed on the certificate (untrusted CA, wrong host): set ``CA_BUNDLE``."""


class WmsUnavailable(WmsError):
    """Throttling, server errors, timeouts or garbled bodies outlasted the retries."""
