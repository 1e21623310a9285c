"""The library's copies of its PDFs (`assistant.store.pdf_files`), kept in step with its papers.

Ingest copies each PDF it read once its paper is in the library, deletes the copy of a file
a rewritten paper no longer carries, and `remove` deletes the copies of removed papers: a
copy exists for each PDF paper, in one place, whether it came through the CLI, the Python
API or the web UI. A copy is never partial (`PdfFiles.keep`), and a re-run copies nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Set
from pathlib import Path

from assistant.store.library import Library, PaperState
from assistant.store.pdf_files import PdfFiles

log = logging.getLogger(__name__)


def keep_copies(
    pdfs: Mapping[str, Path], replaced: Set[str], library: Library, files: PdfFiles
) -> list[str]:
    """Copy each of ``pdfs`` (sha256 -> file) whose hash a complete paper of the library
    carries, and delete the copies of ``replaced`` hashes that no paper carries any more.

    Returns the hashes of ``pdfs`` the library holds (each meant to have a copy). Reads the
    library only when a copy is missing or a hash was replaced, so a re-run over kept PDFs
    costs a stat per file.
    """
    missing = {h: p for h, p in pdfs.items() if files.path_for(h) is None}
    if not missing and not replaced:
        return list(pdfs)
    states = library.paper_states().values()
    held = {s.file_hash for s in states if s.file_hash and s.complete}
    copied = 0
    for file_hash, path in missing.items():
        if file_hash not in held:  # its paper was not written (skipped, interrupted)
            continue
        try:
            copied += files.keep(path, file_hash)
        except OSError as exc:  # costs the viewer this paper, not the ingest
            log.warning("could not keep a copy of %s in %s: %s", path, files.folder, exc)
    # A copy goes only when no paper, complete or mid-write, carries its hash.
    dropped = files.discard(replaced - {s.file_hash for s in states if s.file_hash})
    if copied or dropped:
        log.info("PDF copies kept: %d new, %d replaced ones deleted", copied, len(dropped))
    return [h for h in pdfs if h in held]


def drop_copies(states: Mapping[str, PaperState], removed: Set[str], files: PdfFiles) -> list[str]:
    """Delete the copies of the PDFs of the ``removed`` papers (``states``: every paper as
    it was before), but not of a file another paper also carries; the hashes deleted."""
    gone = {s.file_hash for pid, s in states.items() if pid in removed and s.file_hash}
    still = {s.file_hash for pid, s in states.items() if pid not in removed}
    return files.discard(gone - still)
