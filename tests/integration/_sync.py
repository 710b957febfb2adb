"""One entity synced by the library alone (no flow), and what the warehouse then holds: shared by
the sync tests and the child process that crashes mid-sync."""

from __future__ import annotations

from typing import Any

from returns.io import IOFailure
from returns.unsafe import unsafe_perform_io

from gruponos import settings as settings_module
from gruponos.errors import SyncError
from gruponos.pipeline import Context, EntityReport, sync_entity
from gruponos.warehouse import connect
from gruponos.wms import WmsClient
from tests.specs import spec


def sync_once(cfg: settings_module.Settings, mode: str, name: str = "allocation") -> EntityReport | SyncError:
    """``sync_entity`` of ``name`` with its own WMS client and warehouse connection: the report or the error."""
    warehouse = connect(cfg.warehouse)
    try:
        with WmsClient(cfg.wms) as wms:
            result = sync_entity(spec(name), mode, Context(settings=cfg, wms=wms, warehouse=warehouse))  # type: ignore[arg-type]
    finally:
        warehouse.close()
    if isinstance(result, IOFailure):
        error: SyncError = unsafe_perform_io(result.failure())
        return error
    report: EntityReport = unsafe_perform_io(result.unwrap())
    return report


def ok(outcome: EntityReport | SyncError) -> EntityReport:
    assert isinstance(outcome, EntityReport), str(outcome)
    return outcome


def stored(cfg: settings_module.Settings, name: str = "allocation") -> dict[int, dict[str, Any]]:
    """The raw table's rows by id, deleted ones included."""
    wh = connect(cfg.warehouse)
    try:
        return {int(r["id"]): r for r in wh.rows(name)}  # type: ignore[arg-type]
    finally:
        wh.close()
