"""The dbt project against the entity catalog, without a database.

Sources: one for every entity a default sync writes, each held to the freshness rule of its
sync class as gruponos derives that class from the entity's ``describe`` (the bundled tenant's
answer, which mirrors the WMS documentation). The sources are written by hand; this test keeps
them from drifting from the catalog: a default entity added without a source, a source for an
entity the tenant does not serve, or a class change in the overlays fails here, naming the
entity. Status seeds: each seed a staging model's ``known_code`` test names holds every code
the tenant uses for that entity (the simulator's changes pick any of them).
"""

from __future__ import annotations

import csv
from typing import Any

import yaml

from gruponos import dbt_runner
from gruponos.entities import SyncClass, derive
from gruponos.settings import DEFAULT_ENTITIES
from gruponos.simulator import SCHEMA, STATUS_CODES
from gruponos.simulator.server import describe

STAGING = dbt_runner.PROJECT_DIR / "models" / "staging"
SOURCES = STAGING / "__sources.yml"
# the sync's run log, a source of the incremental models but not an entity
BOOKKEEPING = {"sync_runs"}


def rule(kind: str) -> dict[str, Any]:
    """The freshness block reading the project's vars for ``kind`` (one home for the hours)."""
    return {
        level: {"count": f"{{{{ var('freshness_{level.split('_')[0]}_hours_{kind}') | as_number }}}}", "period": "hour"}
        for level in ("warn_after", "error_after")
    }


def wms_source() -> dict[str, Any]:
    (source,) = [s for s in yaml.safe_load(SOURCES.read_text())["sources"] if s["name"] == "wms"]
    return source  # type: ignore[no-any-return]


def sync_class(name: str) -> SyncClass:
    return derive(name, describe(SCHEMA[name]), names=tuple(SCHEMA)).sync_class


def test_every_default_entity_has_a_source_and_every_source_is_a_served_entity() -> None:
    tables = {t["name"] for t in wms_source()["tables"]} - BOOKKEEPING
    assert set(DEFAULT_ENTITIES) - tables == set(), "default entities without a source"
    assert tables - set(SCHEMA) == set(), "sources for entities the tenant does not serve"


def test_each_source_takes_the_freshness_rule_of_its_sync_class() -> None:
    source = wms_source()
    default = source["config"]["freshness"]
    assert default == rule("master")  # the source's default: master data and lookups
    assert source["config"]["loaded_at_field"].strip().endswith("'_loaded_at' }}")
    wrong = {}
    classes = set()
    for table in source["tables"]:
        if table["name"] in BOOKKEEPING:
            continue
        config = table.get("config", {})
        assert "loaded_at_field" not in config, table["name"]  # one loaded_at_field, the source's
        kind = sync_class(table["name"])
        classes.add(kind)
        expected = rule("operational" if kind is SyncClass.OPERATIONAL else "master")
        if config.get("freshness", default) != expected:
            wrong[table["name"]] = str(kind)
    assert not wrong, f"sources whose freshness is not their sync class's: {wrong}"
    assert classes == set(SyncClass)  # the three classes are all exercised


def test_each_status_seed_holds_every_code_the_tenant_uses_for_its_entities() -> None:
    checked = {}
    for path in sorted(STAGING.glob("stg_wms__*.yml")):
        entity = path.stem.removeprefix("stg_wms__")
        (model,) = yaml.safe_load(path.read_text())["models"]
        for column in model["columns"]:
            for test in column.get("data_tests", []):
                if column["name"] != "status_code" or not isinstance(test, dict) or "known_code" not in test:
                    continue
                seed = test["known_code"]["arguments"]["seed"]
                with (dbt_runner.PROJECT_DIR / "seeds" / f"{seed}.csv").open(newline="") as f:
                    codes = {int(row["status_code"]) for row in csv.DictReader(f)}
                missing = set(STATUS_CODES[entity]) - codes
                assert not missing, f"{seed} lacks codes {sorted(missing)} of {entity}"
                checked[entity] = seed
    # every staged entity that has status codes is checked
    assert set(checked) == {p.stem.removeprefix("stg_wms__") for p in STAGING.glob("stg_wms__*.yml")} & set(
        STATUS_CODES
    )
