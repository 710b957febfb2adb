"""The rules a single WMS value must meet to be stored as sent (the slow path of ``decode``).

A value that breaks one raises: ``Encoding`` (text that cannot be stored: a NUL, or a lone
surrogate, which is also how invalid UTF-8 arrives), ``Precision`` (a timestamp with non-zero
digits beyond microseconds), or ``TypeError``/``ValueError`` (anything else not of its kind:
a float or a numeric string in an integer field, a decimal that does not fit, a timestamp
without an offset). Nothing is coerced but a JSON number in a text field, kept as its exact
JSON spelling.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable
from typing import Any

import orjson

from gruponos.entities import Kind

__all__ = ["BAD_TEXT", "PARSE", "TIME_PATTERN", "WIRE_CHECK", "Encoding", "Precision"]

_EXACT = decimal.Context(prec=60)
_INT64 = (-(2**63), 2**63 - 1)
BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
TIME_PATTERN = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")
_FRACTION = re.compile(r"(\d{2}:\d{2}:\d{2})\.(\d+)")


class Encoding(ValueError):
    """Text that cannot be stored: a NUL or a lone surrogate (invalid UTF-8 decodes to one)."""


class Precision(ValueError):
    """A timestamp with more digits than the warehouse keeps."""


def _text(value: Any) -> str:
    if isinstance(value, str):
        if BAD_TEXT.search(value):
            raise Encoding
        return value
    raise TypeError("not text")


def _str_value(value: Any) -> str:
    """Text; a JSON number is kept as its exact JSON spelling (lossless), anything else is refused."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not text")
    return orjson.dumps(value).decode()


def _int_value(value: Any) -> int:
    """An integer as JSON sends one: never a float (6.9, 7.0), a string ("123") or a boolean."""
    if type(value) is not int or not _INT64[0] <= value <= _INT64[1]:
        raise TypeError("not a 64-bit integer")
    return value


def _number_text(value: Any) -> str:
    """A decimal/timestamp/date as text (a decimal may come as a JSON number)."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not text")
    return repr(value) if isinstance(value, float) else str(value)


def _flag(value: Any) -> bool:
    """A boolean (the WMS's ``"Y"``/``"N"`` spelling is read too)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().upper() in {"Y", "N", "TRUE", "FALSE"}:
        return value.strip().upper() in {"Y", "TRUE"}
    raise TypeError("not a flag")


def _fk(value: Any) -> dict[str, Any]:
    """An FK object ``{id, key, url}`` (a bare integer id is read too)."""
    if isinstance(value, dict):
        key = value.get("key")
        return {"id": _int_value(value.get("id")), "key": None if key is None else _str_value(key)}
    return {"id": _int_value(value), "key": None}


def _child_set(value: Any) -> dict[str, Any]:
    """A child set ``{result_count, url}``."""
    if not isinstance(value, dict):
        raise TypeError("not a child set")
    count = value.get("result_count")
    return {"result_count": None if count is None else _int_value(count)}


WIRE_CHECK: dict[Kind, Callable[[Any], Any]] = {
    Kind.INT: _int_value,
    Kind.STATUS: _int_value,
    Kind.STR: _str_value,
    Kind.TIME: _text,
    Kind.DECIMAL: _number_text,
    Kind.TS: _number_text,
    Kind.DATE: _number_text,
    Kind.FLG: _flag,
    Kind.FK: _fk,
    Kind.SET: _child_set,
}


def _parse_decimal(value: str) -> decimal.Decimal:
    """A decimal that fits decimal(28, 8) without rounding."""
    exact = _EXACT.create_decimal(value.strip() if value.strip() == value else "x")
    if not exact.is_finite():
        raise ValueError("not a finite decimal")
    scaled = exact.quantize(decimal.Decimal("1e-8"), context=_EXACT)
    if scaled != exact or len(scaled.as_tuple().digits) > 28:
        raise ValueError("does not fit decimal(28, 8) exactly")
    return scaled


def _parse_timestamp(value: str) -> dt.datetime:
    """An ISO-8601 datetime with an offset, as UTC; sub-microsecond digits must be zeros."""
    match = _FRACTION.search(value)
    if match and len(match.group(2)) > 6:
        digits = match.group(2)
        if digits[6:].strip("0"):
            raise Precision
        value = value[: match.start(2)] + digits[:6] + value[match.end(2) :]
    parsed = dt.datetime.fromisoformat(value)
    if parsed.utcoffset() is None:
        raise ValueError("timestamp without a UTC offset")
    return parsed.astimezone(dt.UTC)


def _parse_date(value: str) -> dt.date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("not YYYY-MM-DD")
    return dt.date.fromisoformat(value)


PARSE: dict[Kind, Callable[[str], Any]] = {
    Kind.DECIMAL: _parse_decimal,
    Kind.TS: _parse_timestamp,
    Kind.DATE: _parse_date,
}
