"""lgfapi query parameters → one bound SQL query over the tenant's tables.

Filters are ``field[__relation…][__lookup][!]=value``: ``status_id__in!=90,99`` negates,
``facility_id__code=DC01`` follows the FK to ``facility`` and compares its ``code``.
Values are always bound, never formatted into SQL; names are checked against the catalog.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from gruponos.simulator.legacy_catalog import CATALOG, EntitySpec, Field, Kind

__all__ = ["ID_LOOKUPS", "RESERVED", "BadQuery", "Query", "parse"]

RESERVED = frozenset({"page_mode", "page_size", "page", "cursor", "ordering", "fields", "values_list", "format"})
LOOKUPS = frozenset(
    {
        "exact",
        "iexact",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "range",
        "isnull",
        "contains",
        "icontains",
        "startswith",
        "endswith",
    }
)
ID_LOOKUPS = frozenset({"exact", "gt", "gte", "lt", "lte"})
MAX_PAGE_SIZE = 1250


class BadQuery(ValueError):
    """A query the real API would answer with 400 VALIDATION_ERROR."""


@dataclass(slots=True)
class Filter:
    path: list[Field]
    lookup: str
    negate: bool
    value: Any


@dataclass(slots=True)
class Query:
    """One parsed list request."""

    spec: EntitySpec
    filters: list[Filter] = field(default_factory=list)
    ordering: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    fields: list[str] | None = None
    page_mode: str = "paged"
    page_size: int = 100
    page: int = 1
    cursor: str | None = None

    def id_only(self) -> bool:
        """True when only ``id`` comparisons filter and order: the in-memory fast path."""
        return (
            all(
                len(f.path) == 1 and f.path[0].name == "id" and f.lookup in ID_LOOKUPS and not f.negate
                for f in self.filters
            )
            and self.ordering in ([], [("id", False)], [("id", True)])
            and self.fields is None
        )

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (``t`` is the entity's table) and its parameters."""
        clauses, params = [], []
        for f in self.filters:
            sql, ps = _clause(self.spec, f, "t")
            clauses.append(sql)
            params += ps
        return (" and ".join(clauses) or "true"), params

    def order_sql(self) -> str:
        keys = list(self.ordering)
        if not any(name == "id" for name, _ in keys):
            keys.append(("id", False))
        return ", ".join(f"t.{name} {'desc' if desc else 'asc'}" for name, desc in keys)


def encode_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition("=")
        if kind not in ("p", "i", "d"):
            raise ValueError(kind)
        return kind, int(value)
    except ValueError as exc:
        raise BadQuery(f"invalid cursor {cursor!r}") from exc


def parse(spec: EntitySpec, params: dict[str, str], *, tz: timedelta) -> Query:
    """Parse the query string (last value of a repeated parameter wins)."""
    q = Query(spec=spec)
    q.page_mode = params.get("page_mode", "paged")
    if q.page_mode not in ("paged", "sequenced"):
        raise BadQuery(f"page_mode must be 'paged' or 'sequenced', not {q.page_mode!r}")
    q.page_size = _int("page_size", params.get("page_size", "100"))
    if not 1 <= q.page_size <= MAX_PAGE_SIZE:
        raise BadQuery(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {q.page_size}")
    q.page = _int("page", params.get("page", "1"))
    if q.page < 1:
        raise BadQuery("page must be 1 or more")
    q.cursor = params.get("cursor")
    if "ordering" in params:
        for part in filter(None, params["ordering"].split(",")):
            name = part.lstrip("-")
            f = _field(spec, name)
            if f.kind is Kind.SET:
                raise BadQuery(f"cannot order {spec.name} by {name}")
            q.ordering.append((name, part.startswith("-")))
    if "fields" in params:
        q.fields = [n for n in params["fields"].split(",") if n]
        for n in q.fields:
            _field(spec, n)
        if "id" not in q.fields:
            q.fields.insert(0, "id")
    for key, raw in params.items():
        if key in RESERVED:
            continue
        negate = key.endswith("!")
        parts = key.rstrip("!").split("__")
        lookup = "exact"
        if len(parts) > 1 and parts[-1] in LOOKUPS:
            lookup = parts.pop()
        path: list[Field] = []
        current = spec
        for i, name in enumerate(parts):
            f = _field(current, name)
            path.append(f)
            if i < len(parts) - 1:
                if f.kind is not Kind.FK or f.target not in CATALOG:
                    raise BadQuery(f"cannot follow {name!r} of {current.name}: not a relation")
                current = CATALOG[f.target]
        q.filters.append(Filter(path, lookup, negate, _value(path[-1], lookup, raw, tz)))
    return q


def _field(spec: EntitySpec, name: str) -> Field:
    if not spec.has(name):
        raise BadQuery(f"unknown field {name!r} for entity {spec.name}")
    return spec.field(name)


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer, got {raw!r}") from None


def _scalar(f: Field, raw: str, tz: timedelta) -> Any:
    try:
        match f.kind:
            case Kind.INT | Kind.STATUS | Kind.FK:
                return int(raw)
            case Kind.DECIMAL:
                return Decimal(raw)
            case Kind.FLG:
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(raw)
                return raw.lower() in ("true", "1")
            case Kind.DATE:
                return date.fromisoformat(raw)
            case Kind.TS:
                ts = datetime.fromisoformat(raw.replace(" ", "+") if raw.count(" ") == 1 and "T" in raw else raw)
                if ts.microsecond:
                    raise BadQuery(f"{f.name}: timestamps in filters must be whole seconds, got {raw!r}")
                if ts.tzinfo is None:  # naive values are in the facility's time zone
                    ts = ts - tz
                    return ts
                return ts.astimezone(UTC).replace(tzinfo=None)
            case _:
                return raw
    except BadQuery:
        raise
    except (ValueError, InvalidOperation):
        raise BadQuery(f"invalid value {raw!r} for {f.name} ({f.kind.value})") from None


def _value(f: Field, lookup: str, raw: str, tz: timedelta) -> Any:
    if lookup == "isnull":
        if raw.lower() not in ("true", "false", "1", "0"):
            raise BadQuery(f"{f.name}__isnull takes true or false, got {raw!r}")
        return raw.lower() in ("true", "1")
    if lookup == "in":
        return [_scalar(f, v, tz) for v in raw.split(",") if v != ""]
    if lookup == "range":
        lo, sep, hi = raw.partition(",")
        if not sep:
            raise BadQuery(f"{f.name}__range takes two values 'lo,hi', got {raw!r}")
        return (_scalar(f, lo, tz), _scalar(f, hi, tz))
    if lookup in ("contains", "icontains", "startswith", "endswith", "iexact"):
        return raw
    return _scalar(f, raw, tz)


_OPS = {"exact": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _clause(spec: EntitySpec, flt: Filter, alias: str) -> tuple[str, list[Any]]:
    head, rest = flt.path[0], flt.path[1:]
    col = f"{alias}.{head.name}"
    if rest:
        assert head.target is not None
        inner = Filter(rest, flt.lookup, False, flt.value)
        sub, params = _clause(CATALOG[head.target], inner, "s")
        sql = f"{col} in (select s.id from {head.target} s where {sub})"
    else:
        sql, params = _compare(col, flt.lookup, flt.value)
    return (f"not coalesce({sql}, false)" if flt.negate else sql), params


def _compare(col: str, lookup: str, value: Any) -> tuple[str, list[Any]]:
    if lookup in _OPS:
        return f"{col} {_OPS[lookup]} ?", [value]
    if lookup == "in":
        if not value:
            return "false", []
        return f"{col} in ({', '.join('?' for _ in value)})", list(value)
    if lookup == "range":
        return f"{col} between ? and ?", list(value)
    if lookup == "isnull":
        return f"{col} is {'' if value else 'not '}null", []
    like = {
        "contains": ("%", "%"),
        "icontains": ("%", "%"),
        "startswith": ("", "%"),
        "endswith": ("%", ""),
        "iexact": ("", ""),
    }[lookup]
    escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    op = "ilike" if lookup.startswith("i") else "like"
    return f"cast({col} as varchar) {op} ? escape '\\'", [f"{like[0]}{escaped}{like[1]}"]
