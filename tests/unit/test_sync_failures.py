"""A sync run's failure message names each cause once, with the entities it stopped."""

from __future__ import annotations

from flows.sync import failed_entities
from gruponos.errors import SyncError


def test_one_cause_of_many_entities_is_said_once_with_their_names() -> None:
    locked = "the DuckDB warehouse wh.duckdb is open in another process"
    failures = [
        SyncError("allocation", "lock", locked, retryable=True),
        SyncError("order_hdr", "lock", locked, retryable=True),
        SyncError("item", "extract", "HTTP 500 from the WMS", retryable=True),
    ]

    message = failed_entities(failures, 26)

    assert message.startswith("3 of 26 entities failed: ")
    assert message.count(locked) == 1
    assert f"allocation, order_hdr: lock failed: {locked}; a retry may help" in message
    assert "item: extract failed: HTTP 500 from the WMS; a retry may help" in message
