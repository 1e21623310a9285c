"""Sources named as a person would name them, not by their file names.

The library records, for each paper, the names of the files it was read from. Shown as
they are, the bundled daily-papers pages read "003_eaf6fee32701ab9b.txt"; a reader knows
them by their day. So:

- a PDF is named by its title and its file name: "Sparse Retrieval Heads (heads.pdf)";
- a daily-papers page (a ``.txt`` file that held several papers, or papers dated by the
  page's date heading: a plain text file holds one undated paper) by its date heading:
  "Daily papers, Mar 11", or "Daily papers, no date" for a page without one;
- any other file (JSON, Markdown, BibTeX...) keeps its file name, which is what its
  owner chose.

Example:
    >>> names = source_names(papers.values())                     # doctest: +SKIP
    >>> names["004_cc92b33e8c7677da.txt"]                        # doctest: +SKIP
    'Daily papers, Mar 11'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from assistant import DateError, Paper, parse_date

DAILY = "Daily papers"


def source_names(papers: Iterable[Paper]) -> dict[str, str]:
    """Each source file of ``papers`` -> the name to show for it."""
    by_file: dict[str, list[Paper]] = {}
    for paper in papers:
        for name in paper.sources:
            by_file.setdefault(name, []).append(paper)
    return {name: _name(name, listed) for name, listed in by_file.items()}


def _name(file: str, papers: list[Paper]) -> str:
    low = file.lower()
    if low.endswith(".pdf"):  # one paper a PDF
        return f"{papers[0].title} ({file})"
    dates = Counter(p.date for p in papers if p.date)
    if low.endswith(".txt") and (len(papers) > 1 or dates):
        # A paper listed on two pages keeps the first page's date (or, first listed on a
        # page without one, takes the other's): the page's own date is the one most of its
        # papers carry, and a page without a heading has none.
        date, n = dates.most_common(1)[0] if dates else ("", 0)
        return f"{DAILY}, {date}" if 2 * n > len(papers) else f"{DAILY}, no date"
    return file


def name_of(file: str, names: Mapping[str, str]) -> str:
    """The name to show for ``file`` (its own name when ``names`` does not know it)."""
    return names.get(file, file)


def source_counts(papers: Iterable[Paper]) -> list[tuple[str, int]]:
    """(source name, papers) rows, daily pages first by day, then by name; files that
    share a name (two pages of the same day) are one row, each paper counted once."""
    listed = list(papers)
    names = source_names(listed)
    members: dict[str, set[str]] = {}
    for paper in listed:
        for file in paper.sources:
            members.setdefault(names[file], set()).add(paper.id)
    return sorted(
        ((name, len(ids)) for name, ids in members.items()), key=lambda row: _order(row[0])
    )


def _order(name: str) -> tuple[int, int, int, int, str]:
    """Daily pages first, by day (undated last among them), then the rest by name."""
    if name.startswith(f"{DAILY}, "):
        try:
            day = parse_date(name[len(DAILY) + 2 :])
            return 0, day.year or 0, day.month, day.day, ""
        except DateError:
            return 1, 0, 0, 0, name.lower()
    return 2, 0, 0, 0, name.lower()
