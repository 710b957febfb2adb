"""Shared fixtures: a real simulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gruponos.simulator import Simulator


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    """A small seeded tenant shared by read-only tests (do not advance or fault it)."""
    with Simulator(scale=2_000, seed=42) as s:
        yield s


@pytest.fixture
def fresh_sim() -> Iterator[Simulator]:
    """A tenant of one's own, free to advance, delete from and inject faults into."""
    with Simulator(scale=1_000, seed=7) as s:
        yield s


@pytest.fixture
def http(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(auth=(sim.username, sim.password), timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect server (PostgreSQL-backed) for in-process flow runs; yields its API URL."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_LOGGING_EXTRA_LOGGERS,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        temporary_settings,
    )

    from tests.prefect_server import prefect_server

    with (
        prefect_server(tmp_path_factory.mktemp("prefect-home")) as (api_url, _),
        temporary_settings(
            updates={
                PREFECT_API_URL: api_url,
                PREFECT_SERVER_ANALYTICS_ENABLED: False,
                PREFECT_LOGGING_EXTRA_LOGGERS: "gruponos",
            }
        ),
    ):
        yield api_url
