"""How the client reaches the tenant: authentication, TLS trust, and the request-rate cap."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Generator

import httpx

from gruponos.errors import SettingsError
from gruponos.settings import WmsSettings

__all__ = ["BearerAuth", "Throttle", "auth", "certificate_problem", "tls", "tls_reason"]


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request; the token never leaves the header."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class Throttle:
    """Spaces requests at least ``1 / rate`` seconds apart across all threads."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 0.0 if rate is None else 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this thread may send its next request."""
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


def auth(settings: WmsSettings) -> httpx.Auth:
    """Basic or Bearer authentication from the settings (SettingsError if incomplete)."""
    if settings.auth == "bearer":
        if settings.token is None:
            raise SettingsError("GRUPONOS_WMS__TOKEN must be set for bearer authentication")
        return BearerAuth(settings.token.get_secret_value())
    if settings.username is None or settings.password is None:
        raise SettingsError("GRUPONOS_WMS__USERNAME and GRUPONOS_WMS__PASSWORD must be set for basic authentication")
    return httpx.BasicAuth(settings.username, settings.password.get_secret_value())


def tls(settings: WmsSettings) -> ssl.SSLContext | bool:
    """The TLS trust: the system's CAs, or ``ca_bundle`` (a PEM file) when it is set."""
    if settings.ca_bundle is None:
        return True
    try:
        return ssl.create_default_context(cafile=settings.ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise SettingsError(f"GRUPONOS_WMS__CA_BUNDLE: cannot read {settings.ca_bundle}: {exc}") from None


def certificate_problem(exc: httpx.ConnectError) -> bool:
    """Whether a connection failed on the certificate (not worth retrying)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def tls_reason(exc: httpx.ConnectError) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or cause.reason or "verification failed")
        cause = cause.__cause__ or cause.__context__
    return "certificate verify failed"
