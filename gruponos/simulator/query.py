"""lgfapi query parameters → one bound SQL query over the tenant's tables.

Filters are ``field[__relation…][__part][__lookup][!]=value``: ``status_id__in!=90,99``
negates, ``facility_id__code=DC01`` follows the FK to ``facility`` and compares its
``code``, ``order_dtl_set__item_id__code=X`` follows a related set backwards (orders with
such a line), ``order_dtl_set__isnull=true`` keeps the rows without children, and
``mod_ts__week_day=2`` compares a date part (Django's numbering: 1 is Sunday; datetimes
are read in the facility's time zone). Values are always bound, never formatted into SQL;
names are checked against the schema. What the simulator does not support answers 400
with a message that says so.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from gruponos.simulator.schema import SCHEMA, Entity, Field, Kind

__all__ = ["ID_LOOKUPS", "RESERVED", "BadQuery", "Column", "Query", "parse", "parse_detail"]

RESERVED = frozenset(
    {"page_mode", "page_size", "page", "cursor", "ordering", "fields", "values_list", "distinct", "format", "limit"}
)
COMPARISONS = frozenset({"exact", "gt", "gte", "lt", "lte", "in", "range"})
LOOKUPS = COMPARISONS | frozenset(
    {"iexact", "isnull", "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith"}
)
DATE_PARTS = ("year", "month", "day", "week_day", "hour", "minute")
_PARTS_OF: dict[Kind, frozenset[str]] = {
    Kind.TS: frozenset(DATE_PARTS),
    Kind.DATE: frozenset({"year", "month", "day", "week_day"}),
    Kind.TIME: frozenset({"hour", "minute"}),
}
ID_LOOKUPS = frozenset({"exact", "gt", "gte", "lt", "lte"})
MAX_PAGE_SIZE = 1250
_BOOLS = {"true": True, "1": True, "false": False, "0": False}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class BadQuery(ValueError):
    """A query the real API would answer with 400 VALIDATION_ERROR."""


@dataclass(slots=True)
class Filter:
    path: list[Field]  # FKs followed and sets reversed, then the compared field
    lookup: str
    negate: bool
    value: Any
    part: str | None = None  # a date part compared instead of the value
    tz_minutes: int = 0  # the facility's offset: datetime parts are read in its time

    @property
    def name(self) -> str:
        """The filtered path as written, without lookups (``company_id__code``)."""
        return "__".join(f.name for f in self.path)


@dataclass(frozen=True, slots=True)
class Column:
    """One ``values_list`` column: a path of fields (FKs followed) and the name it is sent as."""

    path: tuple[Field, ...]
    alias: str

    @property
    def name(self) -> str:
        return "__".join(f.name for f in self.path)


@dataclass(slots=True)
class Query:
    """One parsed list (or retrieve) request."""

    spec: Entity
    filters: list[Filter] = field(default_factory=list)
    ordering: list[tuple[str, bool]] = field(default_factory=list)  # (field or values alias, descending)
    fields: list[str] | None = None
    values: list[Column] | None = None
    distinct: bool = False  # only with values_list and ordering, as documented (else ignored)
    limit: int | None = None  # at most this many records in the whole result
    page_mode: str = "paged"
    page_size: int = 100
    page: int = 1
    cursor: str | None = None

    def id_only(self) -> bool:
        """True when only ``id`` comparisons filter and order: the in-memory fast path."""
        return (
            all(
                len(f.path) == 1
                and f.path[0].name == "id"
                and f.lookup in ID_LOOKUPS
                and f.part is None
                and not f.negate
                for f in self.filters
            )
            and self.ordering in ([], [("id", False)], [("id", True)])
            and self.fields is None
            and self.values is None
            and self.limit is None
        )

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (``t`` is the entity's table) and its parameters."""
        clauses, params = [], []
        for f in self.filters:
            sql, ps = _clause(f, "t")
            clauses.append(sql)
            params += ps
        return (" and ".join(clauses) or "true"), params

    def order_sql(self) -> str:
        keys = list(self.ordering)
        if not any(name == "id" for name, _ in keys):
            keys.append(("id", False))
        return ", ".join(f"t.{name} {'desc' if desc else 'asc'}" for name, desc in keys)

    def satisfies(self, rule: tuple[tuple[str, ...], ...]) -> bool:
        """True when the filters cover one of the required combinations (or none is required)."""
        given = {f.name for f in self.filters if not f.negate}
        return not rule or any(set(combination) <= given for combination in rule)


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


def parse(spec: Entity, params: dict[str, str], *, tz: timedelta) -> Query:
    """Parse a list request's query string (the last value of a repeated parameter wins)."""
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
    if "limit" in params:
        q.limit = _int("limit", params["limit"])
        if q.limit < 1:
            raise BadQuery(f"limit must be 1 or more, got {q.limit}")
    _shape(q, params)
    if "ordering" in params:
        if not spec.ordering:
            raise BadQuery(f"ordering is not supported for entity {spec.name}: leave it out")
        aliases = {c.alias for c in q.values or ()}
        for part in filter(None, params["ordering"].split(",")):
            name = part.lstrip("-")
            if name not in aliases or not q.values:
                f = _field(spec, name)
                if f.kind is Kind.SET:
                    raise BadQuery(f"cannot order {spec.name} by {name}: it is a related set")
            q.ordering.append((name, part.startswith("-")))
    if "distinct" in params:
        wanted = _BOOLS.get(params["distinct"].lower())
        if wanted is None:
            raise BadQuery(f"distinct takes true or false, got {params['distinct']!r}")
        # Documented: distinct works with values_list and ordering; elsewhere it is ignored.
        q.distinct = wanted and q.values is not None and bool(q.ordering)
        if q.distinct:
            assert q.values is not None
            names = {c.alias for c in q.values}
            stray = [name for name, _ in q.ordering if name not in names]
            if stray:
                raise BadQuery(f"with distinct, ordering must name values_list columns; not {', '.join(stray)}")
    for key, raw in params.items():
        if key in RESERVED:
            continue
        q.filters.append(_filter(spec, key, raw, tz))
    return q


def parse_detail(spec: Entity, params: dict[str, str], *, tz: timedelta) -> Query:
    """Parse a retrieve request (one record by id): only ``fields``, ``values_list``, ``format``."""
    filters = sorted(k for k in params if k not in RESERVED)
    if filters:
        raise BadQuery(f"filters are not allowed when retrieving one record by id: {', '.join(filters)}")
    q = Query(spec=spec)
    _shape(q, params)
    return q


def _shape(q: Query, params: dict[str, str]) -> None:
    """``format``, ``fields`` and ``values_list``: what each record looks like."""
    spec = q.spec
    fmt = params.get("format", "json").lower()
    if fmt == "xml":
        raise BadQuery("format=xml is not supported by the simulator: it serves JSON only")
    if fmt != "json":
        raise BadQuery(f"format must be json or xml, got {params['format']!r}")
    if "fields" in params and "values_list" in params:
        raise BadQuery("use either fields or values_list, not both")
    if "fields" in params:
        q.fields = [n for n in params["fields"].split(",") if n]
        for n in q.fields:
            _field(spec, n)
        if "id" not in q.fields:
            q.fields.insert(0, "id")
    if "values_list" in params:
        q.values = []
        for item in filter(None, params["values_list"].split(",")):
            text, _, alias = item.partition(":")
            column = Column(_value_path(spec, text), alias or text)
            if not _IDENTIFIER.fullmatch(column.alias):
                raise BadQuery(f"values_list alias {column.alias!r} must be letters, digits and underscores")
            if column.alias in {c.alias for c in q.values}:
                raise BadQuery(f"values_list names {column.alias!r} twice")
            q.values.append(column)
        if not q.values:
            raise BadQuery("values_list names no field")


def _value_path(spec: Entity, text: str) -> tuple[Field, ...]:
    """The fields of one ``values_list`` path (``order_id__order_nbr``)."""
    path: list[Field] = []
    current = spec
    names = text.split("__")
    for i, name in enumerate(names):
        f = _field(current, name)
        if f.kind is Kind.SET:
            raise BadQuery(f"values_list cannot include the related set {name!r} of {current.name}")
        path.append(f)
        if i < len(names) - 1:
            if f.kind is not Kind.FK:
                raise BadQuery(f"values_list: cannot follow {name!r} of {current.name}: not a relation")
            if f.target not in SCHEMA:
                raise BadQuery(f"values_list: cannot follow {name!r}: {f.target} is not an entity of this tenant")
            current = SCHEMA[f.target]
    return tuple(path)


def _filter(spec: Entity, key: str, raw: str, tz: timedelta) -> Filter:
    negate = key.endswith("!")
    parts = key.rstrip("!").split("__")
    path = [_field(spec, parts[0])]
    rest = parts[1:]
    while rest and path[-1].kind in (Kind.FK, Kind.SET):
        last, nxt = path[-1], rest[0]
        target = SCHEMA.get(last.target or "")
        if target is not None and target.has(nxt):
            path.append(target.field(nxt))
            rest.pop(0)
            continue
        if nxt in LOOKUPS or nxt in DATE_PARTS:
            break
        if target is None:
            raise BadQuery(f"cannot follow {last.name!r}: {last.target} is not an entity of this tenant")
        raise BadQuery(f"unknown field {nxt!r} for entity {target.name}")
    part = rest.pop(0) if rest and rest[0] in DATE_PARTS else None
    lookup = rest.pop(0) if rest and rest[0] in LOOKUPS else "exact"
    last = path[-1]
    if rest:
        bad = rest[0]
        if last.kind in (Kind.FK, Kind.SET) or bad in LOOKUPS or bad in DATE_PARTS:
            raise BadQuery(f"{key}: {bad!r} cannot follow there")
        raise BadQuery(
            f"{key}: {bad!r} is not a lookup the simulator supports, and {last.name} is not a relation "
            f"(lookups: {', '.join(sorted(LOOKUPS))}; date parts: {', '.join(DATE_PARTS)})"
        )
    if last.kind is Kind.SET and (lookup != "isnull" or part is not None):
        raise BadQuery(
            f"{key}: {last.name} is a related set: filter on a field of {last.target} "
            f"({last.name}__<field>) or test it with {last.name}__isnull"
        )
    if part is not None:
        if part not in _PARTS_OF.get(last.kind, frozenset()):
            raise BadQuery(f"{key}: the {part} lookup applies to date, datetime or time fields, not to {last.name}")
        if lookup not in COMPARISONS:
            raise BadQuery(f"{key}: after {part} only {', '.join(sorted(COMPARISONS))} may follow")
    offset = int(tz.total_seconds() // 60)
    return Filter(path, lookup, negate, _value(last, lookup, raw, tz, part), part, offset)


def _field(spec: Entity, name: str) -> Field:
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
                if raw.lower() not in _BOOLS:
                    raise ValueError(raw)
                return _BOOLS[raw.lower()]
            case Kind.DATE:
                return date.fromisoformat(raw)
            case Kind.TIME:
                return time.fromisoformat(raw).replace(microsecond=0)
            case Kind.TS:
                # A '+' in the offset arrives as a space when the client did not encode it.
                ts = datetime.fromisoformat(raw.replace(" ", "+") if raw.count(" ") == 1 and "T" in raw else raw)
                ts = ts.replace(microsecond=0)  # the real API compares whole seconds
                if ts.tzinfo is None:  # naive values are in the facility's time zone
                    return ts - tz
                return ts.astimezone(UTC).replace(tzinfo=None)
            case _:
                return raw
    except (ValueError, InvalidOperation):
        raise BadQuery(f"invalid value {raw!r} for {f.name} ({f.kind.value})") from None


def _value(f: Field, lookup: str, raw: str, tz: timedelta, part: str | None) -> Any:
    if lookup == "isnull":
        if raw.lower() not in _BOOLS:
            raise BadQuery(f"{f.name}__isnull takes true or false, got {raw!r}")
        return _BOOLS[raw.lower()]
    if part is not None:
        f = Field(f"{f.name}__{part}", Kind.INT)
    if lookup == "in":
        return [_scalar(f, v, tz) for v in raw.split(",") if v != ""]
    if lookup == "range":
        lo, sep, hi = raw.partition(",")
        if not sep:
            raise BadQuery(f"{f.name}__range takes two values 'lo,hi', got {raw!r}")
        return (_scalar(f, lo, tz), _scalar(f, hi, tz))
    if lookup in ("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iexact"):
        return raw
    return _scalar(f, raw, tz)


_OPS = {"exact": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_LIKE = {
    "contains": ("%", "%"),
    "icontains": ("%", "%"),
    "startswith": ("", "%"),
    "istartswith": ("", "%"),
    "endswith": ("%", ""),
    "iendswith": ("%", ""),
    "iexact": ("", ""),
}


def _clause(flt: Filter, alias: str) -> tuple[str, list[Any]]:
    head, rest = flt.path[0], flt.path[1:]
    col = f"{alias}.{head.name}"
    if head.kind is Kind.SET:
        assert head.target is not None and head.via is not None
        children = f"select s.{head.via} from {head.target} s where s.{head.via} is not null"
        if not rest:  # __isnull: rows without (true) or with (false) children
            return f"{alias}.id {'not ' if flt.value else ''}in ({children})", []
        sub, params = _clause(Filter(rest, flt.lookup, False, flt.value, flt.part, flt.tz_minutes), "s")
        sql = f"{alias}.id in ({children} and {sub})"
    elif rest:
        assert head.target is not None
        sub, params = _clause(Filter(rest, flt.lookup, False, flt.value, flt.part, flt.tz_minutes), "s")
        sql = f"{col} in (select s.id from {head.target} s where {sub})"
    else:
        sql, params = _compare(_part_sql(head, col, flt.part, flt.tz_minutes), flt.lookup, flt.value)
    return (f"not coalesce({sql}, false)" if flt.negate else sql), params


def _part_sql(f: Field, col: str, part: str | None, tz_minutes: int) -> str:
    """The compared expression: the column, or one of its date parts (datetimes in facility time)."""
    if part is None:
        return col
    local = f"({col} + to_minutes({tz_minutes}))" if f.kind is Kind.TS else col
    if part == "week_day":  # Django: 1 is Sunday … 7 is Saturday
        return f"(dayofweek({local}) + 1)"
    return f"{part}({local})"


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
    before, after = _LIKE[lookup]
    escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    op = "ilike" if lookup.startswith("i") else "like"
    return f"cast({col} as varchar) {op} ? escape '\\'", [f"{before}{escaped}{after}"]
