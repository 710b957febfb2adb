"""Landing files: an extraction written to disk page by page, so loading can be retried alone.

    with LandingWriter(path) as out:                # one framed pickle per page
        for page in extraction.pages():
            out.write(page, extraction.resume_after)
    for page, resume_after in read_pages(path):    # streamed back, one page in memory
        ...

The file is the engine's own short-lived artefact (written and read by the same code, under
the data folder): a pickle per decoded page keeps the batch, the drift report and the raw body
exactly as the extraction saw them. A landing is complete only once ``close`` renamed it into
place, so a crash mid-write never leaves a file that looks finished.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from gruponos.wms import Page

__all__ = ["LandingWriter", "read_pages"]


class LandingWriter:
    """Append pages to ``path`` (through ``path.partial`` until closed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pages = 0
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = path.with_name(path.name + ".partial")
        self._file = self._partial.open("wb")

    def write(self, page: Page, resume_after: int | None) -> None:
        pickle.dump((page, resume_after), self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.pages += 1
        self.rows += page.batch.num_rows

    def close(self) -> None:
        """Flush, sync and move the landing into place: from now on it is complete."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._partial.replace(self.path)

    def abort(self) -> None:
        self._file.close()
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> LandingWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is None:
            self.close()
        else:
            self.abort()


def read_pages(path: Path) -> Iterator[tuple[Page, int | None]]:
    """The landed pages in order, each with the resume-after id recorded beside it."""
    with path.open("rb") as file:
        while True:
            try:
                item: tuple[Page, int | None] = pickle.load(file)  # noqa: S301 - our own file
            except EOFError:
                return
            yield item
