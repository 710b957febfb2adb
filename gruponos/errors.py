"""The exception tree and the error value carried along the railway.

    Error                      every error gruponos raises on purpose
    ├── SettingsError          a GRUPONOS_* variable is missing or invalid
    └── WmsError               the WMS answered something we cannot use
        ├── WmsAuthError       401/403: credentials or grants are wrong (retry cannot help)
        ├── WmsRequestError    400/405 and other client errors (retry cannot help)
        └── WmsUnavailable     429/5xx/timeouts/garbled bodies, still failing after retries

Every ``WmsError`` names the entity, the URL without credentials, the HTTP status and the
WMS ``reference`` when the API sent one.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Error",
    "SettingsError",
    "WmsAuthError",
    "WmsError",
    "WmsRequestError",
    "WmsUnavailable",
]


class Error(Exception):
    """Base of every error gruponos raises on purpose."""


class SettingsError(Error):
    """A setting is missing or invalid; the message names the variable."""


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


class WmsUnavailable(WmsError):
    """Throttling, server errors, timeouts or garbled bodies outlasted the retries."""
