"""The ingest manifest: the no-op fast path of a re-ingest.

A re-ingest of unchanged files into an unchanged embedded library reads no file and opens
no Chroma client (`import chromadb` alone is ~1.2 s of a ~1.8 s no-op `paperlens ingest`).
A manifest per index records what the last settled run saw: each file's stat, the
collection's id and version (every write bumps it), the PDFs whose copies the library
keeps (`assistant.store.pdf_files`), and the report a run would give again. Anything that
differs, or cannot be read, or a kept copy gone, takes the normal path.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core.settings import Settings
from assistant.core.types import IngestReport
from assistant.store.pdf_files import PdfFiles, file_sha256

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 2  # 2: the kept PDF copies
# A file changed this close to its stat may change again without its mtime or ctime
# moving (coarse filesystem clocks; FAT's 2 s): its content hash is recorded too.
_RACY_NS = 2_000_000_000


def store_stamp(settings: Settings) -> tuple[str, int] | None:
    """The chunks collection's id and version, read from Chroma's SQLite file with the
    stdlib; None when they cannot be read for sure."""
    import sqlite3

    try:
        db = (settings.resolved_chroma_path / "chroma.sqlite3").resolve()
        con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            rows = con.execute(
                "SELECT c.id, m.int_value FROM collections c JOIN collection_metadata m "
                "ON m.collection_id = c.id AND m.key = 'version' WHERE c.name = ?",
                (f"{settings.index_name()}-chunks",),
            ).fetchall()
        finally:
            con.close()
    except Exception as exc:  # no file, another schema, locked: the normal path decides
        log.debug("cannot read the library version from SQLite: %s", exc)
        return None
    if len(rows) != 1 or not isinstance(rows[0][1], int):
        return None
    return str(rows[0][0]), rows[0][1]


def _code_stamp() -> list[list[Any]]:
    """Name, size and mtime of the ingest and assistant sources: an edited parser
    invalidates manifests even where PARSER_VERSION was not bumped."""
    import assistant

    out = []
    for folder in (Path(__file__).parent, Path(assistant.__file__).parent):
        for f in sorted(folder.glob("*.py")):
            st = f.stat()
            out.append([str(f), st.st_size, st.st_mtime_ns])
    return out


@dataclass
class Manifest:
    """What this run sees of its inputs, and the manifest of the last settled run."""

    path: Path
    settings: Settings
    key: dict[str, Any]
    files: list[list[Any]]  # per file: resolved path, size, mtime_ns, ctime_ns, inode
    hashes: dict[int, str]  # content hashes of files changed just before their stat
    collected: list[tuple[str, str]]  # what collect_files reported

    @classmethod
    def open(
        cls,
        paths: Sequence[str | Path],
        files: Sequence[Path],
        skipped: Sequence[tuple[str, str]],
        settings: Settings,
    ) -> Manifest | None:
        if settings.chroma_host:  # a server's library can change without a file here changing
            return None
        if any(f.suffix.lower() in (".bib", ".sqlite") for f in files):
            return None  # their attached PDFs are not among the files whose stat it records
        try:
            racy_from = time.time_ns() - _RACY_NS
            stats, hashes = [], {}
            for i, f in enumerate(files):
                st = f.stat()
                stats.append(
                    [str(f.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
                )
                if max(st.st_mtime_ns, st.st_ctime_ns) >= racy_from:
                    hashes[i] = file_sha256(f)
            key = {
                "index": settings.index_name(),
                "store": str((settings.resolved_chroma_path / "chroma.sqlite3").resolve()),
                "paths": [str(p) for p in paths],
                "resolved": [str(Path(p).expanduser().resolve()) for p in paths],
                "collected": [list(s) for s in skipped],
                "limits": settings.ingest.model_dump(),  # a raised limit reads skipped files
                "code": _code_stamp(),
            }
        except OSError as exc:  # a file vanished or is unreadable: the normal path reports it
            log.debug("no ingest manifest: %s", exc)
            return None
        name = f"ingest-{settings.index_name()}.json"
        return cls(
            settings.data_dir / "cache" / name,
            settings,
            json.loads(json.dumps(key)),
            stats,
            hashes,
            list(skipped),
        )

    def replay(self) -> IngestReport | None:
        """The settled run's report when nothing it depends on changed, else None."""
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            if saved.get("format") != MANIFEST_FORMAT or saved["key"] != self.key:
                return None
            if [entry[:5] for entry in saved["files"]] != self.files:
                return None
            for entry in saved["files"]:
                if entry[5] is not None and file_sha256(Path(entry[0])) != entry[5]:
                    return None
            if list(store_stamp(self.settings) or ()) != saved["library"]:
                return None
            copies = PdfFiles(self.settings)
            if any(copies.path_for(h) is None for h in saved["pdfs"]):
                return None  # deleted by hand: the normal path copies it again
            data = saved["report"]
            return IngestReport(
                **{**data, "skipped": [(str(p), str(r)) for p, r in data["skipped"]]}
            )
        except Exception as exc:  # missing, partial or foreign manifest: the normal path
            log.debug("ingest manifest not used: %s", exc)
            return None

    def save(self, report: IngestReport, stamp: tuple[str, int], pdfs: Sequence[str] = ()) -> None:
        data = {
            "format": MANIFEST_FORMAT,
            "key": self.key,
            "files": [[*entry, self.hashes.get(i)] for i, entry in enumerate(self.files)],
            "library": list(stamp),
            "pdfs": list(pdfs),
            "report": {**report.to_dict(), "seconds": 0.0},
        }
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.path)  # readers see the old manifest or the new, never half
        except OSError as exc:  # a read-only data dir only costs the fast path
            log.warning("could not write the ingest manifest %s: %s", self.path, exc)
            tmp.unlink(missing_ok=True)
