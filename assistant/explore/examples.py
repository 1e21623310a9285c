"""Questions a library suggests: the "Try" examples of the UI, drawn from the library itself.

A person new to a library does not know what it holds, so the examples ask about what it
holds most: its largest topics, named by the map's term that their titles use ("Which
papers study speculative decoding?"), and its newest papers by their short names ("What
does PaSa propose?"). No topic is asked about by a word its titles do not use.

Example:
    >>> example_questions(bot.library_map(), bot.papers())          # doctest: +SKIP
    ['Which papers study speculative decoding?', ..., 'What does PaSa propose?']
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..core.errors import DateError
from ..core.types import Paper
from .digest import parse_date
from .library_map import LibraryMap, Topic

SUGGESTED = 4  # questions shown
TOPIC_QUESTIONS = 3  # at most this many about topics; the newest papers fill the rest
NAMING_SHARE = 0.3
SHORT_NAME_WORDS = 4  # "PaSa: An LLM Agent for..." is asked about as "PaSa"
LONG_TITLE = 90  # a longer title without a short name is not suggested
_TEX_MARKS = str.maketrans("", "", "${}")  # "$\\textbf{Only-IF}$" reads "Only-IF"
_TEX_COMMAND = re.compile(r"\\[a-zA-Z]+")


def example_questions(lmap: LibraryMap, papers: Mapping[str, Paper]) -> list[str]:
    """Up to `SUGGESTED` questions about ``papers``: one per topic of ``lmap`` that its
    papers' titles name (`topic_name`), largest topics first, then about the newest papers."""
    out: list[str] = []
    for topic in sorted(lmap.topics, key=lambda t: -len(t.paper_ids)):
        name = topic_name(topic, papers)
        question = f"Which papers study {name}?"
        if name and question not in out and len(out) < TOPIC_QUESTIONS:
            out.append(question)
    for paper in newest_papers(papers, SUGGESTED - len(out)):
        out.append(f"What does {short_name(paper.title)} propose?")
    return out


def topic_name(topic: Topic, papers: Mapping[str, Paper]) -> str:
    """The map term of ``topic`` that most of its papers' titles use, or "" when none is
    a name: a two-word term in at least two titles, or one word in `NAMING_SHARE` of them
    ("reasoning"; not "test", which titles use for other things too)."""
    titles = [papers[p].title.casefold() for p in topic.paper_ids if p in papers]
    best, hits = "", 0
    for term in topic.terms:
        n = sum(term.casefold() in t for t in titles)
        names = n >= 2 if " " in term else n >= 2 and n >= NAMING_SHARE * len(titles)
        if names and n > hits:
            best, hits = term, n
    return best


def newest_papers(papers: Mapping[str, Paper], n: int) -> list[Paper]:
    """The ``n`` papers with the latest year (ties: the latest listing date, then by
    title), among those whose title can be asked about (`short_name`)."""
    usable = [p for p in papers.values() if 0 < len(short_name(p.title)) <= LONG_TITLE]
    usable.sort(key=lambda p: (p.year or 0, _month_day(p.date), p.title), reverse=True)
    return usable[: max(n, 0)]


def _month_day(date: str | None) -> tuple[int, int]:
    try:
        got = parse_date(date or "")
    except DateError:
        return (0, 0)
    return (got.month, got.day)


def short_name(title: str) -> str:
    """How a question names a paper: the name before its colon when the title has one
    ("PaSa" for "PaSa: An LLM Agent for Comprehensive Academic Paper Search"), else the
    title in quotes; TeX markup dropped."""
    plain = " ".join(_TEX_COMMAND.sub(" ", title).translate(_TEX_MARKS).split())
    if plain.isupper():  # "QWEN2 TECHNICAL REPORT", as some title pages set it
        plain = plain.title()
    if not plain:
        return ""
    head, colon, _ = plain.partition(":")
    if colon and 0 < len(head.split()) <= SHORT_NAME_WORDS:
        return head.strip()
    return f"“{plain}”"
