"""A sync of one entity by the library alone (no flow) in a child process, configured only
through GRUPONOS_* variables: `python -m tests.integration._sync_child full allocation`.

Extraction and load stream together here, so a slow WMS keeps the load open; the CLI's flow
lands the extraction first and then loads it fast."""

from __future__ import annotations

import sys

from gruponos import settings as settings_module
from gruponos.errors import SyncError
from tests.integration._sync import sync_once


def main(mode: str, name: str) -> int:
    outcome = sync_once(settings_module.load(), mode, name)
    if isinstance(outcome, SyncError):
        print(outcome, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
