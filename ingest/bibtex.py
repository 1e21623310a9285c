"""BibTeX (.bib) entries as metadata records: authors, year, venue, arXiv id, DOI, URL.

An entry attaches its metadata to a paper already in the library or in the same ingest
run (matched by DOI, arXiv id or title, see `ingest.pipeline`); an entry with a title
and an abstract that matches nothing becomes a paper of its own.
"""

from __future__ import annotations

import logging
import re

from assistant.errors import IngestError

from .parsers import MetadataRecord, ParseResult, _year, clean_text, normalize_title

log = logging.getLogger(__name__)

_ARXIV = re.compile(r"(?:arxiv[:/.\s]*|abs/)?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?", re.I)
_DOI = re.compile(r"\b(10\.\d{4,9}/\S+)")


def _plain(value: str) -> str:
    """A field's text without TeX braces, escapes or line breaks."""
    value = clean_text(value)
    value = re.sub(r"\\[a-zA-Z]+\s*(?=\{)", "", value)  # \emph{x} -> {x}
    value = value.replace("\\&", "&").replace("\\%", "%").replace("\\_", "_").replace("~", " ")
    value = value.replace("{", "").replace("}", "")
    return " ".join(value.split())


def _person(name: str) -> str:
    """'Last, First' -> 'First Last'; other forms as written."""
    parts = [p.strip() for p in name.split(",")]
    if len(parts) == 2 and parts[0] and parts[1]:
        return f"{parts[1]} {parts[0]}"
    if len(parts) == 3 and parts[0] and parts[2]:  # Last, Jr, First
        return f"{parts[2]} {parts[0]} {parts[1]}".strip()
    return name.strip()


def _authors(value: str) -> tuple[str, ...]:
    names = re.split(r"\s+and\s+", _plain(value))
    return tuple(_person(n) for n in names if n.strip() and n.strip().lower() != "others")


def arxiv_id(*values: str | None) -> str | None:
    """The arXiv identifier in an eprint field, an arXiv URL or a journal string."""
    for value in values:
        if value and (m := _ARXIV.search(value)):
            return m.group(1)
    return None


def _doi(value: str | None) -> str | None:
    if not value:
        return None
    m = _DOI.search(value)
    return m.group(1).rstrip(".,;") if m else None


def parse_bibtex(text: str, source: str) -> ParseResult:
    """Each entry of a .bib file as a `MetadataRecord`; a block that does not parse is reported.

    Example:
        >>> r = parse_bibtex('@article{k, title={A Study}, author={Doe, Jane}, year={2024}}', "r.bib")
        >>> r.metadata[0].authors, r.metadata[0].year
        (('Jane Doe',), 2024)
    """
    import bibtexparser

    # bibtexparser logs every failed block itself; the report carries them instead.
    logging.getLogger("bibtexparser").setLevel(logging.ERROR)
    try:
        library = bibtexparser.parse_string(text)
    except Exception as exc:  # the parser raises assorted types on garbage
        raise IngestError(source, f"invalid BibTeX ({exc})") from exc
    result = ParseResult()
    for block in library.failed_blocks:
        line = getattr(block, "start_line", None)
        where = f"line {line + 1}" if isinstance(line, int) else "an entry"
        result.problems.append(f"{source}: {where}: invalid BibTeX entry - skipped")
    for entry in library.entries:
        fields = {k.lower(): str(v.value) for k, v in entry.fields_dict.items()}
        title = _plain(fields.get("title", ""))
        abstract = _plain(fields.get("abstract", ""))
        label = f"entry {entry.key!r}"
        doi = _doi(fields.get("doi"))
        url = _plain(fields.get("url", "")) or None
        eprint = fields.get("eprint") if "arxiv" in fields.get("archiveprefix", "arxiv").lower() else None
        arxiv = arxiv_id(eprint, url, fields.get("journal"))
        if not (title and normalize_title(title)) and not doi and not arxiv:
            result.problems.append(f"{source}: {label}: no title, DOI or arXiv id - skipped")
            continue
        venue = next(
            (_plain(fields[k]) for k in ("journal", "booktitle", "venue", "publisher") if fields.get(k)),
            None,
        )
        if venue and arxiv and venue.lower().startswith("arxiv"):
            venue = "arXiv"
        problem = (
            f"{source}: {label}: no abstract and no matching paper in the library - skipped"
            if not abstract
            else f"{source}: {label}: could not become a paper - skipped"
        )
        result.metadata.append(
            MetadataRecord(
                source=source,
                problem=problem,
                title=title,
                abstract=abstract,
                authors=_authors(fields.get("author", "")),
                year=_year(fields.get("year") or fields.get("date")),
                venue=venue,
                url=url or (f"https://doi.org/{doi}" if doi else None),
                arxiv_id=arxiv,
                doi=doi,
            )
        )
    if not library.entries and not library.failed_blocks:
        result.problems.append(f"{source}: no BibTeX entries - skipped")
    return result
