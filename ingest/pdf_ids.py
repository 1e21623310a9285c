"""A paper's identifiers and year as its first page prints them: the arXiv margin stamp,
the DOI, and the year of the stamp, of a printed date or of a copyright line.

The stamp arXiv sets rotated in the left margin ("arXiv:1503.07589v1 [hep-ex] 26 Mar
2015") is an identifier and a date, never a title. A year is taken only where the page
says it is the paper's (stamp, a dated line, "©", a journal line with a volume), not
from the years cited in the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .pdf_lines import Line

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_YEAR = r"((?:19|20)\d\d)"
ARXIV_ID = re.compile(r"arXiv:\s?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", re.I)
# The margin stamp: identifier, [category], date.
STAMP = re.compile(rf"arXiv:\s?\S+\s*\[[\w.\- ]+\]\s*\d{{1,2}}\s*(?:{_MONTHS})\.?\s*{_YEAR}", re.I)
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)")
_DATE = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?{_YEAR}"
    rf"|\d{{1,2}}\s+(?:{_MONTHS})\.?,?\s+{_YEAR})\b",
    re.I,
)
_PUBLISHED = re.compile(r"\b(?:published|accepted|received|revised|dated)\b", re.I)
_COPYRIGHT = re.compile(rf"(?:©|\(c\)|copyright)\s*(?:[^\d\n]{{0,40}}?)?{_YEAR}", re.I)
# A journal line: a year with a volume, issue or page range ("23 (11): 2805-2810, 2015",
# "(2016) 13:22", "Volume 29, numéro 1, 2020").
_JOURNAL = re.compile(
    rf"(?:\bvol(?:ume)?\.?\s*\d|\b\d+\s*\(\d+\)|\(\s*{_YEAR}\s*\)\s*\d+:\d+|\d+\s*[-–]\s*\d+)"
    rf".*?\b{_YEAR}\b|\b{_YEAR}\b.*?(?:\bvol(?:ume)?\.?\s*\d|\b\d+\s*\(\d+\)|\b\d+\s*[-–]\s*\d+)",
    re.I,
)


def arxiv_stamp(lines: Sequence[Line]) -> tuple[str | None, int | None]:
    """The arXiv id and year of the margin stamp (rotated, or the stamp's full form)."""
    for line in lines:
        stamp = STAMP.search(line.text)
        ident = ARXIV_ID.search(line.text)
        if ident and (stamp or not line.upright):
            return ident.group(1), int(stamp.group(1)) if stamp else None
    return None, None


def is_stamp(line: Line) -> bool:
    """Whether ``line`` is the arXiv margin stamp (or other rotated margin text)."""
    return not line.upright or bool(STAMP.search(line.text))


def arxiv_id(lines: Sequence[Line]) -> str | None:
    """The paper's arXiv id: the stamp's, else one printed on the first page."""
    stamped, _ = arxiv_stamp(lines)
    if stamped:
        return stamped
    for line in lines:
        if (m := ARXIV_ID.search(line.text)) and not re.search(r"\[\d+\]|et al", line.text):
            return m.group(1)
    return None


def doi(lines: Sequence[Line]) -> str | None:
    """The first DOI printed on the first page (headers and footers included)."""
    for line in lines:
        if m := DOI.search(line.text):
            return m.group(1).rstrip(".,;)")
    return None


def year(page: Sequence[Line], front: Sequence[Line], stamp_year: int | None) -> int | None:
    """The paper's year: the stamp's; else, on the first ``page``, a publication date
    (published, then accepted) or a copyright line; else, among the ``front`` lines
    (title to abstract, headers, footers), a printed date or a journal line; else a
    received/revised date."""
    if stamp_year:
        return stamp_year
    found: dict[int, int] = {}  # rank -> year, first seen wins
    front_ids = {id(line) for line in front}
    keyword = ""
    for line in page:
        text = line.text
        said = list(_PUBLISHED.finditer(text))
        dates = list(_DATE.finditer(text))
        for date in dates:
            # Each date goes with the last keyword before it on the line, or the line above.
            before = [m.group(0) for m in said if m.start() < date.start()]
            word = (before[-1] if before else keyword).lower()
            if word:
                rank = {"published": 0, "accepted": 1, "dated": 2}.get(word, 6)
                found.setdefault(rank, _first_year(date))
            elif id(line) in front_ids:
                found.setdefault(4, _first_year(date))
        if m := _COPYRIGHT.search(text):
            found.setdefault(3, int(m.group(1)))
        if id(line) in front_ids and (m := _JOURNAL.search(text)):
            found.setdefault(5, _first_year(m))
        # "Published" with no date dates the next line ("Published" / "3 March 2015").
        keyword = said[-1].group(0) if said and not dates else ""
    return found[min(found)] if found else None


def _first_year(match: re.Match[str]) -> int:
    return int(next(g for g in match.groups() if g))
