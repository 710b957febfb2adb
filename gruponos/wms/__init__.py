"""The WMS source: fetch, page, retry and decode the entity API into Arrow batches.

query.py     what a scan asks for: Window, Scan, IdRange, ScanStats
client.py    WmsClient (pooled httpx, paging, retries, error mapping, entity list, describe)
connection.py  authentication, TLS trust, request-rate cap
answers.py   error envelopes, Retry-After, probe pages, the entity list, describe
values.py    the rules one value must meet to be stored as sent
scan.py      reading an entity that refuses ordering, by id ranges
decode.py    page JSON → record batch of ``EntitySpec.schema`` (+ drift, + rejected values)
extract.py   serial or id-partitioned parallel extraction into one bounded stream
"""

from gruponos.wms.client import WmsClient
from gruponos.wms.decode import Page, PageDecodeError, decode_page, decode_records
from gruponos.wms.extract import Extraction, Partition, split
from gruponos.wms.query import IdRange, Scan, ScanStats, Window, format_ts

__all__ = [
    "Extraction",
    "IdRange",
    "Page",
    "PageDecodeError",
    "Partition",
    "Scan",
    "ScanStats",
    "Window",
    "WmsClient",
    "decode_page",
    "decode_records",
    "format_ts",
    "split",
]
