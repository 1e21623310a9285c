"""Export papers (an answer's citations or any selection) for reference managers.

Four formats, written by maintained writers where one exists: BibTeX (``bibtexparser``
2), RIS (``rispy``), CSL-JSON (plain JSON, what Zotero, Pandoc and citeproc read) and
Markdown (title, link and the quoted sentence, for notes).

Only what the library knows is written: papers from the daily-papers pages have a title
and an abstract but no authors, year or link, and their entries say nothing more. Keys
are stable and unique within an export: ``{family}{year}{word}`` when authors and year
are known (``leviathan2023fast``), else the arXiv id (``arxiv2401.12345``), else the
title's first two significant words (``spectrfast``). Two papers of one export that
would share a key each get the start of their paper id appended, so a paper's key
depends only on its own metadata and on which papers it collides with.

Example:
    >>> from assistant.explore.export import export_papers
    >>> text = export_papers(papers, "bibtex")                       # doctest: +SKIP
    >>> export_answer(answer, "markdown", bot.papers())              # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.bylines import family_name
from ..core.errors import ExportFormatError
from ..core.types import Answer, Paper

FORMATS = ("bibtex", "ris", "csl-json", "markdown")
# Accepted spellings -> format (the CLI's short names, file suffixes).
_ALIASES = {
    "bibtex": "bibtex",
    "bib": "bibtex",
    "ris": "ris",
    "csl-json": "csl-json",
    "csl": "csl-json",
    "csljson": "csl-json",
    "json": "csl-json",
    "markdown": "markdown",
    "md": "markdown",
}
SUFFIXES = {"bibtex": ".bib", "ris": ".ris", "csl-json": ".json", "markdown": ".md"}
MEDIA_TYPES = {
    "bibtex": "application/x-bibtex",
    "ris": "application/x-research-info-systems",
    "csl-json": "application/vnd.citationstyles.csl+json",
    "markdown": "text/markdown",
}

# Words a key skips (they say nothing about the paper).
_STOP = frozenset(
    (
        "a",
        "an",
        "the",
        "of",
        "on",
        "in",
        "for",
        "to",
        "and",
        "or",
        "with",
        "via",
        "from",
        "by",
        "at",
        "is",
        "are",
        "as",
        "its",
        "into",
        "towards",
        "toward",
        "using",
        "do",
        "does",
        "what",
        "how",
        "why",
        "when",
    )
)
# TeX's special characters, escaped so a title reads back as written (a lone brace or a
# % would otherwise end the field or comment out the rest of the line).
_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_TEX_RE = re.compile(r"[\\{}&%$#_~^]")
_UNTEX_RE = re.compile(
    r"\\textbackslash\{\}|\\textasciitilde\{\}|\\textasciicircum\{\}|\\[{}&%$#_]"
)
_UNTEX = {v: k for k, v in _TEX_SPECIAL.items()}
# A word BibTeX styles must not lowercase: a capital after its first letter (LLMs, SpecTr).
_KEEP_CASE = re.compile(
    r"(?<![\w\\{])([A-Za-z0-9-]*[a-z0-9-][A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*|[A-Z]{2,}[A-Za-z0-9-]*)"
)


@dataclass(frozen=True)
class ExportItem:
    """One paper to export and, for an answer, the sentence it was cited for."""

    paper: Paper
    quotes: tuple[str, ...] = ()


def normalize_format(fmt: str) -> str:
    """The canonical name of ``fmt`` ("bib" -> "bibtex"); `ExportFormatError` if unknown."""
    got = _ALIASES.get(str(fmt).strip().lower()) if isinstance(fmt, str) else None
    if got is None:
        raise ExportFormatError(fmt)
    return got


# -- keys ---------------------------------------------------------------------------
def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def _title_words(title: str) -> list[str]:
    words = [_ascii_word(w) for w in re.split(r"[\s:/-]+", _strip_math(title))]
    return [w for w in words if w and w not in _STOP]


def _strip_math(text: str) -> str:
    # "$\textbf{Only-IF}$: ..." -> "Only-IF: ...": TeX commands are not words of the title.
    return re.sub(r"\\[a-zA-Z]+", " ", text).replace("$", " ").replace("{", " ").replace("}", " ")


def base_key(paper: Paper) -> str:
    """The key ``paper`` gets when nothing else in the export shares it."""
    words = _title_words(paper.title)
    if paper.authors and paper.year:
        family = _ascii_word(family_name(paper.authors[0])) or "anon"
        return f"{family}{paper.year}{words[0] if words else ''}"
    if paper.arxiv_id:
        return "arxiv" + re.sub(r"[^A-Za-z0-9.]", "", paper.arxiv_id).lower()
    if paper.authors:  # authors without a year: still better than the title alone
        family = _ascii_word(family_name(paper.authors[0])) or "anon"
        return family + "".join(words[:1])
    return "".join(words[:2]) or paper.id


def citation_keys(papers: Sequence[Paper]) -> dict[str, str]:
    """Paper id -> a key unique within ``papers`` (see the module docstring)."""
    by_base: dict[str, list[Paper]] = {}
    for p in papers:
        by_base.setdefault(base_key(p), []).append(p)
    keys: dict[str, str] = {}
    for base, group in by_base.items():
        if len(group) == 1:
            keys[group[0].id] = base
            continue
        ids = sorted({p.id.removeprefix("p") for p in group})
        width = 4  # grow the suffix until the group's ids differ in it
        while len({i[:width] for i in ids}) < len(ids) and width < max(len(i) for i in ids):
            width += 1
        for p in group:
            keys[p.id] = f"{base}_{p.id.removeprefix('p')[:width]}"
    # A disambiguated key could still equal another paper's plain key ("x_ab12"): number it.
    seen: set[str] = set()
    for p in sorted(papers, key=lambda x: x.id):
        key, n = keys[p.id], 2
        while key in seen:
            key = f"{keys[p.id]}{n}"
            n += 1
        keys[p.id] = key
        seen.add(key)
    return keys


# -- fields ---------------------------------------------------------------------------
def tex_escape(text: str) -> str:
    """``text`` with TeX's special characters escaped (accents stay UTF-8, which biber,
    bibtexparser and the reference managers read)."""
    return _TEX_RE.sub(lambda m: _TEX_SPECIAL[m.group(0)], " ".join(text.split()))


def tex_unescape(text: str) -> str:
    """The inverse of `tex_escape` (and of the case-protecting braces of titles)."""
    out, pos = [], 0
    for m in _UNTEX_RE.finditer(text):
        out.append(text[pos : m.start()].replace("{", "").replace("}", ""))
        out.append(_UNTEX[m.group(0)])
        pos = m.end()
    out.append(text[pos:].replace("{", "").replace("}", ""))
    return "".join(out)


def _protect_case(escaped: str) -> str:
    # Braces around words like "LLMs" keep BibTeX styles from lowercasing them; never
    # inside an escape sequence (the lookbehind skips "\textbackslash").
    return _KEEP_CASE.sub(lambda m: "{" + m.group(1) + "}", escaped)


def _link(paper: Paper) -> str | None:
    if paper.url and paper.url.startswith(("https://", "http://")):
        return paper.url
    if paper.doi:
        return f"https://doi.org/{paper.doi}"
    if paper.arxiv_id:
        return f"https://arxiv.org/abs/{paper.arxiv_id}"
    return None


def _split_name(author: str) -> dict[str, str]:
    if "," in author:
        family, given = (x.strip() for x in author.split(",", 1))
        return {"family": family, "given": given} if given else {"family": family}
    parts = author.split()
    if len(parts) < 2:
        return {"literal": author.strip()}
    return {"family": parts[-1], "given": " ".join(parts[:-1])}


# -- writers --------------------------------------------------------------------------
def to_bibtex(items: Sequence[ExportItem], keys: Mapping[str, str]) -> str:
    """BibTeX via bibtexparser 2: ``@article`` with a venue, else ``@misc``."""
    import bibtexparser
    from bibtexparser import model

    entries: list[model.Block] = []
    for item in items:
        p = item.paper
        fields = [model.Field("title", _protect_case(tex_escape(p.title)))]
        if p.authors:
            fields.append(model.Field("author", " and ".join(tex_escape(a) for a in p.authors)))
        if p.year:
            fields.append(model.Field("year", str(p.year)))
        if p.venue:
            fields.append(model.Field("journal", tex_escape(p.venue)))
        if p.doi:
            fields.append(model.Field("doi", tex_escape(p.doi)))
        if p.arxiv_id:
            fields.append(model.Field("eprint", tex_escape(p.arxiv_id)))
            fields.append(model.Field("archiveprefix", "arXiv"))
        link = _link(p)
        if link:
            # \url-style fields take the URL as written; only what would break the field is
            # escaped.
            link = link.replace("%", r"\%").replace("{", "%7B").replace("}", "%7D")
            fields.append(model.Field("url", link))
        if p.tags:
            fields.append(model.Field("keywords", tex_escape(", ".join(p.tags))))
        if item.quotes:
            fields.append(model.Field("note", tex_escape("Quoted: " + " / ".join(item.quotes))))
        entries.append(model.Entry("article" if p.venue else "misc", keys[p.id], fields))
    return str(bibtexparser.write_string(bibtexparser.Library(entries)))


def to_ris(items: Sequence[ExportItem], keys: Mapping[str, str]) -> str:
    """RIS via rispy: ``JOUR`` with a venue, else ``GEN`` (generic)."""
    import rispy

    records: list[dict[str, Any]] = []
    for item in items:
        p = item.paper
        rec: dict[str, Any] = {
            "type_of_reference": "JOUR" if p.venue else "GEN",
            "id": keys[p.id],
            "title": " ".join(p.title.split()),
        }
        if p.authors:
            rec["authors"] = [_ris_name(a) for a in p.authors]
        if p.year:
            rec["year"] = str(p.year)
        if p.venue:
            rec["journal_name"] = p.venue
        if p.doi:
            rec["doi"] = p.doi
        link = _link(p)
        if link:
            rec["urls"] = [link]
        if p.tags:
            rec["keywords"] = list(p.tags)
        if p.abstract:
            rec["abstract"] = " ".join(p.abstract.split())
        if item.quotes:
            rec["notes"] = ["Quoted: " + " ".join(q.split()) for q in item.quotes]
        records.append(rec)
    return str(rispy.dumps(records, implementation=_plain_ris_writer()))


def _plain_ris_writer() -> Any:
    """rispy's writer without the "1." line it puts before each record by default: not
    RIS, and some importers read it as a stray line."""
    from rispy.writer import RisWriter

    class PlainRisWriter(RisWriter):
        def set_header(self, count: int) -> str:
            return ""

    return PlainRisWriter


def _ris_name(author: str) -> str:
    name = _split_name(author)
    if "literal" in name:
        return name["literal"]
    return f"{name['family']}, {name['given']}" if "given" in name else name["family"]


def to_csl_json(items: Sequence[ExportItem], keys: Mapping[str, str]) -> str:
    """CSL-JSON: a list of items (``article-journal`` with a venue, else ``article``)."""
    out = []
    for item in items:
        p = item.paper
        kind = "article-journal" if p.venue else "article"
        rec: dict[str, Any] = {"id": keys[p.id], "type": kind, "title": " ".join(p.title.split())}
        if p.authors:
            rec["author"] = [_split_name(a) for a in p.authors]
        if p.year:
            rec["issued"] = {"date-parts": [[p.year]]}
        if p.venue:
            rec["container-title"] = p.venue
        if p.doi:
            rec["DOI"] = p.doi
        link = _link(p)
        if link:
            rec["URL"] = link
        if p.arxiv_id:
            rec["number"] = f"arXiv:{p.arxiv_id}"
        if p.abstract:
            rec["abstract"] = " ".join(p.abstract.split())
        if item.quotes:
            rec["note"] = "Quoted: " + " / ".join(" ".join(q.split()) for q in item.quotes)
        out.append(rec)
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def md_escape(text: str) -> str:
    """``text`` safe in a Markdown line (no accidental emphasis, links or HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def to_markdown(
    items: Sequence[ExportItem], keys: Mapping[str, str], heading: str | None = None
) -> str:
    """A numbered list: title, what is known (authors, year, venue), link, the quoted sentence."""
    lines = [f"# {md_escape(heading)}", ""] if heading else []
    for i, item in enumerate(items, 1):
        p = item.paper
        meta = [md_escape(", ".join(p.authors))] if p.authors else []
        meta += [str(p.year)] if p.year else []
        meta += [f"*{md_escape(p.venue)}*"] if p.venue else []
        link = _link(p)
        head = f"{i}. **{md_escape(p.title)}**"
        if meta:
            head += " - " + ", ".join(meta)
        if link:
            head += f" [link](<{link}>)"
        elif p.sources:  # no link known: say where it came from rather than invent one
            head += " (from " + ", ".join(md_escape(s) for s in p.sources) + ")"
        lines.append(head + f" `{keys[p.id]}`")
        for q in item.quotes:
            lines.append(f"   > {md_escape(q)}")
    return "\n".join(lines) + "\n"


# -- entry points ---------------------------------------------------------------------
def export_items(items: Sequence[ExportItem], fmt: str, *, heading: str | None = None) -> str:
    """``items`` in format ``fmt`` (see `FORMATS`); ``heading`` titles a Markdown export."""
    fmt = normalize_format(fmt)
    unique = list({it.paper.id: it for it in items}.values())
    keys = citation_keys([it.paper for it in unique])
    if fmt == "bibtex":
        return to_bibtex(unique, keys)
    if fmt == "ris":
        return to_ris(unique, keys)
    if fmt == "csl-json":
        return to_csl_json(unique, keys)
    return to_markdown(unique, keys, heading)


def export_papers(papers: Iterable[Paper], fmt: str, *, heading: str | None = None) -> str:
    """A selection of papers (e.g. from the Library tab) in format ``fmt``.

    Example:
        >>> from assistant.core.types import Paper
        >>> export_papers([Paper("p1", "Fast Decoding & More", "")], "bib").split("\\n")[:2]
        ['@misc{fastdecoding,', '\\ttitle = {Fast Decoding \\\\& More}']
    """
    return export_items([ExportItem(p) for p in papers], fmt, heading=heading)


def answer_items(answer: Answer, papers: Mapping[str, Paper] | None = None) -> list[ExportItem]:
    """The papers an answer cites in support (not the "may also be relevant" tier), in
    citation order, each with its quoted sentences. Without ``papers`` (the library's),
    a paper carries only what the answer holds: its id, title and quotes."""
    quotes: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    for c in sorted(answer.citations, key=lambda c: c.n):
        if c.tier == "second":
            continue
        titles.setdefault(c.paper_id, c.title)
        got = quotes.setdefault(c.paper_id, [])
        if c.quote and c.quote not in got:
            got.append(c.quote)
    out = []
    for pid, qs in quotes.items():
        paper = (papers or {}).get(pid) or Paper(pid, titles[pid], "")
        out.append(ExportItem(paper, tuple(qs)))
    return out


def export_answer(answer: Answer, fmt: str, papers: Mapping[str, Paper] | None = None) -> str:
    """The papers ``answer`` cites, in format ``fmt`` (Markdown is headed by the question)."""
    heading = f"Sources for: {answer.question}"
    return export_items(answer_items(answer, papers), fmt, heading=heading)


__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "SUFFIXES",
    "ExportFormatError",
    "ExportItem",
    "answer_items",
    "base_key",
    "citation_keys",
    "export_answer",
    "export_items",
    "export_papers",
    "normalize_format",
    "tex_escape",
    "tex_unescape",
]
