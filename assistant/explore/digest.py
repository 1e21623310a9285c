"""What's new: the papers of one day or period, grouped by the map's topics, each with a
one-sentence gist and the earlier papers of the library it relates to.

Dates: a daily-papers page carries a date heading (``Paper.date``, e.g. "Mar 13", with
or without a year); a paper without one (an ingested PDF, a page without a heading) is
dated by the time it was ingested, and the digest says so. A page date without a year
takes the year it was ingested in (the page was that day's page), or the year before when
that would put it after its ingest.

- gist: the abstract sentence closest to the mean of the paper's own sentence vectors
  (extractive: a sentence of the paper, never a rewrite), a sentence that leans on the one
  before it ("This...", "Moreover, ...") counted 0.1 less central;
- related: the papers with an earlier date whose paper vectors are nearest, near
  duplicates (cosine >= ``DUPLICATE_COSINE``) left out.

Example:
    >>> from assistant.explore.digest import digest                     # doctest: +SKIP
    >>> print(digest(retriever, since="Mar 12").to_markdown())  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..core.errors import DateError
from ..core.types import Paper
from ..index.vectors import quotable_sentences
from ..store.chroma import get_all

if TYPE_CHECKING:
    from ..index.snapshot import Snapshot
    from ..retrieval.retriever import Retriever

DUPLICATE_COSINE = 0.98
LEANING_PENALTY = 0.1
_LEANING = re.compile(
    r"^(this|these|those|it|they|such|however|moreover|furthermore|additionally|in addition|"
    r"also|then|thus|hence|therefore|finally|in essence|to (address|this end|do so)|as a result)\b",
    re.IGNORECASE,
)
RELATED = 3
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_WORDY = re.compile(r"^([A-Za-z]{3,9})\.? (\d{1,2})(?:,? (\d{4}))?$")
DATE_FORMATS = "YYYY-MM-DD, 'Mar 13' or 'Mar 13, 2024'"


@dataclass(frozen=True)
class DayOrYearless:
    """A parsed date; ``year`` None when the text named none (a page heading "Mar 13")."""

    month: int
    day: int
    year: int | None

    def on(self, year: int) -> dt.date:
        try:
            return dt.date(year, self.month, self.day)
        except ValueError:  # Feb 29 of a year without one
            return dt.date(year, self.month, 28)


def parse_date(text: str) -> DayOrYearless:
    """Read a date (``DATE_FORMATS``); raises `DateError` naming the formats otherwise."""
    raw = (text or "").strip()
    got: DayOrYearless | None = None
    if m := _ISO.match(raw):
        got = DayOrYearless(int(m[2]), int(m[3]), int(m[1]))
    elif (m := _WORDY.match(raw)) and m[1][:3].lower() in _MONTHS:
        got = DayOrYearless(_MONTHS[m[1][:3].lower()], int(m[2]), int(m[3]) if m[3] else None)
    if got is not None:
        try:
            dt.date(got.year or 2024, got.month, got.day)  # 2024: a leap year, Feb 29 is valid
            return got
        except ValueError:
            pass
    raise DateError(f"Cannot read the date {raw!r}: use {DATE_FORMATS}.")


@dataclass(frozen=True)
class Related:
    """An earlier paper a new one relates to, with the cosine of their paper vectors."""

    paper_id: str
    title: str
    date: str
    similarity: float


@dataclass(frozen=True)
class DigestEntry:
    """One new paper: its date (and where that date came from), gist and related papers."""

    paper_id: str
    title: str
    date: str  # ISO
    dated_by: Literal["page", "ingest"]
    gist: str
    related: tuple[Related, ...]


@dataclass(frozen=True)
class DigestGroup:
    """The new papers of one map topic."""

    topic: str
    topic_id: int
    entries: tuple[DigestEntry, ...]


@dataclass(frozen=True)
class Digest:
    """The papers of ``start``..``end`` (inclusive, ISO dates) grouped by topic."""

    start: str
    end: str
    groups: tuple[DigestGroup, ...]
    notes: tuple[str, ...] = ()

    @property
    def papers(self) -> int:
        return sum(len(g.entries) for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of this digest."""
        import dataclasses

        return dataclasses.asdict(self)

    def to_markdown(self) -> str:
        """The digest as Markdown (what the CLI prints and the UI panel shows)."""
        span = self.start if self.start == self.end else f"{self.start} to {self.end}"
        lines = [f"## What's new: {span} ({self.papers} papers, {len(self.groups)} topics)", ""]
        lines += [f"_{n}_" for n in self.notes]
        if self.notes:
            lines.append("")
        for g in self.groups:
            lines.append(f"### {g.topic} ({len(g.entries)})")
            for e in g.entries:
                when = f"{e.date}, dated by ingest time" if e.dated_by == "ingest" else e.date
                lines.append(f"- **{e.title}** ({when}): {e.gist}")
                if e.related:
                    rel = "; ".join(f"{r.title} ({r.date}, {r.similarity:.2f})" for r in e.related)
                    lines.append(f"  - relates to earlier: {rel}")
                else:
                    lines.append("  - relates to earlier: none in the library before this date")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def paper_dates(snapshot: Snapshot, ingested: Mapping[str, str]) -> dict[str, tuple[dt.date, str]]:
    """Each paper's date and its origin ("page" or "ingest"); papers with neither are left out.

    ``ingested`` maps paper ids to their ISO ingest timestamps (`ingest_times`).
    """
    out: dict[str, tuple[dt.date, str]] = {}
    for pid, paper in snapshot.papers.items():
        when = _ingest_day(ingested.get(pid))
        if paper.date:
            try:
                d = parse_date(paper.date)
            except DateError:
                d = None
            if d is not None:
                out[pid] = (_resolve(d, when, paper), "page")
                continue
        if when is not None:
            out[pid] = (when, "ingest")
    return out


def _ingest_day(stamp: str | None) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat(stamp).date() if stamp else None
    except ValueError:
        return None


def _resolve(d: DayOrYearless, ingested: dt.date | None, paper: Paper) -> dt.date:
    if d.year is not None:
        return d.on(d.year)
    if paper.year:
        return d.on(paper.year)
    ref = ingested or dt.date.today()
    got = d.on(ref.year)
    return d.on(ref.year - 1) if got > ref else got


def ingest_times(retriever: Retriever) -> dict[str, str]:
    """Paper id -> ISO time it was (last) written to the library, where recorded."""
    got = get_all(retriever.library.chunks, where={"position": 0}, include=["metadatas"])
    return {
        str(m["paper_id"]): str(m["ingested"]) for m in got["metadatas"] or [] if m.get("ingested")
    }


def _gist(snap: Snapshot, retriever: Retriever, paper: Paper) -> str:
    vec = snap.vectors if snap.vectors is not None and paper.id in snap.vectors.sentences else None
    got = quotable_sentences({paper.id: paper}, vec, retriever.library)  # none flagged
    if paper.id not in got:
        return paper.abstract[:200]
    sents, mat = got[paper.id]
    keep = [i for i, s in enumerate(sents) if len(s.text) > 20]
    if not keep:
        return sents[0].text if sents else paper.abstract[:200]
    sub = mat[keep]
    centre = sub.mean(axis=0)
    sims = sub @ (centre / max(float(np.linalg.norm(centre)), 1e-12))
    # A sentence that leans on the one before ("This itself...", "Moreover, ...") does not
    # stand alone as a gist: it loses to a self-contained one unless clearly more central.
    sims = sims - np.asarray([LEANING_PENALTY * bool(_LEANING.match(sents[i].text)) for i in keep])
    return sents[keep[int(np.argmax(sims))]].text


def digest(
    retriever: Retriever,
    *,
    date: str | None = None,
    since: str | None = None,
    until: str | None = None,
    related: int = RELATED,
) -> Digest:
    """The library's papers of one day (``date``) or from ``since`` on (to ``until``).

    With neither, the newest day that has papers. Dates are read by `parse_date`; a date
    without a year means that month and day in any year.

    Raises:
        DateError: a date cannot be read, or both ``date`` and ``since`` are given.
    """
    if date and since:
        raise DateError("Give either --date or --since, not both.")
    for text in (date, since, until):  # a bad date is reported before the library is read
        if text:
            parse_date(text)
    snap = retriever.refresh()
    dates = paper_dates(snap, ingest_times(retriever))
    notes: list[str] = []
    undated = len(snap.papers) - len(dates)
    if undated:
        notes.append(
            f"{undated} papers have neither a date nor a recorded ingest time: not listed."
        )
    if not dates:
        return Digest("", "", (), tuple(notes))
    picked, start, end = _pick(dates, date, since, until)
    notes += _dating_notes(snap, picked)
    if not picked:
        return Digest(start, end, (), tuple(notes))
    groups = _group_by_topic(retriever, snap, dates, picked, related)
    return Digest(start, end, groups, tuple(notes))


def _pick(
    dates: Mapping[str, tuple[dt.date, str]],
    date: str | None,
    since: str | None,
    until: str | None,
) -> tuple[list[str], str, str]:
    """The paper ids of the asked day or period, with its ISO start and end."""
    if date:
        want = parse_date(date)
        picked = [
            pid
            for pid, (d, _) in dates.items()
            if (d.month, d.day) == (want.month, want.day) and want.year in (None, d.year)
        ]
        start = end = want.on(want.year).isoformat() if want.year else date.strip()
    elif since:
        lo = parse_date(since)
        hi = parse_date(until) if until else None
        newest = max(d for d, _ in dates.values())
        lo_d = lo.on(lo.year if lo.year is not None else newest.year)
        hi_d = hi.on(hi.year if hi.year is not None else newest.year) if hi else newest
        picked = [pid for pid, (d, _) in dates.items() if lo_d <= d <= hi_d]
        start, end = lo_d.isoformat(), hi_d.isoformat()
    else:
        newest = max(d for d, _ in dates.values())
        picked = [pid for pid, (d, _) in dates.items() if d == newest]
        start = end = newest.isoformat()
    return picked, start, end


def _dating_notes(snap: Snapshot, picked: list[str]) -> list[str]:
    """The notes telling the reader how the picked papers' dates were inferred."""
    notes: list[str] = []
    if any(not p.date for pid in picked if (p := snap.papers[pid])):
        notes.append(
            "Papers without a date of their own (ingested PDFs, pages without a date "
            "heading) are dated by the day they were ingested."
        )
    if any(parse_date_or_none(snap.papers[pid].date or "") for pid in picked):
        notes.append("Page dates without a year are taken in the year the page was ingested.")
    return notes


def _related_earlier(
    snap: Snapshot,
    dates: Mapping[str, tuple[dt.date, str]],
    ids: list[str],
    sims: np.ndarray,
    pid: str,
    related: int,
) -> list[Related]:
    """The nearest papers dated before ``pid``'s day, near duplicates left out."""
    day = dates[pid][0]
    rel: list[Related] = []
    for j in np.argsort(-sims):
        other = ids[int(j)]
        if other == pid or other not in dates or dates[other][0] >= day:
            continue
        if sims[j] >= DUPLICATE_COSINE:
            continue  # the same paper from another source: not a relation
        when = dates[other][0].isoformat()
        rel.append(Related(other, snap.papers[other].title, when, round(float(sims[j]), 3)))
        if len(rel) == related:
            break
    return rel


def _group_by_topic(
    retriever: Retriever,
    snap: Snapshot,
    dates: Mapping[str, tuple[dt.date, str]],
    picked: list[str],
    related: int,
) -> tuple[DigestGroup, ...]:
    """One entry per picked paper, grouped by map topic, the largest topic first."""
    from .library_map import library_map, paper_vectors

    lmap = library_map(retriever, snapshot=snap)
    ids, vectors = snap.derived("paper_vectors", lambda s: paper_vectors(s, retriever.library))
    row = {pid: i for i, pid in enumerate(ids)}
    by_topic: dict[int, list[DigestEntry]] = {}
    for pid in sorted(picked, key=lambda p: (dates[p][0], snap.papers[p].title)):
        paper = snap.papers[pid]
        day, origin = dates[pid]
        rel: list[Related] = []
        if pid in row:
            rel = _related_earlier(snap, dates, ids, vectors @ vectors[row[pid]], pid, related)
        topic = lmap.topic(pid)
        dated_by: Literal["page", "ingest"] = "ingest" if origin == "ingest" else "page"
        entry = DigestEntry(
            pid, paper.title, day.isoformat(), dated_by, _gist(snap, retriever, paper), tuple(rel)
        )
        by_topic.setdefault(topic.id if topic else -1, []).append(entry)
    return tuple(
        DigestGroup(lmap.topics[t].label if t >= 0 else "not on the map", t, tuple(es))
        for t, es in sorted(by_topic.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    )


def parse_date_or_none(text: str) -> bool:
    """True when ``text`` is a readable date without a year."""
    try:
        return parse_date(text).year is None
    except DateError:
        return False


def digest_paper_md(retriever: Retriever, paper: Paper, related: int = RELATED) -> str:
    """One paper as Markdown for the map's "open" view: title, date, topic, gist, abstract
    and the earlier papers it relates to (as in the digest)."""
    from .library_map import library_map, paper_vectors

    snap = retriever.refresh()
    dates = paper_dates(snap, ingest_times(retriever))
    topic = library_map(retriever, snapshot=snap).topic(paper.id)
    ids, vectors = snap.derived("paper_vectors", lambda s: paper_vectors(s, retriever.library))
    lines = [f"### {paper.title}", ""]
    if paper.id in dates:
        day, origin = dates[paper.id]
        lines.append(
            f"**Date:** {day.isoformat()}"
            + (" (dated by ingest time)" if origin == "ingest" else "")
        )
    if topic is not None:
        lines.append(f"**Topic:** {topic.label}")
    lines += ["", f"**Gist:** {_gist(snap, retriever, paper)}", "", paper.abstract, ""]
    if paper.id in ids:
        row = ids.index(paper.id)
        sims = vectors @ vectors[row]
        near = [
            int(j)
            for j in np.argsort(-sims)
            if ids[int(j)] != paper.id and sims[j] < DUPLICATE_COSINE
        ]
        lines.append("**Nearest in the library:**")
        lines += [f"- {snap.papers[ids[j]].title} ({sims[j]:.2f})" for j in near[:related]]
    return "\n".join(lines) + "\n"
