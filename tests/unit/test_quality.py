"""The contract, on pages decoded from bytes (pure: no I/O)."""

from __future__ import annotations

import orjson

from gruponos.quality import check
from gruponos.wms import decode_page
from tests.specs import spec as entity

SPEC = entity("allocation")


def record(i: int, **changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": i,
        "url": f"http://x/entity/allocation/{i}/",
        "alloc_qty": "5.0000",
        "packed_qty": "2.0000",
        "order_dtl_id": {"id": 7, "key": "7", "url": "http://x/entity/order_dtl/7/"},
        "pick_user": "ana",
        "status_id": 10,
        "mod_ts": "2026-11-01T10:00:00.000000-03:00",
        "create_ts": "2026-11-01T09:00:00.000000-03:00",
    }
    return base | changes


def page(*records: dict[str, object]) -> bytes:
    return orjson.dumps({"next_page": None, "previous_page": None, "results": list(records)})


def test_good_rows_pass_untouched() -> None:
    checked = check(SPEC, [decode_page(SPEC, page(record(1), record(2)))]).unwrap()
    assert checked.batch.column("id").to_pylist() == [1, 2] and checked.rejections == []


def test_each_broken_rule_quarantines_the_row_with_id_rule_and_raw_json() -> None:
    body = page(
        record(1),
        record(2, packed_qty="9.0000"),  # packed > alloc
        record(3, alloc_qty="-1.0000", packed_qty="-2.0000"),  # negative
        record(4, mod_ts="not a time"),  # cannot be typed, and mod_ts is required
        record(5, order_dtl_id=None),  # required FK missing
        record(6, pick_user="x" * 256),  # too long
        record(7, mod_ts=None),
    )
    checked = check(SPEC, [decode_page(SPEC, body)]).unwrap()
    assert checked.batch.column("id").to_pylist() == [1]
    got = {r.record_id: r.rule for r in checked.rejections}
    assert got == {
        2: "packed_qty_le_alloc_qty",
        3: "non_negative:alloc_qty,packed_qty",
        4: "type:mod_ts",
        5: "required:order_dtl_id",
        6: "max_length:pick_user",
        7: "required:mod_ts",
    }
    by_id = {r.record_id: r for r in checked.rejections}
    assert orjson.loads(by_id[2].raw)["packed_qty"] == "9.0000"
    assert "allocation id 4" in by_id[4].message and "mod_ts is required" in by_id[4].message


def test_unknown_fields_are_kept_as_text_columns_under_evolve() -> None:
    body = page(record(1, new_flag=True, new_obj={"a": 1}), record(2, new_flag=False, new_obj=None))
    checked = check(SPEC, [decode_page(SPEC, body)], policy="evolve").unwrap()
    assert checked.unknown_fields == {"new_flag", "new_obj"}
    assert checked.batch.column("new_flag").to_pylist() == ["true", "false"]
    assert checked.batch.column("new_obj").to_pylist() == ['{"a":1}', None]


def test_drift_fails_the_entity_under_freeze_naming_the_fields() -> None:
    result = check(SPEC, [decode_page(SPEC, page(record(1, surprise=1)))], policy="freeze")
    error = result.failure()
    assert error.entity == "allocation" and error.rule == "schema_drift" and "surprise" in error.message


def test_pages_checked_together_name_the_right_records() -> None:
    first = decode_page(SPEC, page(record(1), record(2, packed_qty="9.0000")))
    second = decode_page(SPEC, page(record(3, mod_ts="garbage"), record(4)))
    checked = check(SPEC, [first, second]).unwrap()
    assert checked.batch.column("id").to_pylist() == [1, 4]
    assert [(r.record_id, r.rule) for r in checked.rejections] == [(2, "packed_qty_le_alloc_qty"), (3, "type:mod_ts")]
    assert orjson.loads(checked.rejections[1].raw)["mod_ts"] == "garbage"
    assert checked.extracted == 4


def test_new_fields_with_names_that_cannot_be_columns_get_safe_unique_columns() -> None:
    odd = {
        'a"; drop table allocation; --': "x",
        "Mod_TS": "shadow",
        "_run_id": "mine",
        "order_dtl_key": "clash",
        "with space": "s",
        "n" * 200: "long",
    }
    checked = check(SPEC, [decode_page(SPEC, page(record(1, **odd)))], policy="evolve").unwrap()
    columns = checked.new_columns
    assert set(columns) == set(odd)
    taken = {c.name for c in SPEC.columns} | {"_loaded_at", "_run_id", "_seen_run", "_deleted_at"}
    for name, column in columns.items():
        assert column not in taken, column
        assert column.replace("_", "").isalnum() and column == column.lower() and len(column) <= 60
        assert checked.batch.column(column).to_pylist() == [odd[name]]
    assert len(set(columns.values())) == len(columns)
    assert columns["Mod_TS"] != "mod_ts" and columns["order_dtl_key"] != "order_dtl_key"
    # the same field always lands in the same column
    again = check(SPEC, [decode_page(SPEC, page(record(2, **odd)))], policy="evolve").unwrap()
    assert again.new_columns == columns


def test_a_record_with_unstorable_text_is_quarantined_and_the_page_loads() -> None:
    body = page(record(1), record(2, pick_user="PLACEHOLDER"), record(3)).replace(b"PLACEHOLDER", b"bad\\ud800")
    checked = check(SPEC, [decode_page(SPEC, body)]).unwrap()
    assert checked.batch.column("id").to_pylist() == [1, 3]
    assert [(r.record_id, r.rule) for r in checked.rejections] == [(2, "encoding:pick_user")]
    assert "bad\\ud800" in checked.rejections[0].raw.decode("ascii")
