"""The simulator owns its schema; gruponos derives its specs from the simulator's ``describe``.
The eight entities gruponos first synced must derive to the same specs as the describe answers
written down in ``tests/fixtures/describe.json`` (their wire shape has not changed)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from gruponos.entities import EntitySpec, SyncClass, derive
from gruponos.entities import Kind as ClientKind
from gruponos.simulator.schema import LOOKUP_ROWS, SCHEMA, STATUS_CODES, Field, Kind
from gruponos.simulator.schema_declare import fields, tracked
from gruponos.simulator.server import describe
from tests.specs import DESCRIBE

# The simulator's wire kinds and the client's, named independently on each side.
KINDS = {
    Kind.INT: ClientKind.INT,
    Kind.STR: ClientKind.STR,
    Kind.DECIMAL: ClientKind.DECIMAL,
    Kind.TS: ClientKind.TS,
    Kind.DATE: ClientKind.DATE,
    Kind.TIME: ClientKind.TIME,
    Kind.FLG: ClientKind.FLG,
    Kind.STATUS: ClientKind.STATUS,
    Kind.FK: ClientKind.FK,
    Kind.SET: ClientKind.SET,
}
LOOKUPS = {
    "order_status",
    "inventory_status",
    "purchase_order_status",
    "order_type",
    "putaway_type",
    "history_activity",
}


@pytest.mark.parametrize("name", sorted(SCHEMA))
def test_gruponos_derives_every_entity_from_the_simulators_describe(name: str) -> None:
    ours = SCHEMA[name]
    spec = derive(name, describe(ours), names=list(SCHEMA))
    assert [f.name for f in spec.fields] == [f.name for f in ours.fields]
    for f in ours.fields:
        got = spec.field(f.name)
        assert got.kind is KINDS[f.kind], f.name
        assert got.wms_required == f.required, f.name
        if f.kind is Kind.STR:
            assert got.max_length == f.max_length, f.name
        if f.kind in (Kind.FK, Kind.SET):
            assert got.target == (f.target if f.target in SCHEMA else None), f.name
        if f.kind is Kind.SET:
            assert got.via == f.via, f.name
    assert (spec.sync_class is SyncClass.LOOKUP) == (name in LOOKUPS)


@pytest.mark.parametrize("name", sorted(DESCRIBE))
def test_the_first_eight_entities_keep_the_wire_shape_the_client_was_written_against(name: str) -> None:
    written = derive(name, DESCRIBE[name], names=list(DESCRIBE))
    served = derive(name, describe(SCHEMA[name]), names=list(SCHEMA))

    def shape(spec: EntitySpec) -> list[tuple[object, ...]]:
        """What travels and what the contract requires (FK targets may now be served entities)."""
        return [(f.name, f.kind, f.max_length, f.via, f.required) for f in spec.fields]

    assert shape(served) == shape(written)
    assert (served.sync_class, served.replication_key) == (written.sync_class, written.replication_key)


ISSUE_13_ENTITIES = [
    *("order_dtl", "inventory", "container", "container_lock_xref", "order_hdr", "allocation"),
    *("inventory_attribute", "item", "batch_number", "purchase_order_dtl", "ib_shipment", "ib_shipment_dtl"),
    *("purchase_order_hdr", "inventory_lock", "location", "item_metric", "ib_container", "history_activity"),
    *("putaway_type", "order_type", "purchase_order_status", "order_status", "inventory_status", "vendor"),
    *("company", "facility"),
]


def test_the_tenant_serves_the_26_default_entities_and_inventory_history() -> None:
    assert set(SCHEMA) == {*ISSUE_13_ENTITIES, "inventory_history"}


def test_lookup_entities_carry_no_audit_fields_and_everything_else_does() -> None:
    for name, spec in SCHEMA.items():
        audit = {"create_user", "create_ts", "mod_user", "mod_ts"} & {f.name for f in spec.fields}
        if name in LOOKUPS:
            assert not audit, name
        else:
            assert audit == {"create_user", "create_ts", "mod_user", "mod_ts"}, name


def test_a_field_table_line_reads_name_kind_detail_and_the_required_letter() -> None:
    table = """
        code      str      25 Y

        owner_id  fk       company C
        line_set  set      line owner_id
        qty       decimal
    """
    assert fields(table) == (
        Field("code", Kind.STR, 25, required="Y"),
        Field("owner_id", Kind.FK, target="company", required="C"),
        Field("line_set", Kind.SET, target="line", via="owner_id"),
        Field("qty", Kind.DECIMAL),
    )


@pytest.mark.parametrize("line", ["code widget 25", "code str", "owner_id fk", "line_set set line", "qty decimal 4"])
def test_a_field_table_line_it_cannot_read_is_refused_naming_the_line(line: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(line))):
        fields(line)


def test_a_natural_key_names_its_field_and_the_format_of_its_values() -> None:
    spec = tracked("order_hdr", "order_nbr str 50", natural_key="order_nbr SO000000001")
    assert (spec.key, spec.key_format) == ("order_nbr", ("SO", 9))


@pytest.mark.parametrize("natural_key", ["order_nbr", "order_nbr SO", "order_nbr so01", "order_nbr SO02"])
def test_a_natural_key_without_a_first_value_is_refused(natural_key: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(natural_key))):
        tracked("order_hdr", "order_nbr str 50", natural_key=natural_key)


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
