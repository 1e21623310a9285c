"""The library's own copies of its PDFs, which the viewer serves (`paperlens.web.viewer`).

The library stores a PDF paper's text and the sha256 of its file, not where the file was:
an upload lives in Gradio's temporary folder, and a file on disk may move or change after
it was read. So each PDF added through the web UI is copied into the data directory as
``pdfs/<sha256>.pdf``: the viewer shows exactly the file whose pages were indexed, found
by the hash the paper carries, never by a path a request names.

Example:
    >>> files = PdfFiles(settings)                              # doctest: +SKIP
    >>> files.keep(Path("paper.pdf"))                           # doctest: +SKIP
    '3f2a...'
    >>> files.path_for("3f2a...")                                # doctest: +SKIP
    PosixPath('.../pdfs/3f2a....pdf')
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path

from assistant import Settings

_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_of(path: Path) -> str:
    """sha256 of a file, read in blocks (what ingest stores as `Paper.file_hash`)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PdfFiles:
    """The folder of kept PDF copies of one library, by file hash."""

    def __init__(self, settings: Settings):
        self.folder = settings.data_dir / "pdfs"

    def _path(self, file_hash: str) -> Path | None:
        return self.folder / f"{file_hash}.pdf" if _SHA256.fullmatch(file_hash) else None

    def keep(self, path: Path, file_hash: str | None = None) -> str:
        """Copy the PDF at ``path`` into the folder (once per content); its sha256
        (``file_hash`` when the caller has it already)."""
        file_hash = file_hash or sha256_of(path)
        dest = self._path(file_hash)
        if dest is None:
            raise ValueError(f"not a sha256: {file_hash!r}")
        if not dest.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            # Copied under a temporary name and renamed: a reader never sees half a file.
            tmp = dest.with_name(f".{uuid.uuid4().hex}.tmp")
            try:
                shutil.copyfile(path, tmp)
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
        return file_hash

    def path_for(self, file_hash: str | None) -> Path | None:
        """The kept copy of the PDF with this sha256, or None (none kept)."""
        path = self._path(file_hash or "")
        return path if path is not None and path.is_file() else None
