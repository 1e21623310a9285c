"""How papers, chunks and sentences are written as Chroma records, and read back.

Chroma metadata holds scalars and non-empty lists only: a paper's tuples are stored as
lists, and an empty or missing value is left out (read back as empty or None).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..core.types import META_FIELDS, Chunk, Paper, Sentence

# The fields of a paper held as tuples (authors, tags, ...): stored as lists.
_TUPLES = {f.name for f in dataclasses.fields(Paper) if f.default == ()}


@dataclass(frozen=True)
class DenseHit:
    """A chunk found by vector search, with its cosine similarity to the query."""

    chunk_id: str
    paper_id: str
    position: int
    similarity: float


def _stored(paper: Paper, names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of ``paper`` as Chroma stores them, empty ones left out."""
    out = {}
    for name in names:
        value = getattr(paper, name)
        if isinstance(value, tuple):
            value = list(value) or None  # Chroma stores no empty lists
        if value is not None:
            out[name] = value
    return out


def paper_metadata(paper: Paper, n_chunks: int, n_sentences: int) -> dict[str, Any]:
    """The paper record carried by its chunk 0: text, metadata, content hash and counts."""
    meta: dict[str, Any] = {
        "title": paper.title,
        "abstract": paper.abstract,
        "hash": paper.content_hash,
        "sources": list(paper.sources) or [""],
        "n_chunks": n_chunks,
        "n_sentences": n_sentences,
        "complete": True,
    }
    meta.update(_stored(paper, ("date", *META_FIELDS, "file_hash", "injected")))
    optional = {"body_hash": paper.body_hash or None, "n_sections": len(paper.sections) or None}
    meta.update({k: v for k, v in optional.items() if v is not None})
    return meta


def metadata_update(paper: Paper) -> dict[str, Any]:
    """What `Library.update_metadata` writes over a stored paper record: its date and
    metadata fields (the hash is recomputed by the caller)."""
    return _stored(paper, ("date", *META_FIELDS))


def paper_from_metadata(paper_id: str, meta: dict[str, Any]) -> Paper:
    """The `Paper` of a stored paper record (without its full-text sections)."""
    fields: dict[str, Any] = {}
    for name in META_FIELDS:
        value = meta.get(name)
        fields[name] = tuple(value or ()) if name in _TUPLES else value
    return Paper(
        id=paper_id,
        title=str(meta["title"]),
        abstract=str(meta.get("abstract", "")),
        sources=tuple(s for s in meta.get("sources") or () if s),
        date=meta.get("date"),
        injected=tuple(meta.get("injected") or ()),
        **fields,
    )


def chunk_metadata(chunk: Chunk, content_hash: str) -> dict[str, Any]:
    """A chunk's record: its place in the paper and, for full text, section and page (and
    the page breaks within it, as ``"offset:page offset:page"``)."""
    meta: dict[str, Any] = {
        "paper_id": chunk.paper_id,
        "position": chunk.position,
        "start": chunk.start,
        "end": chunk.end,
        "hash": content_hash,
    }
    if chunk.section is not None:
        meta["section"] = chunk.section
    if chunk.page is not None:
        meta["page"] = chunk.page
    if chunk.pages:
        meta["pages"] = " ".join(f"{offset}:{page}" for offset, page in chunk.pages)
    return meta


def _page_breaks(value: Any) -> tuple[tuple[int, int], ...]:
    """A chunk record's ``pages``; none when missing (stored before it was) or unreadable."""
    try:
        pairs = [item.split(":") for item in str(value or "").split()]
        return tuple((int(offset), int(page)) for offset, page in pairs)
    except ValueError:
        return ()


def chunk_from_record(text: str, meta: dict[str, Any]) -> Chunk:
    """The `Chunk` of a stored chunk record."""
    page = meta.get("page")
    return Chunk(
        meta["paper_id"],
        int(meta["position"]),
        text,
        int(meta["start"]),
        int(meta["end"]),
        section=meta.get("section"),
        page=int(page) if page is not None else None,
        pages=_page_breaks(meta.get("pages")),
    )


def sentence_metadata(sentence: Sentence) -> dict[str, Any]:
    """A sentence's record: its paper and span in the abstract."""
    return {
        "paper_id": sentence.paper_id,
        "index": sentence.index,
        "start": sentence.start,
        "end": sentence.end,
    }


def sentence_from_record(text: str, meta: dict[str, Any]) -> Sentence:
    """The `Sentence` of a stored sentence record."""
    return Sentence(
        meta["paper_id"], int(meta["index"]), int(meta["start"]), int(meta["end"]), text
    )
