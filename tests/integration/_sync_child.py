"""A sync of one entity by the library alone (no flow) in a child process, configured only
through GRUPONOS_* variables: `python -m tests.integration._sync_child full allocation`.

Extraction and load stream together here, so a slow WMS keeps the load open; the CLI's flow
lands the extraction first and then loads it fast."""

from __future__ import annotations

import sys

from returns.io import IOFailure
from returns.unsafe import unsafe_perform_io

from gruponos import settings as settings_module
from gruponos.pipeline import Context, sync_entity
from gruponos.warehouse import connect
from gruponos.wms import WmsClient
from tests.specs import spec as entity


def main(mode: str, name: str) -> int:
    cfg = settings_module.load()
    warehouse = connect(cfg.warehouse)
    try:
        with WmsClient(cfg.wms) as wms:
            result = sync_entity(entity(name), mode, Context(settings=cfg, wms=wms, warehouse=warehouse))  # type: ignore[arg-type]
    finally:
        warehouse.close()
    if isinstance(result, IOFailure):
        print(unsafe_perform_io(result.failure()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
