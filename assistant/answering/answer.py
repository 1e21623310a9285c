"""The extractive answerer: answers made of quoted abstract sentences, each cited.

It needs no LLM. Every sentence it writes about a paper is a verbatim span of that
paper's abstract, with ``[n]`` pointing at the source and the span's offsets in the
citation, so it is grounded by construction.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.types import Citation, QuestionKind, Source
from ..index.lexical import LexicalIndex
from ..retrieval.hits import PaperHit, Retrieval
from ..text.injection import is_injected, without_injected
from ..text.terms import terms
from .questions import VENUES, QuestionInfo

# Sentences that state a paper's contribution make the best one-line summary.
_CONTRIBUTION = re.compile(
    r"\b(we|this paper|this work|our)\s+(propose|introduce|present|develop|study|show|design)", re.I
)
# A sentence in the authors' own voice says what the paper does, not what the field does.
_AUTHORS_VOICE = re.compile(r"\b(we|our|this (paper|work|study|article)|here)\b", re.I)
# How a listed paper's quote is chosen (`quote_scores`): its sentence's closeness to the
# question, a quarter (not half) of the share of the question's terms it has, and bonuses
# for a stated contribution and for the authors' voice. Chosen on the tuning half of the
# hand-labelled (question, paper) pairs, and better on the held-out half than the sentence
# score alone (evals/QUOTES.md has the figures).
QUOTE_OVERLAP, QUOTE_CONTRIBUTION, QUOTE_VOICE = 0.25, 0.08, 0.2
# Checked in order: "what year was X published" asks for a year, not a venue.
_METADATA_FIELDS = {
    "affiliat": "affiliations",
    "institution": "affiliations",
    "universit": "affiliations",
    "year": "year",
    "when was": "year",
    "author": "authors",
    "wrote": "authors",
    "written": "authors",
    "venue": "venue",
    "conference": "venue",
    "journal": "venue",
    **dict.fromkeys(VENUES, "venue"),
    "published": "venue",
}
NOT_STATED_COVERAGE = 0.5
# A question whose answer is a figure: "how many GPUs", "which momentum value".
_WANTS_NUMBER = re.compile(
    r"\bhow\s+(much|many|long|large|big|fast)\b"
    r"|\b(which|what)\s+([\w-]+\s+){0,2}(values?|numbers?|percentages?|amounts?)\b",
    re.IGNORECASE,
)
# Opens the "may also be relevant" block under a list: what follows supports nothing above.
SECOND_TIER_HEAD = "May also be relevant (an uncertain match, not part of the answer above):"


@dataclass
class Draft:
    """An answer before timings and mode are stamped on it."""

    text: str
    citations: list[Citation]
    sources: list[Source]
    kind: QuestionKind
    answerable: bool
    notices: list[str] = field(default_factory=list)


def _source(n: int, hit: PaperHit, relevant: bool = True, tier: str | None = None) -> Source:
    idx = _pick(hit, 1)
    # The abstract is the paper's stored text (shown whole as data), not the snapshot's sentences.
    snippet = hit.sentences[idx[0]].text if idx else without_injected(hit.paper.abstract)[:240]
    return Source(
        n=n,
        paper_id=hit.paper.id,
        title=hit.paper.title,
        score=round(hit.score, 4),
        dense=round(hit.dense, 4),
        lexical=round(hit.lexical, 4),
        snippet=snippet,
        date=hit.paper.date,
        sources=hit.paper.sources,
        relevant=relevant,
        injected=len(hit.paper.injected),
        tier=("main" if relevant else "") if tier is None else tier,
        authors=hit.paper.authors,
        year=hit.paper.year,
    )


def quote_scores(hit: PaperHit) -> np.ndarray:
    """How well each sentence of ``hit`` serves as the quote under its title in a list:
    evidence that the paper addresses the question, in the authors' own words."""
    assert hit.sentence_scores is not None
    scores = hit.sentence_scores.astype(np.float64)
    if hit.sentence_overlap is not None:
        scores -= (0.5 - QUOTE_OVERLAP) * hit.sentence_overlap
    for i, s in enumerate(hit.sentences):
        scores[i] += QUOTE_CONTRIBUTION * bool(_CONTRIBUTION.search(s.text))
        scores[i] += QUOTE_VOICE * bool(_AUTHORS_VOICE.search(s.text))
    return scores


def _pick(hit: PaperHit, n: int, prefer_contribution: bool = False) -> list[int]:
    """Indices of the ``n`` best sentences of a hit, in abstract order (by `quote_scores`
    with ``prefer_contribution``, else by the sentence score)."""
    if not hit.sentences or hit.sentence_scores is None:
        return []
    scores = quote_scores(hit) if prefer_contribution else hit.sentence_scores
    return sorted(sorted(range(len(hit.sentences)), key=lambda i: -scores[i])[:n])


def _cite(n: int, hit: PaperHit, idx: int) -> Citation:
    s = hit.sentences[idx]
    support = float(hit.sentence_scores[idx]) if hit.sentence_scores is not None else 0.0
    return Citation(
        n, hit.paper.id, hit.paper.title, s.text, s.start, s.end, True, round(support, 3)
    )


def _cite_passage(n: int, hit: PaperHit, *, any_body: bool = False) -> Citation | None:
    """The hit's body sentence as a citation: when it beats the abstract's, or with
    ``any_body`` whenever there is one (a question about the paper's details)."""
    p = hit.passage
    # A passage is read from the stored full text, not from the snapshot's sentences.
    if p is None or is_injected(p.text, hit.paper) or not (p.beats_abstract or any_body):
        return None
    return Citation(
        n,
        hit.paper.id,
        hit.paper.title,
        p.text,
        p.start,
        p.end,
        True,
        round(p.score, 3),
        p.section,
        p.page,
    )


def _where(c: Citation) -> str:
    """ " (section Methods, p. 3)" for a full-text quote, "" for an abstract quote."""
    if c.section is None and c.page is None:
        return ""
    return f" ({c.location()})"


def _numbered(
    hits: Sequence[PaperHit],
    others: Sequence[PaperHit],
    extra: int = 5,
    second: Sequence[PaperHit] = (),
) -> list[Source]:
    """Sources: the answer's papers, then the second tier's, then a few more considered."""
    sources = [_source(i + 1, h) for i, h in enumerate(hits)]
    sources += [
        _source(len(sources) + i + 1, h, relevant=False, tier="second")
        for i, h in enumerate(second)
    ]
    used = {h.paper.id for h in [*hits, *second]}
    rest = [h for h in others if h.paper.id not in used][:extra]
    sources += [_source(len(sources) + i + 1, h, relevant=False) for i, h in enumerate(rest)]
    return sources


def _second_tier(retrieval: Retrieval, first_n: int) -> tuple[list[str], list[Citation]]:
    """The "may also be relevant" block: each paper with the sentence that made it a
    candidate. Its citations carry ``tier="second"``: they point at the quote, they do
    not support the answer above."""
    lines, cites = [], []
    for n, hit in enumerate(retrieval.second, first_n + 1):
        idx = _pick(hit, 1)
        if not idx:
            continue
        c = dataclasses.replace(_cite(n, hit, idx[0]), tier="second")
        cites.append(c)
        lines.append(f"- **{hit.paper.title}**: {c.quote} [{n}]")
    return lines, cites


def answer_list(question: str, retrieval: Retrieval) -> Draft:
    """ "Which papers ...": one line per relevant paper, its most relevant sentence quoted;
    then, apart, the papers that may also be relevant (an uncertain match)."""
    # A paper whose every sentence is flagged (text aimed at a model) has no evidence to give.
    hits = [h for h in retrieval.relevant if _pick(h, 1) or _cite_passage(1, h)]
    if not hits:
        return no_paper(question, retrieval)
    plural = len(hits) != 1
    if retrieval.semantic_only or retrieval.confidence == "likely":
        # Accepted on weaker evidence: say how sure the list is instead of denying it.
        head = f"These {len(hits)} papers appear" if plural else "This paper appears"
        lines = [
            f"{head} to address this (a moderate match, found by meaning more than by "
            "wording: check the quotes):"
        ]
    elif retrieval.confidence == "judged":
        # The LLM settled the list (assistant/retrieval/llm_decide.py `decide_by_judge`): say so.
        lines = [
            f"{len(hits)} paper{'s' if plural else ''} in the library "
            f"address{'' if plural else 'es'} this, as judged by the LLM:"
        ]
    else:
        lines = [
            f"{len(hits)} paper{'s' if plural else ''} in the library "
            f"address{'' if plural else 'es'} this:"
        ]
    cites = []
    for n, hit in enumerate(hits, 1):
        idx = _pick(hit, 1, prefer_contribution=True)
        passage = _cite_passage(n, hit)
        if passage is not None:
            c = passage
        elif idx:
            c = _cite(n, hit, idx[0])
        else:
            continue
        cites.append(c)
        lines.append(f"{n}. **{hit.paper.title}**{_where(c)}: {c.quote} [{n}]")
    more, more_cites = _second_tier(retrieval, len(hits))
    if more:
        lines += ["", SECOND_TIER_HEAD, *more]
    sources = _numbered(hits, retrieval.hits, second=retrieval.second)
    return Draft("\n".join(lines), cites + more_cites, sources, "list", True)


def _not_stated(hit: PaperHit, question: str, name: str, lex: LexicalIndex) -> bool:
    """Whether no sentence of the paper covers the question's own terms (beyond its name)."""
    qterms = [t for t in dict.fromkeys(terms(question, question=True)) if t not in set(terms(name))]
    if not qterms or not hit.sentences:
        return False
    total = sum(lex.idf(t) for t in qterms)
    # Coverage by the three most relevant sentences together: a two-part question is
    # often answered by two sentences.
    have: set[str] = set()
    for s in (hit.sentences[i] for i in _pick(hit, 3)):
        have |= set(terms(s.text))
    if hit.passage is not None:
        have |= set(terms(hit.passage.text))
    best = sum(lex.idf(t) for t in qterms if t in have) / total
    wants_number = bool(_WANTS_NUMBER.search(question))
    said = [s.text for s in hit.sentences] + ([hit.passage.text] if hit.passage else [])
    has_number = any(re.search(r"\d", t) for t in said)
    return best < NOT_STATED_COVERAGE or (wants_number and not has_number)


def answer_single(
    question: str, hit: PaperHit, retrieval: Retrieval, name: str, lex: LexicalIndex
) -> Draft:
    """A question about one paper: its most relevant sentences, quoted and cited."""
    sources = _numbered([hit], retrieval.hits)
    passage = _cite_passage(1, hit, any_body=True)
    if passage is not None and _not_stated(hit, question, name, lex):
        # The full text was searched: its closest sentence, with where it is, said plainly
        # to be the closest rather than the answer.
        cites = [passage, *(_cite(1, hit, i) for i in _pick(hit, 1))]
        text = (
            f"The full text of **{hit.paper.title}** [1] does not clearly state this. The "
            f"closest it says: {passage.quote}{_where(passage)} [1]"
        )
        return Draft(text, cites, sources, "single", False)
    if passage is None and _not_stated(hit, question, name, lex):
        idx = _pick(hit, 1)
        cites = [_cite(1, hit, i) for i in idx]
        text = f"The abstract of **{hit.paper.title}** [1] does not state this"
        text += (
            " and nor does its full text."
            if hit.passage is not None
            else ", and the library holds only its title and abstract."
        )
        if cites:
            text += f" The closest it says: {cites[0].quote} [1]"
        return Draft(text, cites, sources, "single", False)
    idx = _pick(hit, 3)
    cites = [_cite(1, hit, i) for i in idx]
    if passage is not None:
        # The body sentence that answers best comes first when it beats the abstract's.
        assert hit.passage is not None
        cites = [passage, *cites[:1]] if hit.passage.beats_abstract else [*cites[:2], passage]
    body = " ".join(f"{c.quote}{_where(c)} [1]" for c in cites)
    return Draft(f"**{hit.paper.title}** [1]: {body}", cites, sources, "single", True)


def answer_comparison(question: str, hits: Sequence[PaperHit], retrieval: Retrieval) -> Draft:
    """Each side of a comparison in its own words, side by side."""
    if len(hits) < 2:
        return (
            answer_list(question, retrieval)
            if len(hits) == 0
            else answer_single_fallback(question, hits[0], retrieval)
        )
    lines = ["Side by side, in each paper's own words:"]
    cites = []
    for n, hit in enumerate(hits, 1):
        idx = _pick(hit, 2, prefer_contribution=True)
        these = [_cite(n, hit, i) for i in idx]
        cites += these
        lines.append(f"{n}. **{hit.paper.title}**: " + " ".join(f"{c.quote} [{n}]" for c in these))
    return Draft("\n".join(lines), cites, _numbered(hits, retrieval.hits), "comparison", True)


def answer_single_fallback(question: str, hit: PaperHit, retrieval: Retrieval) -> Draft:
    idx = _pick(hit, 3)
    cites = [_cite(1, hit, i) for i in idx]
    body = " ".join(f"{c.quote} [1]" for c in cites)
    return Draft(
        f"**{hit.paper.title}** [1]: {body}",
        cites,
        _numbered([hit], retrieval.hits),
        "single",
        True,
    )


def no_paper(question: str, retrieval: Retrieval) -> Draft:
    """Nothing clearly relevant. With a second tier, the closest papers are offered as an
    uncertain match; without one, say the library has nothing (the candidates considered
    stay in the sources, marked not relevant)."""
    if retrieval.second:
        more, cites = _second_tier(retrieval, 0)
        text = "\n".join(
            [
                "No paper in the library clearly addresses this. These may be relevant (an "
                "uncertain "
                "match: check them before relying on them):",
                *more,
            ]
        )
        return Draft(
            text, cites, _numbered([], retrieval.hits, second=retrieval.second), "list", False
        )
    # No paper has evidence of its own: naming the "nearest" titles would only show
    # unrelated papers (sorting and paging papers for a key-value cache question).
    text = "The library has no paper on this question."
    sources = [_source(i + 1, h, relevant=False) for i, h in enumerate(retrieval.hits[:3])]
    return Draft(text, [], sources, "list", False)


def metadata_field(question: str) -> str:
    low = question.lower()
    for key, fld in _METADATA_FIELDS.items():
        if key in low:
            return fld
    return "year" if re.search(r"\b(19|20)\d\d\b", low) else "details"


def answer_metadata(
    question: str, info: QuestionInfo, hits: Sequence[PaperHit], retrieval: Retrieval
) -> Draft:
    """Authors, venues, years: answered from imported metadata, else "not recorded"."""
    fld = metadata_field(question)
    if hits and not info.named and info.years:
        fld = "year"  # "which papers are from 2024?": list them with their year
    if fld == "year" and info.years and not hits:
        return Draft(
            f"Publication years are not recorded for the papers in this library, so it cannot list "
            f"papers from {', '.join(map(str, info.years))}. Import BibTeX or JSON metadata "
            "to enable this.",
            [],
            [],
            "metadata",
            False,
        )
    lines, cites, used = [], [], []
    for hit in hits:
        p = hit.paper
        value = {
            "authors": ", ".join(p.authors),
            "venue": p.venue or "",
            "year": str(p.year or ""),
        }.get(fld, "")
        if value:
            used.append(hit)
            n = len(used)
            quote = p.title
            cites.append(Citation(n, p.id, p.title, quote, 0, 0, True, 1.0))
            lines.append(f"{n}. **{p.title}** [{n}]: {fld} {value} (from imported metadata).")
    if lines:
        return Draft("\n".join(lines), cites, _numbered(used, retrieval.hits), "metadata", True)
    what = {
        "authors": "Authors",
        "venue": "Venues",
        "year": "Publication years",
        "affiliations": "Affiliations",
    }.get(fld, "Authors, venues and years")
    subject = f" of **{hits[0].paper.title}**" if hits else ""
    text = (
        f"{what}{subject} {'are' if what.endswith('s') else 'is'} not recorded in this "
        "library: its "
        "pages give titles and abstracts only. Import BibTeX or JSON metadata to answer this."
    )
    return Draft(
        text, [], [_source(i + 1, h, relevant=False) for i, h in enumerate(hits)], "metadata", False
    )
