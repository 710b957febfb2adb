"""The tenant's catalog: which entities exist, what each one is, and which a sync selects.

    catalog = discover(wms, settings.sync)                      # GET entity/ + describe of the selection
    catalog = discover(wms, settings.sync, ["allocation", "order_*"])
    for name in catalog.selected: catalog.spec(name)            # EntitySpec, derived + overlay

The list of entities comes from ``GET entity/``; each selected entity's fields from
``GET entity/{name}/describe/``, read once per run (a ``Catalog`` is the run's cache: pass it
along instead of asking again). Selection: names or shell-style globs (``order_*``), minus
``exclude``; an exact name the tenant does not serve fails before anything starts, naming the
close matches. The built-in default selection skips, with a warning, the entities a tenant
does not serve to this user.
"""

from __future__ import annotations

import difflib
import fnmatch
import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gruponos.entities import EntitySpec, SyncClass, derive
from gruponos.errors import Error, WmsError
from gruponos.settings import DEFAULT_ENTITIES, SyncSettings
from gruponos.wms import WmsClient

__all__ = ["Catalog", "UnknownEntity", "discover", "select"]

log = logging.getLogger(__name__)

_GLOB = frozenset("*?[")


class UnknownEntity(Error):
    """A selected entity the tenant does not serve (the message lists the close matches)."""


@dataclass(frozen=True, slots=True)
class Catalog:
    """The tenant's entity names and the derived specs of the selected entities."""

    names: tuple[str, ...]
    specs: Mapping[str, EntitySpec] = field(default_factory=dict)
    selected: tuple[str, ...] = ()
    describes: Mapping[str, Mapping[str, object]] = field(default_factory=dict, repr=False)

    def spec(self, name: str) -> EntitySpec:
        """The spec of a selected entity (``UnknownEntity`` naming the close matches otherwise)."""
        try:
            return self.specs[name]
        except KeyError:
            raise UnknownEntity(_unknown(name, self.names)) from None

    def of_class(self, *classes: SyncClass) -> list[str]:
        """The selected entities of these sync classes, in selection order."""
        return [n for n in self.selected if self.specs[n].sync_class in classes]


def select(
    names: Sequence[str], patterns: Iterable[str], exclude: Iterable[str] = (), *, strict: bool = True
) -> list[str]:
    """The entities of ``names`` that ``patterns`` pick (in ``names`` order) minus ``exclude``.

    An exact name (no glob characters) that is not in ``names`` raises ``UnknownEntity`` when
    ``strict``; otherwise it is skipped with a warning.
    """
    chosen: list[str] = []
    missing: list[str] = []
    for pattern in patterns:
        if _GLOB & set(pattern):
            chosen += [n for n in names if fnmatch.fnmatchcase(n, pattern) and n not in chosen]
        elif pattern in names:
            if pattern not in chosen:
                chosen.append(pattern)
        else:
            missing.append(pattern)
    if missing and strict:
        raise UnknownEntity("; ".join(_unknown(m, names) for m in missing))
    if missing:
        log.warning("the WMS does not serve %s to this user: skipped", ", ".join(missing))
    dropped = list(exclude)
    return [n for n in chosen if not any(fnmatch.fnmatchcase(n, p) for p in dropped)]


def discover(wms: WmsClient, sync: SyncSettings, patterns: Iterable[str] | None = None) -> Catalog:
    """The tenant's catalog with the selection described and derived (one ``describe`` per entity).

    ``patterns`` (a flow's ``entities``, the CLI's ``--entity``) replace the configured
    selection (``GRUPONOS_SYNC__ENTITIES``); ``GRUPONOS_SYNC__EXCLUDE`` applies to both.
    """
    names = tuple(wms.entity_names())
    wanted = list(patterns) if patterns is not None else list(sync.entities)
    lenient = patterns is None and tuple(sync.entities) == DEFAULT_ENTITIES
    selected = select(names, wanted, sync.exclude, strict=not lenient)
    workers = max(1, min(wms.settings.max_concurrency, len(selected), 8))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="describe") as pool:
        answers = dict(zip(selected, pool.map(wms.describe, selected), strict=True))
    specs: dict[str, EntitySpec] = {}
    for name in selected:
        try:
            specs[name] = derive(name, answers[name], names=names)
        except ValueError as exc:
            raise WmsError(f"cannot sync {name}: {exc}", entity=name) from None
    return Catalog(names=names, specs=specs, selected=tuple(selected), describes=answers)


def _unknown(name: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; it serves {len(names)} entities (gruponos entities)"
    return f"the WMS serves no entity {name!r}{hint}"
