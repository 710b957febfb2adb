"""The entity model: what a WMS entity is (fields, keys, sync class, rules), derived from the
tenant's own ``describe``.

    spec = derive("allocation", wms.describe("allocation"), names=wms.entity_names())

A tenant says which entities exist (``GET entity/``) and what their fields are
(``GET entity/{name}/describe/``); :func:`derive` turns one ``describe`` into an
:class:`EntitySpec`. :data:`OVERLAYS` adds what ``describe`` cannot say: business rules
(checks), a sync class other than the default, filters an entity requires, FK targets and
descriptions. ``gruponos.catalog`` discovers, caches and selects.

The *wire* shape (what the API sends) and the *table* shape (what we store, FK objects
flattened to ``<name>_id``/``<name>_key``, child sets to ``<name>_count``) both come from the
same fields. Column names follow one rule (:func:`column_name`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import pyarrow as pa

__all__ = [
    "DECIMAL_TYPE",
    "OVERLAYS",
    "TIMESTAMP_TYPE",
    "Check",
    "Column",
    "EntitySpec",
    "Field",
    "Kind",
    "Overlay",
    "SyncClass",
    "column_name",
    "derive",
]

# Quantities, prices and weights travel as strings such as "12.5000"; stored exactly.
DECIMAL_TYPE = pa.decimal128(28, 8)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")

# Columns every raw table has beside the entity's own (written by the warehouse).
META_COLUMN_NAMES = ("_loaded_at", "_run_id", "_seen_run", "_deleted_at")


class Kind(StrEnum):
    """What a WMS field is on the wire."""

    INT = "int"  # plain integer
    STR = "str"  # text, with a max length
    DECIMAL = "decimal"  # JSON string holding an exact decimal
    TS = "ts"  # ISO-8601 datetime with a UTC offset
    DATE = "date"  # YYYY-MM-DD
    TIME = "time"  # HH:MM[:SS[.ffffff]], kept as text
    FLG = "flg"  # boolean
    STATUS = "status"  # bare integer status code (status_id is never an FK object)
    FK = "fk"  # {"id", "key", "url"} or null
    SET = "set"  # {"result_count", "url"} or null


class SyncClass(StrEnum):
    """How an entity is synced.

    ``operational``: incremental on ``mod_ts`` (and weekly full syncs for deletes);
    ``master``: re-read in full (reference data that has ``mod_ts``);
    ``lookup``: no ``mod_ts`` at all, so every sync reads the whole table (with soft deletes).
    """

    OPERATIONAL = "operational"
    MASTER = "master"
    LOOKUP = "lookup"


@dataclass(frozen=True, slots=True)
class Field:
    """One field as the WMS API sends it."""

    name: str
    kind: Kind
    max_length: int | None = None
    target: str | None = None  # FK: the related entity; SET: the child entity
    via: str | None = None  # SET: the child's FK field pointing back here
    required: bool = False  # enforced by the contract (keys and overlay rules)
    wms_required: str | None = None  # what describe says: X/Y required, N not, C conditional

    @property
    def base(self) -> str:
        """The name without its ``_id``/``_set`` suffix (``facility_id`` → ``facility``)."""
        for suffix in ("_id", "_set"):
            if self.name.endswith(suffix) and len(self.name) > len(suffix):
                return self.name[: -len(suffix)]
        return self.name


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the flattened (table) shape."""

    name: str
    type: pa.DataType
    source: Field
    max_length: int | None = None


_ARROW: dict[Kind, pa.DataType] = {
    Kind.INT: pa.int64(),
    Kind.STATUS: pa.int64(),
    Kind.STR: pa.string(),
    Kind.TIME: pa.string(),
    Kind.DECIMAL: DECIMAL_TYPE,
    Kind.TS: TIMESTAMP_TYPE,
    Kind.DATE: pa.date32(),
    Kind.FLG: pa.bool_(),
}


@dataclass(frozen=True, slots=True)
class Check:
    """A business rule on flattened columns, declared in an overlay.

    ``non_negative``: every named column is >= 0 when present.
    ``not_greater``: ``columns[0] <= columns[1]`` when both are present.
    """

    kind: Literal["non_negative", "not_greater"]
    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        if self.kind == "not_greater":
            return f"{self.columns[0]}_le_{self.columns[1]}"
        return f"non_negative:{','.join(self.columns)}"


# --- column names: one rule -----------------------------------------------------------

_SAFE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_MAX = 60


def column_name(name: str, taken: Collection[str] = ()) -> str:
    """The warehouse column for a WMS field name: the name itself when it is safe, else a safe one.

    Safe: lower case ASCII letters, digits and ``_``, starting with a letter, at most 60
    characters, not one of ``taken`` (columns the table already has for other reasons: the
    flattened FK and set columns, and the bookkeeping columns, which all start with ``_``).
    Any other name becomes its lower-cased ASCII letters and digits, other characters as ``_``,
    cut to 52 characters, plus ``_`` and the first 6 hex digits of the SHA-1 of the exact name:
    the same field always gets the same column, and two names that differ only in case or
    punctuation get two columns. ``order_dtl_id`` stays ``order_dtl_id``; ``Mod_TS`` becomes
    ``mod_ts_a1b2c3``; ``a"; drop table x`` becomes ``a_drop_table_x_…``.
    """
    if _SAFE.match(name) and name not in taken:
        return name
    cleaned = re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", name.lower())).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "f_" + cleaned
    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()[:6]
    return f"{cleaned[: _MAX - 8]}_{digest}"


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """One WMS entity: its fields, keys, how it is synced and the rules its records follow."""

    name: str
    fields: tuple[Field, ...]
    sync_class: SyncClass
    primary_key: str = "id"
    replication_key: str | None = "mod_ts"
    description: str = ""
    checks: tuple[Check, ...] = ()
    required_filters: tuple[tuple[str, ...], ...] = ()  # one of these filter sets must be given
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)
    _columns: tuple[Column, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {f.name: f for f in self.fields}
        if len(by_name) != len(self.fields):
            raise ValueError(f"entity {self.name}: duplicate field names")
        for key in (self.primary_key, self.replication_key):
            if key is not None and key not in by_name:
                raise ValueError(f"entity {self.name}: missing key field {key!r}")
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_columns", _flatten(self.fields))
        names = {c.name for c in self._columns}
        for check in self.checks:
            if unknown := set(check.columns) - names:
                raise ValueError(f"entity {self.name}: check {check.name} names unknown columns {sorted(unknown)}")

    def field(self, name: str) -> Field:
        """The field called ``name`` (KeyError names the entity)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"entity {self.name} has no field {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self._by_name

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    def columns_of(self, f: Field) -> tuple[Column, ...]:
        """The table columns one field becomes (one; two for an FK)."""
        return tuple(c for c in self._columns if c.source is f)

    def column(self, field_name: str) -> str:
        """The (main) column of a field."""
        return self.columns_of(self.field(field_name))[0].name

    @property
    def renamed(self) -> dict[str, str]:
        """Fields whose column is not their own name (see :func:`column_name`); FKs and sets aside."""
        return {
            c.source.name: c.name
            for c in self._columns
            if c.source.kind not in (Kind.FK, Kind.SET) and c.name != c.source.name
        }

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of decoded, flattened batches."""
        return pa.schema([pa.field(c.name, c.type) for c in self._columns])

    @property
    def fks(self) -> Iterator[Field]:
        return (f for f in self.fields if f.kind is Kind.FK)

    @property
    def incremental(self) -> bool:
        """Synced incrementally on its replication key (operational entities)."""
        return self.sync_class is SyncClass.OPERATIONAL and self.replication_key is not None

    def taken(self) -> set[str]:
        """Column names a new (drifted) field must not take."""
        return {c.name for c in self._columns} | set(META_COLUMN_NAMES)


def _flatten(fields: tuple[Field, ...]) -> tuple[Column, ...]:
    """The table columns of ``fields``: FKs as ``<base>_id`` + ``<base>_key``, sets as ``<base>_count``."""
    generated: dict[Field, list[tuple[str, pa.DataType, int | None]]] = {}
    for f in fields:
        if f.kind is Kind.FK:
            generated[f] = [(f"{f.base}_id", pa.int64(), None), (f"{f.base}_key", pa.string(), 255)]
        elif f.kind is Kind.SET:
            generated[f] = [(f"{f.base}_count", pa.int64(), None)]
    reserved = {n for cols in generated.values() for n, _, _ in cols} | set(META_COLUMN_NAMES)
    out: list[Column] = []
    used: set[str] = set()
    for f in fields:
        if f in generated:
            for name, t, length in generated[f]:
                safe = column_name(name, used)
                used.add(safe)
                out.append(Column(safe, t, f, max_length=length))
            continue
        safe = column_name(f.name, used | reserved)
        used.add(safe)
        out.append(Column(safe, _ARROW[f.kind], f, max_length=f.max_length))
    return tuple(out)


# --- describe → spec --------------------------------------------------------------------

# describe's type names (lower case) → kinds. Oracle documents the keys of describe but not
# its type vocabulary, and clients in the field have met several; unknown ones fall back on
# the documented name conventions (``_flg``, ``_ts``, ``_date``, ``_time``, ``_set``) and
# then on text, so a value is always kept.
_TYPES: dict[str, Kind] = {
    **dict.fromkeys(("integer", "int", "bigint", "smallint", "pk", "autofield", "bigautofield", "serial"), Kind.INT),
    **dict.fromkeys(("integerfield", "biginteger", "bigintegerfield", "positiveintegerfield", "long"), Kind.INT),
    **dict.fromkeys(("string", "varchar", "varchar2", "char", "text", "clob", "charfield", "textfield"), Kind.STR),
    **dict.fromkeys(("str", "email", "url", "slug", "choice", "uuid"), Kind.STR),
    **dict.fromkeys(("decimal", "number", "numeric", "float", "double", "decimalfield", "floatfield"), Kind.DECIMAL),
    **dict.fromkeys(("datetime", "timestamp", "datetimefield", "date-time", "date_time"), Kind.TS),
    **dict.fromkeys(("date", "datefield"), Kind.DATE),
    **dict.fromkeys(("time", "timefield"), Kind.TIME),
    **dict.fromkeys(("boolean", "bool", "booleanfield", "nullbooleanfield", "flag"), Kind.FLG),
    **dict.fromkeys(("relation", "foreign key", "foreignkey", "foreign_key", "fk", "related", "field"), Kind.FK),
    **dict.fromkeys(("nested object", "primarykeyrelatedfield", "hyperlinkedrelatedfield", "object"), Kind.FK),
    **dict.fromkeys(("related set", "set", "reverse relation", "list", "manyrelatedfield", "array"), Kind.SET),
}
_SUFFIXES: tuple[tuple[str, Kind], ...] = (
    ("_flg", Kind.FLG),
    ("_ts", Kind.TS),
    ("_date", Kind.DATE),
    ("_time", Kind.TIME),
    ("_set", Kind.SET),
)
_REQUIRED = {"x": True, "y": True, "n": False, "c": False, "true": True, "false": False}


@dataclass(frozen=True, slots=True)
class Overlay:
    """What ``describe`` cannot say about an entity: its business rules and how to sync it."""

    sync_class: SyncClass | None = None  # default: operational with mod_ts, lookup without
    description: str = ""
    checks: tuple[Check, ...] = ()
    required: tuple[str, ...] = ()  # fields the contract requires beyond the keys
    targets: Mapping[str, str] = field(default_factory=dict)  # FK field → related entity
    required_filters: tuple[tuple[str, ...], ...] = ()
    replication_key: str | None = None  # default: mod_ts when the entity has it


def derive(
    name: str,
    describe: Mapping[str, Any],
    *,
    names: Collection[str] = (),
    overlay: Overlay | None = None,
) -> EntitySpec:
    """The spec of entity ``name`` from its ``describe`` answer (``names``: the tenant's entities).

    Raises ``ValueError`` naming the entity when ``describe`` cannot make a spec (no ``id``).
    """
    overlay = overlay or OVERLAYS.get(name) or Overlay()
    described = describe.get("fields")
    if not isinstance(described, Mapping) or not described:
        raise ValueError(f"entity {name}: describe has no fields")
    fields: list[Field] = []
    for field_name, meta in described.items():
        meta = meta if isinstance(meta, Mapping) else {}
        kind = _kind(str(field_name), meta)
        target = _target(str(field_name), kind, meta, names, overlay)
        max_length = meta.get("max_length") if kind is Kind.STR else None
        flag = str(meta.get("required", "")).strip().lower()
        fields.append(
            Field(
                name=str(field_name),
                kind=kind,
                max_length=max_length if isinstance(max_length, int) and max_length > 0 else None,
                target=target,
                via=_via(kind, meta),
                wms_required=flag.upper() if flag in _REQUIRED else None,
            )
        )
    by_name = {f.name: f for f in fields}
    if "id" not in by_name:
        raise ValueError(f"entity {name}: describe has no 'id' field, so its records cannot be keyed")
    replication = overlay.replication_key or ("mod_ts" if by_name.get("mod_ts", _NO).kind is Kind.TS else None)
    required = {"id", *overlay.required} | ({replication} if replication else set())
    fields = [_with(f, required=f.name in required) for f in fields]
    sync_class = overlay.sync_class or (SyncClass.OPERATIONAL if replication else SyncClass.LOOKUP)
    if replication is None and sync_class is not SyncClass.LOOKUP:
        sync_class = SyncClass.LOOKUP
    checks = tuple(c for c in overlay.checks if all(_has_column(fields, col) for col in c.columns))
    return EntitySpec(
        name=name,
        fields=tuple(fields),
        sync_class=sync_class,
        replication_key=replication,
        description=overlay.description,
        checks=checks,
        required_filters=overlay.required_filters,
    )


_NO = Field("", Kind.STR)


def _via(kind: Kind, meta: Mapping[str, Any]) -> str | None:
    """A child set's FK back to its parent, when describe names it."""
    via = meta.get("related_field")
    return via if kind is Kind.SET and isinstance(via, str) else None


def _with(f: Field, *, required: bool) -> Field:
    return Field(f.name, f.kind, f.max_length, f.target, f.via, required, f.wms_required)


def _has_column(fields: list[Field], column: str) -> bool:
    return column in {c.name for c in _flatten(tuple(fields))}


def _kind(name: str, meta: Mapping[str, Any]) -> Kind:
    """A field's kind from describe's type, corrected by the documented name conventions."""
    if name == "status_id":
        return Kind.STATUS  # always a bare integer, never an FK object (documented)
    if name == "id":
        return Kind.INT
    if name.endswith("_set"):
        return Kind.SET
    kind = _TYPES.get(str(meta.get("type", "")).strip().lower())
    if kind is Kind.INT and name.endswith("_id") and meta.get("related_entity"):
        return Kind.FK
    if kind is not None:
        return kind
    for suffix, by_suffix in _SUFFIXES:
        if name.endswith(suffix):
            return by_suffix
    return Kind.STR


def _target(name: str, kind: Kind, meta: Mapping[str, Any], names: Collection[str], overlay: Overlay) -> str | None:
    """The related entity of an FK or child set, when the tenant says or serves it."""
    if kind not in (Kind.FK, Kind.SET):
        return None
    for key in ("related_entity", "related_model", "target"):
        if isinstance(meta.get(key), str) and meta[key]:
            return str(meta[key])
    if name in overlay.targets:
        return overlay.targets[name]
    base = name[: -len("_id")] if name.endswith("_id") else name[: -len("_set")] if name.endswith("_set") else name
    return base if base in names else None


# --- overlays: the business rules -------------------------------------------------------

OVERLAYS: dict[str, Overlay] = {
    "allocation": Overlay(
        description="Inventory allocated to an order line (what to pick, from where, how much).",
        checks=(Check("non_negative", ("alloc_qty", "packed_qty")), Check("not_greater", ("packed_qty", "alloc_qty"))),
        required=("order_dtl_id",),
        targets={"from_inventory_id": "inventory", "to_inventory_id": "inventory", "order_dtl_id": "order_dtl"},
    ),
    "order_hdr": Overlay(
        description="An outbound order header.",
        checks=(Check("non_negative", ("total_orig_ord_qty",)),),
        required=("company_id", "facility_id"),
    ),
    "order_dtl": Overlay(
        description="An outbound order line.",
        checks=(Check("non_negative", ("ord_qty", "orig_ord_qty", "alloc_qty", "ordered_uom_qty")),),
        required=("order_id", "item_id"),
        targets={"order_id": "order_hdr"},
    ),
    "item": Overlay(
        sync_class=SyncClass.MASTER,
        description="A stock-keeping unit of a company.",
        checks=(Check("non_negative", ("unit_cost", "std_pack_qty", "std_case_qty")),),
        required=("company_id",),
    ),
    "location": Overlay(
        sync_class=SyncClass.MASTER, description="A storage or pick location in a facility.", required=("facility_id",)
    ),
    "inventory": Overlay(
        sync_class=SyncClass.MASTER,
        description="Stock on hand: an item's quantity in a location (or container).",
        checks=(Check("non_negative", ("curr_qty", "orig_qty", "pack_qty", "case_qty")),),
        required=("facility_id", "item_id"),
    ),
    "facility": Overlay(
        sync_class=SyncClass.MASTER,
        description="A warehouse (distribution centre).",
        required=("parent_company_id",),
        targets={"parent_company_id": "company"},
    ),
    "company": Overlay(
        sync_class=SyncClass.MASTER,
        description="A company (tenant business unit) whose data the user may read.",
        targets={"parent_company_id": "company"},
    ),
    "purchase_order_dtl": Overlay(
        description="An inbound purchase order line.",
        checks=(Check("non_negative", ("ord_qty", "shipped_qty", "received_qty")),),
        targets={"po_id": "purchase_order_hdr"},
    ),
    "purchase_order_hdr": Overlay(description="An inbound purchase order header."),
    "ib_shipment": Overlay(description="An inbound shipment (ASN)."),
    "ib_shipment_dtl": Overlay(
        description="A line of an inbound shipment (ASN).",
        checks=(Check("non_negative", ("shipped_qty", "received_qty")),),
    ),
    "inventory_history": Overlay(
        description="Inventory transactions; the WMS answers only with one of its documented filter sets.",
        required_filters=(
            ("company_id__code", "facility_id__code", "group_nbr"),
            ("company_id__code", "facility_id__code", "history_activity_id", "status_id"),
            ("company_id__code", "facility_id__code", "history_activity_id", "item_code"),
            ("company_id__code", "facility_id__code", "history_activity_id", "item_alternate_code"),
            ("company_id__code", "facility_id__code", "history_activity_id", "container_nbr"),
        ),
    ),
}
