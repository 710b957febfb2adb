"""What the API's answers mean: error envelopes, ``Retry-After``, probe pages, the entity list, describe.

Each parser raises ``PageDecodeError`` on a body that is not what it should be (the client
retries those: a truncated body usually heals).
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from gruponos.wms.decode import PageDecodeError

__all__ = ["describe_body", "entity_list", "envelope", "first_id", "parse_json", "result_count", "retry_after"]


def envelope(body: bytes) -> tuple[str | None, str | None, str | None]:
    """``(code, message, reference)`` from a WMS error body, when it is one."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, None
    if not isinstance(parsed, dict):
        return None, None, None

    def text(key: str) -> str | None:
        value = parsed.get(key)
        return None if value is None else str(value)[:500]

    return text("code"), text("message"), text("reference")


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, float((when - datetime.now(UTC)).total_seconds()))


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PageDecodeError(f"undecodable JSON ({len(body)} bytes): {exc}") from None


def first_id(body: bytes) -> tuple[int, int | None] | None:
    """``(id of the first record, result_count)`` of a probe page; PageDecodeError if malformed."""
    parsed = parse_json(body)
    results = parsed.get("results") if isinstance(parsed, dict) else None
    if not isinstance(results, list):
        raise PageDecodeError("not a WMS list page: no 'results' list")
    if not results:
        return None
    first = results[0]
    if not isinstance(first, dict) or type(first.get("id")) is not int:
        raise PageDecodeError("a probe record has no integer 'id'")
    count = parsed.get("result_count")
    return first["id"], count if type(count) is int else None


def result_count(body: bytes) -> int:
    """The ``result_count`` of a paged probe page."""
    parsed = parse_json(body)
    count = parsed.get("result_count") if isinstance(parsed, dict) else None
    if type(count) is not int or count < 0:
        raise PageDecodeError("a paged page without an integer 'result_count'")
    return int(count)


def entity_list(body: bytes) -> list[str]:
    """The entity names of ``GET entity/``: an object ``{name: url}``, a list, or a ``results`` list."""
    parsed = parse_json(body)
    if isinstance(parsed, dict) and isinstance(parsed.get("results"), list):
        parsed = parsed["results"]
    if isinstance(parsed, dict):
        names = [str(k) for k in parsed]
    elif isinstance(parsed, list):
        names = [str(x.get("name")) if isinstance(x, dict) else str(x) for x in parsed]
    else:
        raise PageDecodeError("GET entity/ answered neither a list nor an object of entities")
    return sorted(n for n in names if n and n != "None")


def describe_body(body: bytes) -> dict[str, Any]:
    parsed = parse_json(body)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("fields"), dict):
        raise PageDecodeError("a describe answer without a 'fields' object")
    return parsed
