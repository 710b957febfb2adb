"""The local setup a test module starts from: its own simulated tenant, and the environment of a
``gruponos`` command run as a child process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from gruponos.simulator import Simulator


def tenant(*, scale: int, seed: int, scope: Literal["function", "module"] = "function") -> Any:
    """A fixture yielding a simulator of its own: ``simulator = tenant(scale=1_500, seed=3)``."""

    @pytest.fixture(scope=scope)
    def simulator() -> Iterator[Simulator]:
        with Simulator(scale=scale, seed=seed) as s:
            yield s

    return simulator


def cli_env(base_url: str, folder: Path, **extra: str) -> dict[str, str]:
    """This process's environment without GRUPONOS_* and PREFECT_*, pointed at the tenant at
    ``base_url`` and a DuckDB file and landing folder under ``folder``; ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRUPONOS_", "PREFECT_"))}
    return env | {
        "GRUPONOS_ENV": "local",
        "GRUPONOS_WMS__BASE_URL": base_url,
        "GRUPONOS_WAREHOUSE__PATH": str(folder / "wh.duckdb"),
        "GRUPONOS_FLOWS__LANDING_PATH": str(folder / "landing"),
        **extra,
    }
