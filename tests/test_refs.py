"""Libraries from reference managers: a BibTeX export whose ``file`` fields point at PDFs,
and a Zotero data folder read directly; tags and collections then filter `ask`.

PDFs are made here with reportlab (tests/test_pdf.py's generator); the Zotero database is
built by the test with the tables of Zotero's own schema (resource/schema/userdata.sql,
userdata version 107, and system.sql of zotero/zotero). Real pypdf, bundled model,
embedded Chroma.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from test_pdf import make_paper_pdf

from assistant.chat import Assistant
from assistant.core.settings import Settings
from assistant.retrieval.retriever import Filters
from assistant.store.library import Library
from ingest import ingest, paper_id
from ingest.bibtex import file_paths, parse_bibtex

HEADS = "Sparse Retrieval Heads for Long Document Reading"
READERS = "Dense Readers for Whole Paper Question Answering"
SUPP = "Passage Budgets for Reading Long Papers"
EXTRA = "Retrieval Heads Revisited for Scientific Reading"
GONE_ABSTRACT = (
    "We study how citation graphs predict which papers a reader opens next, and find that "
    "co-citation beats text similarity for older papers."
)
ONLY_ABSTRACT = (
    "A survey of speculative decoding: a small draft model proposes tokens and the large "
    "model verifies them in parallel, which speeds up generation without changing outputs."
)
QUESTION = "How do sparse retrieval heads cut the cost of reading a whole paper?"


def _entry(key: str, title: str, extra: str) -> str:
    return f"@article{{{key},\n  title = {{{title}}},\n{extra}}}\n"


def _bib(with_extra: bool = False) -> str:
    entries = [
        # Zotero's "Export Files" syntax: description:path:mime, relative to the .bib.
        _entry(
            "heads",
            HEADS,
            "  author = {Doe, Jane and Roe, John},\n  year = {2024},\n"
            "  journal = {Journal of Reading Machines},\n  doi = {10.5555/heads.2024},\n"
            "  keywords = {decoding, long context},\n"
            "  file = {Full Text:files/12/heads.pdf:application/pdf},\n",
        ),
        # A plain path (Better BibTeX).
        _entry(
            "readers",
            READERS,
            "  author = {Poe, Edgar},\n  year = {2023},\n"
            "  booktitle = {Proceedings of Reading 2023},\n  keywords = {reading},\n"
            "  file = {pdfs/readers.pdf},\n",
        ),
        # Several files separated by ';' (JabRef, empty description): a web snapshot first.
        _entry(
            "supp",
            SUPP,
            "  year = {2022},\n"
            "  file = {Snapshot:files/3/page.html:text/html;:files/3/supp.pdf:PDF},\n",
        ),
        # The attached file is gone: reported, the entry kept from its own abstract.
        _entry(
            "gone",
            "Citation Graphs Predict Reading Order",
            f"  year = {{2021}},\n  abstract = {{{GONE_ABSTRACT}}},\n"
            "  file = {Full Text:files/99/gone.pdf:application/pdf},\n",
        ),
        # No file at all, only an abstract.
        _entry(
            "survey",
            "A Survey of Speculative Decoding",
            f"  year = {{2024}},\n  abstract = {{{ONLY_ABSTRACT}}},\n",
        ),
    ]
    if with_extra:
        entries.append(
            _entry("extra", EXTRA, "  year = {2025},\n  file = {:pdfs/extra.pdf:PDF},\n")
        )
    return "\n".join(entries)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kept(settings: Settings) -> set[str]:
    """The hashes of the PDFs the library keeps copies of (every file in its pdfs/)."""
    folder = settings.data_dir / "pdfs"
    names = [f.name for f in folder.iterdir()] if folder.is_dir() else []
    assert all(n.endswith(".pdf") for n in names), names  # no temporary file left
    return {n.removesuffix(".pdf") for n in names}


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A reference manager's export: refs.bib with its PDFs in the folders it names."""
    folder = tmp_path / "export"
    for rel, title in [
        ("files/12/heads.pdf", HEADS),
        ("pdfs/readers.pdf", READERS),
        ("files/3/supp.pdf", SUPP),
        ("pdfs/extra.pdf", EXTRA),
    ]:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        make_paper_pdf(folder / rel, title=title)
    (folder / "files/3/page.html").write_text("<html>a saved page</html>", encoding="utf-8")
    (folder / "refs.bib").write_text(_bib(), encoding="utf-8")
    return folder


def test_file_field_syntaxes_give_the_paths_in_order() -> None:
    assert file_paths("Full Text:files/12/paper.pdf:application/pdf") == ("files/12/paper.pdf",)
    assert file_paths("papers/a b.pdf") == ("papers/a b.pdf",)
    assert file_paths(":a.pdf:PDF;Supplement:b.pdf:PDF") == ("a.pdf", "b.pdf")
    assert file_paths("/abs/a.pdf; /abs/b.pdf") == ("/abs/a.pdf", "/abs/b.pdf")
    assert file_paths(r":C\:\\Users\\me\\p.pdf:PDF") == (r"C:\Users\me\p.pdf",)  # JabRef, Windows
    assert file_paths(r"Full Text:C:\Users\me\p.pdf:application/pdf") == (r"C:\Users\me\p.pdf",)
    record = parse_bibtex(_bib(), "refs.bib").metadata[0]
    assert record.tags == ("decoding", "long context") and record.files == ("files/12/heads.pdf",)


def test_bib_export_ingests_attached_pdfs_with_the_entries_metadata(
    tmp_path: Path, export: Path, embedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    bib = export / "refs.bib"
    report = ingest([bib], settings, embedder=embedder)
    heads, readers, supp = paper_id(HEADS), paper_id(READERS), paper_id(SUPP)
    gone, survey = (
        paper_id("Citation Graphs Predict Reading Order"),
        paper_id("A Survey of Speculative Decoding"),
    )
    assert sorted(report.added) == sorted([heads, readers, supp, gone, survey])
    assert report.skipped == [
        (
            str(bib),
            "entry 'gone': attached file files/99/gone.pdf not found - the entry's own metadata "
            "is used",
        )
    ]
    library = Library(settings)
    papers = library.papers()
    p = papers[heads]
    assert p.authors == ("Jane Doe", "John Roe") and p.year == 2024
    assert (p.venue, p.doi, p.tags) == (
        "Journal of Reading Machines",
        "10.5555/heads.2024",
        ("decoding", "long context"),
    )
    assert p.sources == ("heads.pdf",)
    assert papers[readers].venue == "Proceedings of Reading 2023" and papers[readers].tags == (
        "reading",
    )
    assert papers[supp].sources == ("supp.pdf",) and papers[supp].year == 2022
    assert library.fulltext_ids == {heads, readers, supp}  # the PDFs' sections are in
    assert papers[gone].abstract == GONE_ABSTRACT and papers[gone].year == 2021
    assert papers[survey].abstract == ONLY_ABSTRACT
    # The attached PDFs are kept for the viewer, as a PDF ingested directly is.
    attached = ("files/12/heads.pdf", "pdfs/readers.pdf", "files/3/supp.pdf")
    assert _kept(settings) == {_sha256(export / rel) for rel in attached}

    again = ingest([bib], settings, embedder=embedder)
    assert (again.added, again.updated, again.metadata_updated, again.chunks_embedded) == (
        [],
        [],
        [],
        0,
    )
    assert sorted(again.unchanged) == sorted(report.added)

    bib.write_text(_bib(with_extra=True), encoding="utf-8")  # the next export: one more paper
    grown = ingest([bib], settings, embedder=embedder)
    assert grown.added == [paper_id(EXTRA)] and grown.updated == [] and grown.metadata_updated == []
    assert len(Library(settings).papers()) == 6
    assert _kept(settings) == {_sha256(export / rel) for rel in (*attached, "pdfs/extra.pdf")}


# --- Zotero ------------------------------------------------------------------------
# Tables and columns as in zotero/zotero resource/schema/userdata.sql (userdata 107) and
# system.sql; only the tables the reader touches, plus the version row Zotero keeps.
ZOTERO_SCHEMA = """
CREATE TABLE version (schema TEXT PRIMARY KEY, version INT NOT NULL);
CREATE TABLE libraries (libraryID INTEGER PRIMARY KEY, type TEXT NOT NULL, editable INT NOT NULL,
    filesEditable INT NOT NULL, version INT NOT NULL DEFAULT 0,
    storageVersion INT NOT NULL DEFAULT 0,
    lastSync INT NOT NULL DEFAULT 0, archived INT NOT NULL DEFAULT 0);
CREATE TABLE itemTypes (itemTypeID INTEGER PRIMARY KEY, typeName TEXT, templateItemTypeID INT,
    display INT DEFAULT 1);
CREATE TABLE fields (fieldID INTEGER PRIMARY KEY, fieldName TEXT, fieldFormatID INT);
CREATE TABLE creatorTypes (creatorTypeID INTEGER PRIMARY KEY, creatorType TEXT);
CREATE TABLE items (itemID INTEGER PRIMARY KEY, itemTypeID INT NOT NULL,
    dateAdded TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    dateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    libraryID INT NOT NULL, key TEXT NOT NULL, version INT NOT NULL DEFAULT 0,
    synced INT NOT NULL DEFAULT 0, UNIQUE (libraryID, key));
CREATE TABLE itemDataValues (valueID INTEGER PRIMARY KEY, value UNIQUE);
CREATE TABLE itemData (itemID INT, fieldID INT, valueID, PRIMARY KEY (itemID, fieldID));
CREATE TABLE itemNotes (itemID INTEGER PRIMARY KEY, parentItemID INT, note TEXT, title TEXT);
CREATE TABLE itemAttachments (itemID INTEGER PRIMARY KEY, parentItemID INT, linkMode INT,
    contentType TEXT, charsetID INT, path TEXT, syncState INT DEFAULT 0, storageModTime INT,
    storageHash TEXT);
CREATE TABLE tags (tagID INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE itemTags (itemID INT NOT NULL, tagID INT NOT NULL, type INT NOT NULL,
    PRIMARY KEY (itemID, tagID));
CREATE TABLE creators (creatorID INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, fieldMode INT,
    UNIQUE (lastName, firstName, fieldMode));
CREATE TABLE itemCreators (itemID INT NOT NULL, creatorID INT NOT NULL,
    creatorTypeID INT NOT NULL DEFAULT 1, orderIndex INT NOT NULL DEFAULT 0,
    PRIMARY KEY (itemID, creatorID, creatorTypeID, orderIndex), UNIQUE (itemID, orderIndex));
CREATE TABLE collections (collectionID INTEGER PRIMARY KEY, collectionName TEXT NOT NULL,
    parentCollectionID INT DEFAULT NULL,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    libraryID INT NOT NULL, key TEXT NOT NULL, version INT NOT NULL DEFAULT 0,
    synced INT NOT NULL DEFAULT 0, UNIQUE (libraryID, key));
CREATE TABLE collectionItems (collectionID INT NOT NULL, itemID INT NOT NULL,
    orderIndex INT NOT NULL DEFAULT 0, PRIMARY KEY (collectionID, itemID));
CREATE TABLE deletedItems (itemID INTEGER PRIMARY KEY,
    dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL);
INSERT INTO version VALUES ('userdata', 107);
INSERT INTO libraries VALUES (1, 'user', 1, 1, 0, 0, 0, 0);
INSERT INTO itemTypes VALUES (1, 'note', NULL, 0), (4, 'journalArticle', NULL, 2),
    (14, 'attachment', NULL, 0), (33, 'conferencePaper', NULL, 1);
INSERT INTO fields VALUES (1, 'url', NULL), (12, 'publicationTitle', NULL), (14, 'date', NULL),
    (22, 'extra', NULL), (26, 'DOI', NULL), (90, 'abstractNote', NULL), (110, 'title', NULL),
    (114, 'proceedingsTitle', NULL);
INSERT INTO creatorTypes VALUES (1, 'author'), (2, 'contributor'), (3, 'editor');
"""

TRASHED = "A Paper the User Deleted"
LINKED = "Citation Graphs Predict Reading Order"


def _zotero_item(
    con: sqlite3.Connection, item_id: int, type_id: int, key: str, data: dict[int, str]
) -> None:
    con.execute(
        "INSERT INTO items (itemID, itemTypeID, libraryID, key) VALUES (?, ?, 1, ?)",
        (item_id, type_id, key),
    )
    for field_id, value in data.items():
        con.execute("INSERT OR IGNORE INTO itemDataValues (value) VALUES (?)", (value,))
        (value_id,) = con.execute(
            "SELECT valueID FROM itemDataValues WHERE value = ?", (value,)
        ).fetchone()
        con.execute("INSERT INTO itemData VALUES (?, ?, ?)", (item_id, field_id, value_id))


def _attach_pdf(
    con: sqlite3.Connection, folder: Path, item_id: int, parent: int, key: str, title: str
) -> None:
    _zotero_item(con, item_id, 14, key, {110: "Full Text PDF"})
    (folder / "storage" / key).mkdir(parents=True)
    make_paper_pdf(folder / "storage" / key / "paper.pdf", title=title)
    # linkMode 1: imported from a URL, stored as "storage:<file>" under storage/<key>/.
    con.execute(
        "INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) "
        "VALUES (?, ?, 1, 'application/pdf', 'storage:paper.pdf')",
        (item_id, parent),
    )


@pytest.fixture
def zotero_folder(tmp_path: Path) -> Path:
    """A Zotero data folder: three works (two with PDFs in storage/), a note, a trashed
    item, tags and two collections."""
    folder = tmp_path / "Zotero"
    folder.mkdir()
    con = sqlite3.connect(folder / "zotero.sqlite")
    con.executescript(ZOTERO_SCHEMA)
    _zotero_item(
        con,
        1,
        4,
        "AAAA1111",
        {
            110: HEADS,
            14: "2024-03-00 2024-03",
            12: "Journal of Reading Machines",
            26: "10.5555/heads.2024",
        },
    )
    _attach_pdf(con, folder, 2, 1, "PDFA2222", HEADS)
    _zotero_item(
        con,
        3,
        33,
        "BBBB3333",
        {110: READERS, 14: "2023", 114: "Proceedings of Reading 2023", 22: "arXiv: 2301.01234"},
    )
    _attach_pdf(con, folder, 4, 3, "PDFB4444", READERS)
    _zotero_item(
        con,
        5,
        4,
        "CCCC5555",
        {110: "A Survey of Speculative Decoding", 90: ONLY_ABSTRACT, 14: "2024"},
    )
    _zotero_item(con, 6, 1, "NOTE6666", {})
    con.execute("INSERT INTO itemNotes VALUES (6, 1, '<p>my notes</p>', 'my notes')")
    _zotero_item(con, 7, 4, "DDDD7777", {110: TRASHED, 90: ONLY_ABSTRACT + " Deleted."})
    con.execute("INSERT INTO deletedItems (itemID) VALUES (7)")
    # A linked file (linkMode 2) relative to the base folder set in Zotero's preferences.
    _zotero_item(con, 8, 4, "EEEE8888", {110: LINKED, 90: GONE_ABSTRACT})
    _zotero_item(con, 9, 14, "PDFE9999", {110: "Linked PDF"})
    con.execute(
        "INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) "
        "VALUES (9, 8, 2, 'application/pdf', 'attachments:Papers/linked.pdf')"
    )
    con.executemany(
        "INSERT INTO creators VALUES (?, ?, ?, ?)",
        [
            (1, "Jane", "Doe", 0),
            (2, "John", "Roe", 0),
            (3, "", "Reading Lab", 1),
            (4, "Ed", "Itor", 0),
        ],
    )
    con.executemany(
        "INSERT INTO itemCreators VALUES (?, ?, ?, ?)",
        [(1, 1, 1, 0), (1, 2, 1, 1), (1, 4, 3, 2), (3, 3, 1, 0)],
    )
    con.executemany("INSERT INTO tags VALUES (?, ?)", [(1, "decoding"), (2, "to-read")])
    con.executemany("INSERT INTO itemTags VALUES (?, ?, 0)", [(1, 1), (1, 2), (5, 1)])
    con.executemany(
        "INSERT INTO collections (collectionID, collectionName, libraryID, key) VALUES (?, ?, 1, "
        "?)",
        [(1, "Reading", "COLL0001"), (2, "Surveys", "COLL0002")],
    )
    con.executemany(
        "INSERT INTO collectionItems (collectionID, itemID) VALUES (?, ?)", [(1, 1), (1, 3), (2, 5)]
    )
    con.commit()
    con.close()
    return folder


def test_zotero_folder_is_read_from_a_copy_with_tags_and_collections(
    tmp_path: Path, zotero_folder: Path, embedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    db = zotero_folder / "zotero.sqlite"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    # Zotero holds its database locked while it runs: an exclusive lock is taken here.
    lock = sqlite3.connect(db)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        report = ingest([zotero_folder], settings, embedder=embedder)
    finally:
        lock.rollback()
        lock.close()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # never written
    heads, readers, survey = (
        paper_id(HEADS),
        paper_id(READERS),
        paper_id("A Survey of Speculative Decoding"),
    )
    assert sorted(report.added) == sorted([heads, readers, survey, paper_id(LINKED)])
    assert report.skipped == [
        (
            str(db),
            (
                "item 'EEEE8888': linked file 'attachments:Papers/linked.pdf' is relative to "
                "Zotero's base "
                "folder, which the data folder does not record - ingest the PDF itself or a BibTeX "
                "export"
            ),
        )
    ]
    papers = Library(settings).papers()
    assert paper_id(TRASHED) not in papers
    p = papers[heads]
    assert p.authors == ("Jane Doe", "John Roe")  # the editor is not an author
    assert (p.year, p.venue, p.doi) == (2024, "Journal of Reading Machines", "10.5555/heads.2024")
    assert (p.tags, p.collections, p.sources) == (
        ("decoding", "to-read"),
        ("Reading",),
        ("paper.pdf",),
    )
    r = papers[readers]
    assert (r.authors, r.venue, r.arxiv_id, r.collections) == (
        ("Reading Lab",),
        "Proceedings of Reading 2023",
        "2301.01234",
        ("Reading",),
    )
    assert papers[survey].collections == ("Surveys",) and papers[survey].abstract == ONLY_ABSTRACT
    stored = sorted((zotero_folder / "storage").glob("*/paper.pdf"))
    assert len(stored) == 2 and _kept(settings) == {_sha256(f) for f in stored}

    again = ingest([zotero_folder], settings, embedder=embedder)
    assert (again.added, again.updated, again.metadata_updated, again.chunks_embedded) == (
        [],
        [],
        [],
        0,
    )


def test_ask_filters_by_tag_and_by_collection(
    tmp_path: Path, zotero_folder: Path, embedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    ingest([zotero_folder], settings, embedder=embedder)
    heads, readers = paper_id(HEADS), paper_id(READERS)
    bot = Assistant(settings, embedder=embedder)

    def answered_by(filters: Filters | None) -> set[str]:
        answer = bot.new_conversation().ask(QUESTION, mode="extractive", filters=filters)
        cited = {c.paper_id for c in answer.citations}
        assert cited <= {s.paper_id for s in answer.sources}
        return cited

    assert answered_by(None) >= {heads, readers}  # both PDFs say the same: both answer
    survey = paper_id("A Survey of Speculative Decoding")
    tagged = answered_by(Filters(tags=("Decoding",)))  # tags compare without case
    assert heads in tagged and tagged <= {heads, survey}  # the two tagged "decoding"
    assert answered_by(Filters(collections=("Reading",))) == {heads, readers}
    assert answered_by(Filters(collections=("Surveys",))) <= {survey}
    assert answered_by(Filters(tags=("no such tag",))) == set()
