"""One place that hides secrets in any text before it is shown, logged, stored or sent.

    redact.register(settings.wms.password.get_secret_value())   # settings.load() does this
    message = redact.redact(f"cannot connect: {driver_error}")    # '***' where a secret was

Two nets, applied together by :func:`redact`:

- **Known values**: every secret the settings hold (passwords, tokens, DSNs, the webhook
  URL) is registered when the settings load, with its URL-encoded spelling; any occurrence
  anywhere in a text becomes ``***``. Values shorter than 4 characters are not registered
  (replacing them would garble the text without hiding anything worth hiding).
- **Shapes**: the password in a URL's user information (``scheme://user:pw@host``), a
  ``password=…``/``token=…`` pair (libpq conninfo, query strings, JSON), and the credentials
  of an ``Authorization`` header are masked whatever their value, so a secret we were never
  told about (a DSN typed into a driver's error) is still hidden.

:class:`RedactingFilter` applies it to log records, for handlers that ship logs elsewhere.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus

__all__ = ["RedactingFilter", "redact", "register"]

MASK = "***"
_MIN_LENGTH = 4
_KNOWN: set[str] = set()
_GUARD = threading.Lock()
_PATTERN: re.Pattern[str] | None = None

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host  (any scheme: postgresql, oracle, http, postgresql+asyncpg)
    (re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)(?P<secret>[^@\s/]*)(?=@)"), r"\g<head>" + MASK),
    # password=… token=… (conninfo, query strings); quoted conninfo values too
    (
        re.compile(
            r"(?P<head>\b(?:password|passwd|pwd|token|access_token|secret|api_key|apikey|wallet_password)\s*=\s*)"
            r"(?P<secret>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;,)]+)",
            re.IGNORECASE,
        ),
        r"\g<head>" + MASK,
    ),
    # "password": "…" in JSON or reprs
    (
        re.compile(
            r"(?P<head>[\"'](?:password|passwd|token|secret|wallet_password|dsn|webhook_url)[\"']\s*:\s*)"
            r"(?P<secret>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')",
            re.IGNORECASE,
        ),
        r"\g<head>'" + MASK + "'",
    ),
    # Authorization: Basic …, Bearer …
    (re.compile(r"(?P<head>\b(?:Basic|Bearer)\s+)(?P<secret>[A-Za-z0-9+/=._~\-]{8,})"), r"\g<head>" + MASK),
)


def register(*values: str | None) -> None:
    """Remember secret values (and their URL-encoded spellings) so :func:`redact` hides them."""
    global _PATTERN
    added = False
    with _GUARD:
        for value in values:
            if not value or len(value) < _MIN_LENGTH:
                continue
            for spelling in {value, quote(value, safe=""), quote_plus(value)}:
                if spelling not in _KNOWN:
                    _KNOWN.add(spelling)
                    added = True
        if added:
            ordered = sorted(_KNOWN, key=len, reverse=True)  # longest first: no partial leftovers
            _PATTERN = re.compile("|".join(re.escape(v) for v in ordered))


def redact(text: object) -> str:
    """``text`` (any object, as ``str``) with every secret it may hold replaced by ``***``."""
    out = str(text)
    pattern = _PATTERN
    if pattern is not None:
        out = pattern.sub(MASK, out)
    for shape, replacement in _SHAPES:
        out = shape.sub(replacement, out)
    return out


class RedactingFilter(logging.Filter):
    """A logging filter (for handlers) that redacts each record's message and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
