"""One stream per entity the tenant serves, declared from its derived spec (``describe``).

Operational entities replicate incrementally on their replication key (``mod_ts``); master
and lookup data are re-read in full every run.
"""

from __future__ import annotations

from gruponos.entities import EntitySpec
from gruponos.tap.client import WmsStream

__all__ = ["stream_type"]


def stream_type(spec: EntitySpec) -> type[WmsStream]:
    """The stream class of one entity: its name, keys and replication from its spec."""
    attributes = {
        "__doc__": spec.description or f"The WMS entity {spec.name}.",
        "spec": spec,
        "name": spec.name,
        "primary_keys": (spec.primary_key,),
        "replication_key": spec.replication_key if spec.incremental else None,
    }
    title = "".join(part.title() for part in spec.name.split("_"))
    return type(f"{title}Stream", (WmsStream,), attributes)
