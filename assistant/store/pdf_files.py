"""The library's own copies of its PDFs, which the web UI's viewer serves.

The library stores a PDF paper's text and the sha256 of its file, not where the file was:
an upload lives in Gradio's temporary folder, and a file on disk may move or change after
it was read. So ingest copies each PDF it indexes into the data directory as
``pdfs/<sha256>.pdf`` (and `ingest.remove` deletes the copies of the papers it removes):
the viewer shows exactly the file whose pages were indexed, found by the hash the paper
carries, never by a path a request names.

Example:
    >>> files = PdfFiles(settings)                              # doctest: +SKIP
    >>> files.keep(Path("paper.pdf"), "3f2a...")                 # doctest: +SKIP
    True
    >>> files.path_for("3f2a...")                                # doctest: +SKIP
    PosixPath('.../pdfs/3f2a....pdf')
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path

from ..core.settings import Settings

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks: what ingest stores as `Paper.file_hash`."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


class PdfFiles:
    """The folder of kept PDF copies of one library (``<data dir>/pdfs``), by file hash."""

    def __init__(self, settings: Settings):
        self.folder = settings.data_dir / "pdfs"

    def _path(self, file_hash: str) -> Path | None:
        return self.folder / f"{file_hash}.pdf" if _SHA256.fullmatch(file_hash) else None

    def keep(self, path: Path, file_hash: str) -> bool:
        """Copy the PDF at ``path``, whose sha256 is ``file_hash``, into the folder.

        True when it was copied; False when a copy was there already (nothing is read) or
        the file no longer has that hash (it changed since it was read: nothing is kept).
        The copy is written under a temporary name, synced and renamed, so an interrupted
        copy never leaves a partial ``<sha256>.pdf``. OSError (a full disk) propagates.
        """
        dest = self._path(file_hash)
        if dest is None:
            raise ValueError(f"not a sha256: {file_hash!r}")
        if dest.is_file():
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{uuid.uuid4().hex}.tmp")
        try:
            digest = hashlib.sha256()
            with path.open("rb") as src, tmp.open("wb") as out:
                # Hashed as it is copied: the copy is the file whose hash the paper carries.
                for block in iter(lambda: src.read(_BLOCK), b""):
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != file_hash:
                log.warning("%s changed since it was read: no copy kept", path)
                return False
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def discard(self, file_hashes: Iterable[str]) -> list[str]:
        """Delete the copies of these hashes; the hashes whose copy was deleted."""
        gone = []
        for file_hash in file_hashes:
            path = self._path(file_hash)
            if path is not None and path.is_file():
                path.unlink(missing_ok=True)
                gone.append(file_hash)
        return gone

    def path_for(self, file_hash: str | None) -> Path | None:
        """The kept copy of the PDF with this sha256, or None (none kept)."""
        path = self._path(file_hash or "")
        return path if path is not None and path.is_file() else None
