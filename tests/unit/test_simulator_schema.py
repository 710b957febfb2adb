"""The simulator owns its schema; until gruponos derives its catalog from ``describe``, the eight
entities the client's hand-written catalog declares must keep exactly that wire shape."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gruponos import entities as client
from gruponos.simulator.schema import LOOKUP_ROWS, SCHEMA, STATUS_CODES, Kind

# The client's wire kinds and the simulator's, named independently on each side.
KINDS = {
    client.Kind.INT: Kind.INT,
    client.Kind.STR: Kind.STR,
    client.Kind.DECIMAL: Kind.DECIMAL,
    client.Kind.TS: Kind.TS,
    client.Kind.DATE: Kind.DATE,
    client.Kind.FLG: Kind.FLG,
    client.Kind.STATUS: Kind.STATUS,
    client.Kind.FK: Kind.FK,
    client.Kind.SET: Kind.SET,
}

ISSUE_13_ENTITIES = [
    *("order_dtl", "inventory", "container", "container_lock_xref", "order_hdr", "allocation"),
    *("inventory_attribute", "item", "batch_number", "purchase_order_dtl", "ib_shipment", "ib_shipment_dtl"),
    *("purchase_order_hdr", "inventory_lock", "location", "item_metric", "ib_container", "history_activity"),
    *("putaway_type", "order_type", "purchase_order_status", "order_status", "inventory_status", "vendor"),
    *("company", "facility"),
]


@pytest.mark.parametrize("name", sorted(client.CATALOG))
def test_the_client_catalogs_entities_keep_their_wire_shape_field_by_field(name: str) -> None:
    theirs, ours = client.CATALOG[name], SCHEMA[name]
    assert [f.name for f in ours.fields] == [f.name for f in theirs.fields]
    for want in theirs.fields:
        got = ours.field(want.name)
        assert got.kind is KINDS[want.kind], want.name
        assert got.mandatory == want.required, want.name
        if want.kind is client.Kind.STR:
            assert got.max_length == want.max_length, want.name
        if want.kind in (client.Kind.FK, client.Kind.SET):
            assert (got.target, got.via) == (want.target, want.via), want.name


def test_the_tenant_serves_the_26_default_entities_and_inventory_history() -> None:
    assert set(SCHEMA) == {*ISSUE_13_ENTITIES, "inventory_history"}


def test_lookup_entities_carry_no_audit_fields_and_everything_else_does() -> None:
    lookups = {"order_status", "inventory_status", "purchase_order_status", "order_type", "putaway_type"}
    for name, spec in SCHEMA.items():
        audit = {"create_user", "create_ts", "mod_user", "mod_ts"} & {f.name for f in spec.fields}
        if name in lookups or name == "history_activity":
            assert not audit, name
        else:
            assert audit == {"create_user", "create_ts", "mod_user", "mod_ts"}, name


def test_status_lookup_rows_are_the_codes_the_entities_use() -> None:
    assert {r[0] for r in LOOKUP_ROWS["order_status"]} >= set(STATUS_CODES["order_hdr"]) | set(
        STATUS_CODES["order_dtl"]
    )
    assert {r[0] for r in LOOKUP_ROWS["inventory_status"]} == set(STATUS_CODES["inventory"])
    assert {r[0] for r in LOOKUP_ROWS["purchase_order_status"]} == set(STATUS_CODES["purchase_order_hdr"])


def test_the_simulator_package_imports_nothing_from_gruponos_but_itself() -> None:
    package = Path(__file__).resolve().parents[2] / "gruponos" / "simulator"
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for module in names:
                if module.startswith("gruponos"):
                    assert module.startswith("gruponos.simulator"), f"{source.name} imports {module}"
