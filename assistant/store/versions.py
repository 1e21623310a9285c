"""What identifies stored content: each paper's version, and the library's identity.

Every cache of the library (the BM25 index on disk, the vectors held in memory, the
map) is checked against these, paper by paper, so a cache of other content is
corrected rather than trusted by a version number.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# What identifies a stored paper's content: (content hash, chunks, sentences) from its
# record (chunk 0); None for a paper whose rows were read incomplete (mid-write).
PaperVersion = tuple[str, int, int]


@dataclass(frozen=True)
class LibraryIdentity:
    """Which library, at which version, with which content: what every cache is keyed by.

    The version counter alone does not tell two libraries apart: a folder deleted and
    re-ingested, or a Chroma server restarted without its data, counts from 0 again. The
    collection id does (Chroma gives a new one to a new collection), and the fingerprint
    (a hash of every paper's content hash and counts) names the content itself.
    """

    collection: str
    version: int
    fingerprint: str


def content_fingerprint(versions: Mapping[str, PaperVersion | None]) -> str:
    """A short hash of each paper's (content hash, chunks, sentences), in paper id order."""
    digest = hashlib.sha256()
    for pid in sorted(versions):
        digest.update(f"{pid}\x00{versions[pid]}\x01".encode())
    return digest.hexdigest()[:16]


def versions_read(
    papers: Sequence[str],
    metas: Sequence[dict[str, Any]],
    sentences: Mapping[str, int] | None = None,
) -> dict[str, PaperVersion | None]:
    """Each paper's version as its rows were read (``papers``: the paper of each chunk row).

    None unless its record (chunk 0) was read, complete, with as many chunks (and, given
    ``sentences`` read per paper, as many sentences) as it counts: a paper read mid-write
    is then re-read by the next update.
    """
    counts = Counter(papers)
    out: dict[str, PaperVersion | None] = dict.fromkeys(counts)
    for m in metas:
        if m.get("position") == 0 and m.get("complete"):
            pid = str(m["paper_id"])
            version = (
                str(m.get("hash", "")),
                int(m.get("n_chunks", -1)),
                int(m.get("n_sentences", -1)),
            )
            counted = sentences is None or sentences.get(pid, 0) == version[2]
            if counts[pid] == version[1] and counted:
                out[pid] = version
    return out


def changed_papers(
    known: Mapping[str, PaperVersion | None], current: Mapping[str, PaperVersion]
) -> set[str]:
    """Papers to re-read: new, removed, rewritten, or read incomplete last time."""
    stale = {pid for pid, v in known.items() if v is None or current.get(pid) != v}
    return stale | {pid for pid in current if pid not in known}
