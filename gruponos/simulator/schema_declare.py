"""How the schema's entities are declared: a table of fields, one a line.

A line is ``name kind [detail] [required]``: ``kind`` names a :class:`Kind` in lower case
(``int``, ``status``, ``str``, ``decimal``, ``ts``, ``date``, ``time``, ``flg``, ``fk``,
``set``); ``str`` takes its max length, ``fk`` its target entity, ``set`` its child entity and
the child's FK back here; ``required`` is Oracle's letter (``X``, ``Y``, ``C``; ``N`` when left
out). Blank lines are passed over.

``tracked`` entities have ``id`` first and the audit fields (with ``mod_ts``) last; ``lookup``
entities (statuses, types) have no audit fields at all.
"""

from __future__ import annotations

import re
from typing import Any, cast, get_args

from gruponos.simulator.schema_types import Entity, Field, Kind, Required

__all__ = ["fields", "lookup", "tracked"]


def fields(table: str) -> tuple[Field, ...]:
    """The fields of ``table``, in its order (a line it cannot read is a ValueError naming it)."""
    return tuple(_field(line) for line in table.splitlines() if line.strip())


def _field(line: str) -> Field:
    name, word, *detail = line.split()
    try:
        kind = Kind[word.upper()]
    except KeyError:
        raise ValueError(f"unknown kind in {line.strip()!r}") from None
    required = cast(Required, detail.pop()) if detail and detail[-1] in get_args(Required) else "N"
    match kind, detail:
        case Kind.STR, [length]:
            return Field(name, kind, int(length), required=required)
        case Kind.FK, [target]:
            return Field(name, kind, target=target, required=required)
        case Kind.SET, [child, via]:
            return Field(name, kind, target=child, via=via, required=required)
        case _, [] if kind not in (Kind.STR, Kind.FK, Kind.SET):
            return Field(name, kind, required=required)
    raise ValueError(f"cannot read the field {line.strip()!r}")


_ID = fields("id int X")
_AUDIT = fields(
    """
    create_user  str  255
    create_ts    ts
    mod_user     str  255
    mod_ts       ts   Y
    """
)


def tracked(name: str, table: str, *, natural_key: str = "", **options: Any) -> Entity:
    """An entity whose rows are stamped: ``id`` first, the audit fields (with ``mod_ts``) last.

    ``natural_key`` names the field FK objects show for a row, then its first row's value:
    ``"code CO01"`` says codes are ``CO`` and the row's id zero-padded to two digits.
    """
    if natural_key:
        options.update(key=natural_key.split()[0], key_format=_key_format(natural_key))
    return Entity(name, (*_ID, *fields(table), *_AUDIT), **options)


def _key_format(natural_key: str) -> tuple[str, int]:
    """``"code CO01"`` → ``("CO", 2)``: the prefix, and the width the id is zero-padded to."""
    match = re.fullmatch(r"\w+ ([A-Z]+)(0*1)", natural_key)
    if match is None:
        raise ValueError(f"a natural key is a field and its first value (code CO01), not {natural_key!r}")
    return match[1], len(match[2])


def lookup(name: str, table: str = "", *, key: str = "description", ordering: bool = True) -> Entity:
    """A status or type table: no audit fields, no ``mod_ts``."""
    return Entity(name, (*_ID, *fields(table), *fields("description str 255")), key=key, ordering=ordering)
