"""What the simulated tenant's schema is made of: a field's kind on the wire, a field, an entity.

The ``describe`` vocabulary each :class:`Kind` speaks is written down in ``schema.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

__all__ = ["Entity", "Field", "Kind", "Required"]

Required = Literal["X", "Y", "N", "C"]


class Kind(StrEnum):
    """What a field is on the wire."""

    INT = "integer"
    STATUS = "status"  # a bare integer status code (never an FK object)
    STR = "string"
    DECIMAL = "decimal"
    TS = "datetime"
    DATE = "date"
    TIME = "time"
    FLG = "boolean"
    FK = "relation"
    SET = "related set"


@dataclass(frozen=True, slots=True)
class Field:
    """One field as the API sends it."""

    name: str
    kind: Kind
    max_length: int | None = None
    target: str | None = None  # FK: the related entity (served or not); SET: the child entity
    via: str | None = None  # SET: the child's FK field pointing back here
    required: Required = "N"

    @property
    def mandatory(self) -> bool:
        return self.required in ("X", "Y")


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity the tenant serves."""

    name: str
    fields: tuple[Field, ...]
    key: str = "id"  # the field whose value is the ``key`` of FK objects pointing here…
    key_prefix: str = ""  # …after this prefix
    key_format: tuple[str, int] | None = None  # what the key field holds: a prefix, the id zero-padded (CO01)
    ordering: bool = True  # False: any ``ordering`` parameter answers 400
    # List requests must filter on one of these combinations (inventory_history does).
    filter_rule: tuple[tuple[str, ...], ...] = ()
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})
        if len(self._by_name) != len(self.fields):
            raise ValueError(f"entity {self.name}: duplicate field names")

    def field(self, name: str) -> Field:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"entity {self.name} has no field {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self._by_name

    @property
    def tracked(self) -> bool:
        """True when rows carry ``mod_ts`` (changes are stamped; Last-Modified is sent)."""
        return "mod_ts" in self._by_name

    @property
    def fks(self) -> Iterator[Field]:
        return (f for f in self.fields if f.kind is Kind.FK)

    @property
    def sets(self) -> Iterator[Field]:
        return (f for f in self.fields if f.kind is Kind.SET)
