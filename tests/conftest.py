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
