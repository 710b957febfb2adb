"""The WMS source: fetch, page, retry and decode the entity API into Arrow batches.

client.py    WmsClient (pooled httpx, paging, retries, error mapping), Window, Scan
decode.py    page JSON → record batch of ``EntitySpec.schema`` (+ schema-drift report)
extract.py   serial or id-partitioned parallel extraction into one bounded stream
"""

from gruponos.wms.client import IdRange, Scan, ScanStats, Window, WmsClient, format_ts
from gruponos.wms.decode import Page, PageDecodeError, decode_page, decode_records
from gruponos.wms.extract import Extraction, Partition, extract, split

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
    "extract",
    "format_ts",
    "split",
]
