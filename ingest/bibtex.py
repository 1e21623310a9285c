"""BibTeX (.bib) entries as metadata records: authors, year, venue, arXiv id, DOI, URL,
keywords (as tags) and attached files.

An entry attaches its metadata to a paper already in the library or in the same ingest
run (matched by DOI, arXiv id or title, see `ingest.metadata`); an entry with a title
and an abstract that matches nothing becomes a paper of its own. An entry whose ``file``
field names a PDF (the export of Zotero, Better BibTeX, JabRef or Mendeley) becomes that
PDF's paper, carrying the entry's metadata.
"""

from __future__ import annotations

import logging
import re

from assistant.core.errors import IngestError

from .readers import text_reader
from .records import MetadataRecord, ParseResult, clean_text, normalize_title, parse_year

log = logging.getLogger(__name__)

_ARXIV = re.compile(
    r"(?:arxiv[:/.\s]*|abs/)?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?", re.I
)
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


# A separator not preceded by a backslash: JabRef escapes Windows paths (C\:\\Users\\...).
_UNESCAPED_SEMI = re.compile(r"(?<!\\);")
_UNESCAPED_COLON = re.compile(r"(?<!\\):")


def _unescape(value: str) -> str:
    return re.sub(r"\\([\\:;])", r"\1", value).strip()


def file_paths(value: str) -> tuple[str, ...]:
    """The paths in a BibTeX ``file`` field, in order.

    Accepts the reference managers' syntaxes: ``Description:path:mime`` (Zotero, JabRef,
    Mendeley; the description may be empty), a plain path, several of either separated by
    ``;``, and JabRef's escaped ``\\:`` and ``\\\\`` in Windows paths.

    Example:
        >>> file_paths("Full Text:files/12/paper.pdf:application/pdf;:supp.pdf:PDF")
        ('files/12/paper.pdf', 'supp.pdf')
    """
    out = []
    for item in _UNESCAPED_SEMI.split(clean_text(value).strip()):
        parts = _UNESCAPED_COLON.split(item.strip())
        if len(parts) >= 3:  # description:path:type (a Zotero Windows path adds a colon)
            path = ":".join(parts[1:-1])
        elif len(parts) == 2 and len(parts[0]) == 1 and parts[1][:1] in ("\\", "/"):
            path = ":".join(parts)  # C:\\papers\\x.pdf, no description
        elif len(parts) == 2:
            path = parts[1]
        else:
            path = parts[0]
        path = _unescape(path.replace("{", "").replace("}", ""))
        if path:
            out.append(path)
    return tuple(dict.fromkeys(out))


def _keywords(value: str) -> tuple[str, ...]:
    words = (w.strip() for w in re.split(r"[,;]", _plain(value)))
    return tuple(dict.fromkeys(w for w in words if w))


@text_reader(".bib")
def parse_bibtex(text: str, source: str) -> ParseResult:
    """Each entry of a .bib file as a `MetadataRecord`; a block that does not parse is reported.

    Example:
        >>> bib = '@article{k, title={A Study}, author={Doe, Jane}, year={2024}}'
        >>> r = parse_bibtex(bib, "r.bib")
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
        record = _record(
            {k.lower(): str(v.value) for k, v in entry.fields_dict.items()},
            f"entry {entry.key!r}",
            source,
        )
        if record is None:
            result.problems.append(
                f"{source}: entry {entry.key!r}: no title, DOI or arXiv id - skipped"
            )
        else:
            result.metadata.append(record)
    if not library.entries and not library.failed_blocks:
        result.problems.append(f"{source}: no BibTeX entries - skipped")
    return result


def _record(fields: dict[str, str], label: str, source: str) -> MetadataRecord | None:
    """One entry's fields (lower-case names) as a record; None when nothing identifies it."""
    title = _plain(fields.get("title", ""))
    abstract = _plain(fields.get("abstract", ""))
    doi = _doi(fields.get("doi"))
    url = _plain(fields.get("url", "")) or None
    is_arxiv = "arxiv" in fields.get("archiveprefix", "arxiv").lower()
    arxiv = arxiv_id(fields.get("eprint") if is_arxiv else None, url, fields.get("journal"))
    files = file_paths(fields.get("file", ""))
    if not (title and normalize_title(title)) and not doi and not arxiv and not files:
        return None
    venue_field = next(
        (k for k in ("journal", "booktitle", "venue", "publisher") if fields.get(k)), None
    )
    venue = _plain(fields[venue_field]) if venue_field else None
    if venue and arxiv and venue.lower().startswith("arxiv"):
        venue = "arXiv"
    problem = (
        f"{source}: {label}: no abstract and no matching paper in the library - skipped"
        if not abstract
        else f"{source}: {label}: could not become a paper - skipped"
    )
    return MetadataRecord(
        source=source,
        problem=problem,
        title=title,
        abstract=abstract,
        authors=_authors(fields.get("author", "")),
        year=parse_year(fields.get("year") or fields.get("date")),
        venue=venue,
        url=url or (f"https://doi.org/{doi}" if doi else None),
        arxiv_id=arxiv,
        doi=doi,
        tags=_keywords(fields.get("keywords", "")),
        files=files,
        label=label,
    )
