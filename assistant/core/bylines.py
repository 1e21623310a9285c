"""How an answer credits a paper: its authors' family names and its year ("Smith & Doe,
2024"), from whatever metadata the library holds (a .bib, Zotero, a PDF's front page)."""

from __future__ import annotations

from typing import Any

from .wire import Wire


def family_name(author: str) -> str:
    """The family name of an author as stored ("Jane Doe", or "Doe, Jane")."""
    if "," in author:
        return author.split(",", 1)[0].strip()
    parts = author.split()
    return parts[-1] if parts else ""


def byline(authors: tuple[str, ...], year: int | None) -> str:
    """A paper's authors and year as a citation names them: "Smith, 2024", "Smith & Doe,
    2024" or "Smith et al., 2024"; what is known of it ("2024", "Smith & Doe"), or "".

    Example:
        >>> byline(("Smith, Jane", "John Doe"), 2024)
        'Smith & Doe, 2024'
    """
    names = [n for n in (family_name(a) for a in authors) if n]
    who = f"{names[0]} et al." if len(names) > 2 else " & ".join(names)
    return ", ".join(x for x in (who, str(year) if year else "") if x)


class Credited(Wire):
    """A value that names a paper, with its authors and year where the library knows them
    (from a .bib, Zotero or the PDF's front page); its wire form adds the `byline`."""

    authors: tuple[str, ...]
    year: int | None

    @property
    def byline(self) -> str:
        """E.g. "Smith & Doe, 2024" ("" when neither authors nor year are known)."""
        return byline(self.authors, self.year)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "byline": self.byline}
