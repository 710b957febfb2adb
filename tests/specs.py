"""Entity specs for tests that run without a WMS: derived from describe answers written down in
``tests/fixtures/describe.json`` (the eight entities gruponos first synced, their real field names).
``read_by_dbt`` adds, from a tenant's describe, the inbound entities the dbt project reads too."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from gruponos.catalog import discover
from gruponos.entities import EntitySpec, derive
from gruponos.settings import SyncSettings
from gruponos.wms import WmsClient

DESCRIBE: dict[str, Any] = json.loads((Path(__file__).parent / "fixtures" / "describe.json").read_text())
NAMES = tuple(DESCRIBE)


@cache
def spec(name: str) -> EntitySpec:
    """The spec gruponos derives for ``name`` from its written-down describe."""
    return derive(name, DESCRIBE[name], names=NAMES)


CATALOG: dict[str, EntitySpec] = {name: spec(name) for name in NAMES}

# The inbound entities the dbt project's models read beyond the eight (no describe of theirs is
# written down: their specs come from the tenant's).
INBOUND = ("purchase_order_hdr", "purchase_order_dtl", "ib_shipment", "ib_shipment_dtl", "container", "ib_container")


# The dbt project's incremental models (intermediate and marts), written down here rather than
# read from the project.
INCREMENTAL_MODELS = (
    "int_allocation_lifecycle",
    "int_order_lines_enriched",
    "fct_allocation_performance",
    "fct_order_fulfillment",
    "fct_inventory_position",
    "fct_inbound_receipts",
)


def read_by_dbt(wms: WmsClient) -> dict[str, EntitySpec]:
    """Every entity the dbt project's models read: the eight written-down specs, and the inbound
    ones derived from ``wms``'s describe as a run derives them."""
    return CATALOG | dict(discover(wms, SyncSettings(), INBOUND).specs)
