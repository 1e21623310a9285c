"""Paper metadata from several listings: matching entries to papers, and merging.

A metadata entry (`MetadataRecord`: BibTeX, Zotero, JSON without an abstract) attaches to
the paper it matches by DOI, then arXiv id, then normalised title: to a paper read in
the same run, else to one already stored. A paper listed twice keeps the full text over
an abstract and fills what one listing lacks from the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.core.types import META_FIELDS, IngestReport, Paper

from .records import MetadataRecord, normalize_title, paper_id

Key = tuple[str, str]  # ("doi" | "arxiv" | "id", normalised value)


def merge_listings(seen: Paper, paper: Paper) -> Paper:
    """One paper from two listings of it: full text beats an abstract, else the first
    text wins; all sources kept, missing metadata filled from the other."""
    text, other = (paper, seen) if paper.sections and not seen.sections else (seen, paper)
    fill = {
        k: getattr(other, k)
        for k in (*META_FIELDS, "date")
        if not getattr(text, k) and getattr(other, k)
    }
    return replace(text, sources=tuple(dict.fromkeys(seen.sources + paper.sources)), **fill)


def _doi_key(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    return value or None


def _arxiv_key(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower().removeprefix("arxiv:").strip()
    versioned = "v" in value and value.rsplit("v", 1)[-1].isdigit()
    return value.rsplit("v", 1)[0] if versioned else value


def _keys(doi: str | None, arxiv: str | None, title: str) -> list[Key]:
    keys = []
    if d := _doi_key(doi):
        keys.append(("doi", d))
    if a := _arxiv_key(arxiv):
        keys.append(("arxiv", a))
    if title and normalize_title(title):
        keys.append(("id", paper_id(title)))
    return keys


def _matcher(papers: Iterable[Paper]) -> dict[Key, str]:
    index: dict[Key, str] = {}
    for p in papers:
        for key in _keys(p.doi, p.arxiv_id, p.title):
            index.setdefault(key, p.id)
    return index


def _match(index: Mapping[Key, str], record: MetadataRecord) -> str | None:
    if record.paper_id and ("id", record.paper_id) in index:  # the paper its attachment became
        return index[("id", record.paper_id)]
    for key in _keys(record.doi, record.arxiv_id, record.title):
        if key in index:
            return index[key]
    return None


def apply_record(paper: Paper, record: MetadataRecord) -> Paper:
    """The paper with the record's metadata: its authors, year, venue and URL win; its
    identifiers (DOI, arXiv id) only fill in, as the paper's own are how it was matched."""
    fields = record.fields()
    for key in ("doi", "arxiv_id"):
        if getattr(paper, key):
            fields.pop(key, None)
    return replace(paper, **fields)


def with_metadata(paper: Paper, fields: Mapping[str, Any], only_missing: bool) -> Paper:
    """The paper with ``fields`` set (with ``only_missing``, only where it has none)."""
    if only_missing:
        fields = {k: v for k, v in fields.items() if v and not getattr(paper, k)}
    return replace(paper, **fields)


def attach_metadata(
    papers: dict[str, Paper], records: Sequence[tuple[Path, MetadataRecord]]
) -> list[tuple[Path, MetadataRecord]]:
    """Set each record's fields on the paper it matches (DOI, arXiv id, then title), in
    place; returns the records that matched none."""
    index = _matcher(papers.values())
    leftover = []
    for f, record in records:
        pid = _match(index, record)
        if pid is None:
            leftover.append((f, record))
        else:
            papers[pid] = apply_record(papers[pid], record)
    return leftover


def add_unmatched(
    f: Path, record: MetadataRecord, papers: dict[str, Paper], report: IngestReport
) -> None:
    """A record no paper matched: a paper of its own if it has an abstract, else reported."""
    if record.title and record.abstract:
        pid = paper_id(record.title)
        if pid not in papers:
            papers[pid] = Paper(
                id=pid,
                title=record.title,
                abstract=record.abstract,
                sources=(f.name,),
                **record.fields(),
            )
            return
    report.skipped.append((str(f), record.problem.split(": ", 1)[-1]))


def attach_to_stored(
    leftover: Sequence[tuple[Path, MetadataRecord]],
    stored: Mapping[str, Paper],
    papers: dict[str, Paper],
    report: IngestReport,
) -> tuple[dict[str, Paper], set[str]]:
    """Attach the records no paper of this run matched to stored papers.

    Returns the stored papers with their new metadata (by id), and the stored papers an
    entry with an abstract lists again. A record that matches a paper of this run after
    all (by its stored identifiers) goes on that paper; one matching nothing becomes a
    paper or is reported (`add_unmatched`).
    """
    updates: dict[str, Paper] = {}
    listed: set[str] = set()
    index = _matcher(stored.values())
    for f, record in leftover:
        pid = _match(index, record)
        if pid is not None and pid not in papers:
            if record.abstract:
                listed.add(pid)
            updates[pid] = apply_record(updates.get(pid, stored[pid]), record)
        elif pid is not None:
            papers[pid] = apply_record(papers[pid], record)
        else:
            add_unmatched(f, record, papers, report)
    return updates, listed


def changed_metadata(updates: Mapping[str, Paper], stored: Mapping[str, Paper]) -> list[Paper]:
    """The updated stored papers whose metadata differs from what is stored."""

    def meta(p: Paper) -> list[Any]:
        return [getattr(p, k) for k in META_FIELDS]

    return [p for pid, p in updates.items() if pid in stored and meta(p) != meta(stored[pid])]
