"""A Zotero data folder (``zotero.sqlite`` + ``storage/``) read directly, without Zotero.

Each regular item becomes a `MetadataRecord` (title, abstract, creators, year, venue, DOI,
arXiv id, tags and collections) whose attached PDFs, found under ``storage/<key>/``, the
pipeline reads as the item's full text (see `ingest.reading`), exactly as it does for a
BibTeX ``file`` field.

Zotero holds its database locked while it runs, so the file (and its write-ahead log,
if any) is copied to a temporary folder and the copy opened read-only: the user's
library is never written, and a running Zotero is no obstacle.

The queries follow Zotero's own schema: ``resource/schema/userdata.sql`` (userdata
version 107: ``items``, ``itemData``, ``itemDataValues``, ``itemAttachments``,
``itemCreators``/``creators``, ``itemTags``/``tags``, ``collections``/``collectionItems``,
``deletedItems``) and ``system.sql`` (``fields``, ``itemTypes``, ``creatorTypes``), the
layout of Zotero 5 to 7.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import tempfile
from collections import defaultdict
from pathlib import Path

from assistant.core.errors import IngestError

from .bibtex import arxiv_id
from .readers import file_reader
from .records import MetadataRecord, ParseResult, clean_text, normalize_title, parse_year

log = logging.getLogger(__name__)

DATABASE = "zotero.sqlite"
# Items that are not works: their rows describe other items.
_NOT_WORKS = ("attachment", "note", "annotation")
# Where an item type keeps its venue, first found wins.
_VENUE_FIELDS = (
    "publicationTitle",
    "proceedingsTitle",
    "conferenceName",
    "bookTitle",
    "university",
    "institution",
    "repository",
    "publisher",
)
# itemAttachments.linkMode: 0 imported file, 1 imported URL (both under storage/<key>/),
# 2 linked file (a path of the user's), 3 linked URL (no file).
_LINKED_FILE = 2
_REQUIRED = ("items", "itemData", "itemDataValues", "itemAttachments", "itemTypes")
_TAGS = "SELECT it.itemID, t.name FROM itemTags it JOIN tags t USING (tagID)"
_COLLECTIONS = (
    "SELECT ci.itemID, c.collectionName FROM collectionItems ci "
    "JOIN collections c USING (collectionID)"
)


def is_zotero_database(path: Path) -> bool:
    return path.name == DATABASE


@file_reader(".sqlite")  # a Zotero data folder's zotero.sqlite
def read_zotero(path: Path, source: str | None = None, max_mb: float = 0.0) -> ParseResult:
    """Every regular item of the Zotero database at ``path`` as a `MetadataRecord`.

    ``max_mb`` is unused: the database is not a paper (its PDFs are read, and limited,
    one by one by the pipeline).

    Example:
        >>> result = read_zotero(Path("~/Zotero/zotero.sqlite").expanduser())  # doctest: +SKIP
        >>> result.metadata[0].collections                                     # doctest: +SKIP
        ('Decoding',)
    """
    source = source or path.name
    if not is_zotero_database(path):
        raise IngestError(str(path), f"not a Zotero database (expected a file named {DATABASE})")
    with tempfile.TemporaryDirectory(prefix="paperlens-zotero-") as tmp:
        copy = Path(tmp) / DATABASE
        try:
            shutil.copy2(path, copy)
            for suffix in ("-wal", "-journal"):  # uncommitted pages Zotero may still hold
                extra = path.with_name(path.name + suffix)
                if extra.is_file():
                    shutil.copy2(extra, copy.with_name(copy.name + suffix))
        except OSError as exc:
            raise IngestError(str(path), f"unreadable ({exc.strerror or exc})") from exc
        try:
            con = sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise IngestError(str(path), f"not a readable SQLite database ({exc})") from exc
        try:
            return _read(con, path.parent / "storage", source)
        except sqlite3.DatabaseError as exc:
            raise IngestError(str(path), f"not a readable Zotero database ({exc})") from exc
        finally:
            con.close()


def _tables(con: sqlite3.Connection) -> set[str]:
    return {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _read(con: sqlite3.Connection, storage: Path, source: str) -> ParseResult:
    tables = _tables(con)
    missing = [t for t in _REQUIRED if t not in tables]
    if missing:
        raise sqlite3.DatabaseError(f"no table {missing[0]!r}; Zotero 5 or later is needed")
    items = _works(con, tables)
    values = _values(con, tables, items)
    creators = _creators(con, tables)
    tags = _labels(con, tables, "itemTags", _TAGS)
    collections = _labels(con, tables, "collectionItems", _COLLECTIONS)
    files, unresolved = _attachments(con, items, storage)

    result = ParseResult()
    for item_id, key in items.items():
        data = values.get(item_id, {})
        title = " ".join(data.get("title", "").split())
        label = f"item {key!r}"
        doi = data.get("DOI") or None
        arxiv = arxiv_id(data.get("archiveID"), data.get("url"), data.get("extra"))
        if (
            not (title and normalize_title(title))
            and not doi
            and not arxiv
            and not files.get(item_id)
        ):
            result.problems.append(f"{source}: {label}: no title, DOI or arXiv id - skipped")
            continue
        abstract = " ".join(data.get("abstractNote", "").split())
        if item_id in unresolved and not files.get(item_id):
            result.problems.append(
                f"{source}: {label}: linked file {unresolved[item_id]!r} is relative to Zotero's "
                "base folder, which the data folder does not record - ingest the PDF itself or a "
                "BibTeX export"
            )
        venue = next((data[k] for k in _VENUE_FIELDS if data.get(k)), None)
        result.metadata.append(
            MetadataRecord(
                source=source,
                problem=f"{source}: {label}: no PDF, no abstract and no matching paper in the "
                "library - skipped",
                title=title,
                abstract=abstract,
                authors=tuple(creators.get(item_id, ())),
                year=parse_year(data.get("date")),
                venue=venue,
                url=data.get("url") or (f"https://doi.org/{doi}" if doi else None),
                arxiv_id=arxiv,
                doi=doi,
                tags=tuple(sorted(set(tags.get(item_id, ())), key=str.casefold)),
                collections=tuple(sorted(set(collections.get(item_id, ())), key=str.casefold)),
                files=tuple(files.get(item_id, ())),
                label=label,
            )
        )
    if not items:
        result.problems.append(f"{source}: no items in the Zotero library - skipped")
    return result


def _works(con: sqlite3.Connection, tables: set[str]) -> dict[int, str]:
    """Item id -> key of every item that is a work (not an attachment, note or annotation)
    and not in the trash."""
    deleted = (
        {r[0] for r in con.execute("SELECT itemID FROM deletedItems")}
        if "deletedItems" in tables
        else set()
    )
    types_table = "itemTypesCombined" if "itemTypesCombined" in tables else "itemTypes"
    return {
        item_id: key
        for item_id, key, type_name in con.execute(
            f"SELECT i.itemID, i.key, t.typeName FROM items i "
            f"JOIN {types_table} t USING (itemTypeID)"
        )
        if type_name not in _NOT_WORKS and item_id not in deleted
    }


def _values(
    con: sqlite3.Connection, tables: set[str], items: dict[int, str]
) -> dict[int, dict[str, str]]:
    """Item id -> field name -> cleaned value, for the given items."""
    fields_table = "fieldsCombined" if "fieldsCombined" in tables else "fields"
    values: dict[int, dict[str, str]] = defaultdict(dict)
    for item_id, name, value in con.execute(
        f"SELECT d.itemID, f.fieldName, v.value FROM itemData d "
        f"JOIN {fields_table} f USING (fieldID) JOIN itemDataValues v USING (valueID)"
    ):
        if item_id in items and value is not None:
            values[item_id][name] = clean_text(str(value)).strip()
    return values


def _attachments(
    con: sqlite3.Connection, items: dict[int, str], storage: Path
) -> tuple[dict[int, list[str]], dict[int, str]]:
    """Per item, the paths of its PDF attachments, and the first attachment whose path
    cannot be resolved (relative to Zotero's base folder)."""
    files: dict[int, list[str]] = defaultdict(list)
    unresolved: dict[int, str] = {}
    for parent, key, link_mode, content_type, stored in con.execute(
        "SELECT a.parentItemID, i.key, a.linkMode, a.contentType, a.path "
        "FROM itemAttachments a JOIN items i USING (itemID) "
        "WHERE a.parentItemID IS NOT NULL ORDER BY a.parentItemID, i.itemID"
    ):
        if parent not in items or not stored:
            continue
        if content_type != "application/pdf" and not str(stored).lower().endswith(".pdf"):
            continue  # web snapshots, notes, images: not a paper's text
        if str(stored).startswith("storage:"):
            files[parent].append(str(storage / key / str(stored)[len("storage:") :]))
        elif link_mode == _LINKED_FILE and not str(stored).startswith("attachments:"):
            files[parent].append(str(stored))
        else:
            # "attachments:..." is relative to a base folder set in Zotero's preferences,
            # which the data folder does not record.
            unresolved.setdefault(parent, str(stored))
    return files, unresolved


def _creators(con: sqlite3.Connection, tables: set[str]) -> dict[int, list[str]]:
    if not {"itemCreators", "creators"} <= tables:
        return {}
    # Authors only when the database says which creators are authors (not editors).
    only = ""
    if "creatorTypes" in tables:
        row = con.execute(
            "SELECT creatorTypeID FROM creatorTypes WHERE creatorType = 'author'"
        ).fetchone()
        if row:
            only = f" WHERE ic.creatorTypeID = {int(row[0])}"
    out: dict[int, list[str]] = defaultdict(list)
    for item_id, first, last, mode in con.execute(
        "SELECT ic.itemID, c.firstName, c.lastName, c.fieldMode FROM itemCreators ic "
        f"JOIN creators c USING (creatorID){only} ORDER BY ic.itemID, ic.orderIndex"
    ):
        # fieldMode 1: a single-field name (an institution), kept in lastName.
        name = (last or "") if mode == 1 else " ".join(p for p in (first, last) if p)
        if name.strip():
            out[item_id].append(" ".join(name.split()))
    return out


def _labels(
    con: sqlite3.Connection, tables: set[str], table: str, query: str
) -> dict[int, list[str]]:
    if table not in tables:
        return {}
    out: dict[int, list[str]] = defaultdict(list)
    for item_id, name in con.execute(query):
        if name and str(name).strip():
            out[item_id].append(str(name).strip())
    return out
