"""The building blocks the schema's entities are declared with (one call a field).

``tracked`` entities have ``id`` first and the audit fields (with ``mod_ts``) last; ``lookup``
entities (statuses, types) have no audit fields at all.
"""

from __future__ import annotations

from typing import Any

from gruponos.simulator.schema_types import Entity, Field, Kind, Required

__all__ = [
    "date",
    "decimal",
    "fk",
    "flag",
    "integer",
    "lookup",
    "related_set",
    "status",
    "text",
    "timestamp",
    "tracked",
]


def _id() -> Field:
    return Field("id", Kind.INT, required="X")


def _audit() -> tuple[Field, ...]:
    return (
        Field("create_user", Kind.STR, 255),
        Field("create_ts", Kind.TS),
        Field("mod_user", Kind.STR, 255),
        Field("mod_ts", Kind.TS, required="Y"),
    )


def fk(name: str, target: str, required: Required = "N") -> Field:
    return Field(name, Kind.FK, target=target, required=required)


def text(name: str, length: int = 255, required: Required = "N") -> Field:
    return Field(name, Kind.STR, length, required=required)


def decimal(name: str) -> Field:
    return Field(name, Kind.DECIMAL)


def timestamp(name: str) -> Field:
    return Field(name, Kind.TS)


def date(name: str) -> Field:
    return Field(name, Kind.DATE)


def flag(name: str) -> Field:
    return Field(name, Kind.FLG)


def integer(name: str) -> Field:
    return Field(name, Kind.INT)


def status() -> Field:
    return Field("status_id", Kind.STATUS)


def related_set(name: str, child: str, via: str) -> Field:
    return Field(name, Kind.SET, target=child, via=via)


def tracked(name: str, *fields: Field, **options: Any) -> Entity:
    """An entity whose rows are stamped: ``id`` first, the audit fields (with ``mod_ts``) last."""
    return Entity(name, (_id(), *fields, *_audit()), **options)


def lookup(name: str, *extra: Field, key: str = "description", ordering: bool = True) -> Entity:
    """A status or type table: no audit fields, no ``mod_ts``."""
    return Entity(name, (_id(), *extra, text("description", 255)), key=key, ordering=ordering)
