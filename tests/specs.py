"""Entity specs for tests that run without a WMS: derived from describe answers written down in
``tests/fixtures/describe.json`` (the eight entities gruponos first synced, their real field names)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from gruponos.entities import EntitySpec, derive

DESCRIBE: dict[str, Any] = json.loads((Path(__file__).parent / "fixtures" / "describe.json").read_text())
NAMES = tuple(DESCRIBE)


@cache
def spec(name: str) -> EntitySpec:
    """The spec gruponos derives for ``name`` from its written-down describe."""
    return derive(name, DESCRIBE[name], names=NAMES)


CATALOG: dict[str, EntitySpec] = {name: spec(name) for name in NAMES}
