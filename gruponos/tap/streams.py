"""One stream per catalog entity, declared from the catalog (the one source of truth).

Operational entities replicate incrementally on their replication key (``mod_ts``);
master data (``SyncClass.MASTER``) is re-read in full every run.
"""

from __future__ import annotations

from gruponos.entities import CATALOG, EntitySpec
from gruponos.tap.client import WmsStream

__all__ = ["STREAMS"]


def _stream_type(spec: EntitySpec) -> type[WmsStream]:
    """The stream class of one entity: its name, keys and replication from the catalog."""
    attributes = {
        "__doc__": spec.description,
        "spec": spec,
        "name": spec.name,
        "primary_keys": (spec.primary_key,),
        "replication_key": spec.replication_key if spec.incremental else None,
    }
    title = "".join(part.title() for part in spec.name.split("_"))
    return type(f"{title}Stream", (WmsStream,), attributes)


STREAMS: dict[str, type[WmsStream]] = {name: _stream_type(spec) for name, spec in CATALOG.items()}
