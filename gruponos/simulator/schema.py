"""The simulated tenant's own schema: every entity it serves, field by field.

The simulator plays the *other* side of the API, so it owns its schema instead of reading
the client's catalog. Field names are the real Oracle WMS ``lgfapi`` names where they are
known (shared/reference/wms-api.md, Oracle's REST API guide); the rest are plausible.

``describe`` speaks this type vocabulary (one word per :class:`Kind`):

=============  =====================================================================
``integer``    a whole number (``id``, counters, ``status_id``)
``string``     text; ``max_length`` gives its limit
``decimal``    an exact number sent as a JSON string (``"12.5000"``)
``datetime``   ISO-8601 with a UTC offset (``2026-11-01T10:00:00.000000-03:00``)
``date``       ``YYYY-MM-DD``
``time``       ``HH:MM:SS``
``boolean``    ``true``/``false``
``relation``   an FK object ``{"id", "key", "url"}``; ``related_entity`` names the target
               when the tenant serves it (else the object's ``url`` is blank)
``related set`` a child set ``{"result_count", "url"}``; ``related_entity`` names the child,
               ``related_field`` the child's FK back to this entity
=============  =====================================================================

``required`` is Oracle's letter: ``X`` or ``Y`` required, ``N`` not, ``C`` conditional.
Lookup entities (statuses, types) have no audit fields at all, so no ``mod_ts``.

The entities are declared in ``schema_entities`` (the tracked ones, by area) and
``schema_lookups`` (statuses and types, with the codes a tenant is configured with), as tables
of fields that ``schema_declare`` reads; this module gathers them into :data:`SCHEMA`, in the
order the tenant serves and changes them.
"""

from __future__ import annotations

from gruponos.simulator.schema_entities import (
    ALLOCATION,
    BATCH_NUMBER,
    COMPANY,
    CONTAINER,
    CONTAINER_LOCK_XREF,
    FACILITY,
    IB_CONTAINER,
    IB_SHIPMENT,
    IB_SHIPMENT_DTL,
    INVENTORY,
    INVENTORY_ATTRIBUTE,
    INVENTORY_HISTORY,
    INVENTORY_LOCK,
    ITEM,
    ITEM_METRIC,
    LOCATION,
    ORDER_DTL,
    ORDER_HDR,
    PURCHASE_ORDER_DTL,
    PURCHASE_ORDER_HDR,
    VENDOR,
)
from gruponos.simulator.schema_lookups import (
    HISTORY_ACTIVITY,
    INVENTORY_STATUS,
    LOOKUP_ROWS,
    ORDER_STATUS,
    ORDER_TYPE,
    PURCHASE_ORDER_STATUS,
    PUTAWAY_TYPE,
    REFERENCE_KEYS,
    STATUS_CODES,
)
from gruponos.simulator.schema_types import Entity, Field, Kind

__all__ = [
    "LOOKUP_ROWS",
    "REFERENCE_KEYS",
    "SCHEMA",
    "STATUS_CODES",
    "Entity",
    "Field",
    "Kind",
]

SCHEMA: dict[str, Entity] = {
    e.name: e
    for e in (
        ALLOCATION,
        ORDER_HDR,
        ORDER_DTL,
        ITEM,
        LOCATION,
        INVENTORY,
        FACILITY,
        COMPANY,
        CONTAINER,
        CONTAINER_LOCK_XREF,
        INVENTORY_ATTRIBUTE,
        BATCH_NUMBER,
        PURCHASE_ORDER_DTL,
        IB_SHIPMENT,
        IB_SHIPMENT_DTL,
        PURCHASE_ORDER_HDR,
        INVENTORY_LOCK,
        ITEM_METRIC,
        IB_CONTAINER,
        HISTORY_ACTIVITY,
        PUTAWAY_TYPE,
        ORDER_TYPE,
        PURCHASE_ORDER_STATUS,
        ORDER_STATUS,
        INVENTORY_STATUS,
        VENDOR,
        INVENTORY_HISTORY,
    )
}
