"""PDF ingest on PDFs made here with reportlab: two columns, running header and footer,
hyphenated line ends, numbered headings, a reference list; plus a scanned (image-only),
a truncated and an encrypted PDF. Real pypdf, bundled model and embedded Chroma."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from assistant.core.settings import Settings
from assistant.store.library import Library
from ingest import ingest, paper_id, parse_file
from ingest.pdf import join_lines
from ingest.pdf_lines import CORRUPT, ENCRYPTED, NO_TEXT, TRUNCATED
from ingest.readers import FILE_READERS

TITLE = "Sparse Retrieval Heads for Long Document Reading"
ABSTRACT = (
    "Long documents overwhelm dense readers. We introduce sparse retrieval heads that "
    "select the passages a reader attends to, and show that they halve the cost of reading "
    "a full paper while keeping answer accuracy."
)
HEADER = "Proceedings of the Synthetic Workshop on Reading 2024"
FOOTER = "Preprint under review"
SECTIONS = [
    (
        "1 Introduction",
        [
            "Reading a whole scientific paper is expensive for a language model because the "
            "attention cost grows with the square of the input length.",
            "Retrieval heads pick the few passages that matter, so the reader spends its budget "
            "on evidence rather than on boilerplate.",
        ],
    ),
    (
        "2 Method",
        [
            "Each retrieval head scores passages with a bilinear form over pooled token states "
            "and keeps the top eight passages for the reader.",
            "The heads are trained with a contrastive objective against passages that a strong "
            "teacher marked as irrelevant.",
        ],
    ),
    (
        "3 Experiments",
        [
            "On a benchmark of questions about full papers the sparse reader matches the dense "
            "reader within one point of accuracy.",
            "Latency drops by half on documents longer than twenty pages, and memory use falls "
            "by a factor of three.",
        ],
    ),
    (
        "4 Conclusion",
        [
            "Sparse retrieval heads make reading whole papers affordable without losing accuracy.",
        ],
    ),
]
REFERENCES = [
    "[1] Ada Lovelace. Notes on the analytical engine. Taylor, 1843.",
    "[2] Alan Turing. Computing machinery and intelligence. Mind, 1950.",
]
# A word broken across two lines with a hyphen, which must come back whole.
HYPHENATED = ("contras-", "tive")


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def make_paper_pdf(path: Path, *, title: str = TITLE, repeat: int = 1) -> None:
    """A two-column paper: title, abstract, numbered sections, references, and a running
    header and page footer on every page. ``repeat`` multiplies the body for long papers."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    width, height = letter
    c = canvas.Canvas(str(path), pagesize=letter)
    c.setTitle(title)
    page = 1
    col = 0
    y = height - 72

    def margins() -> None:
        c.setFont("Helvetica", 8)
        c.drawString(72, height - 30, HEADER)
        c.drawString(72, 24, FOOTER)
        c.drawRightString(width - 72, 24, str(page))

    def newline(step: float = 12) -> None:
        nonlocal y, col, page
        y -= step
        if y < 60:
            if col == 0:
                col, y = 1, top
            else:
                c.showPage()
                page += 1
                margins()
                col, y = 0, height - 72
                set_top()

    top = height - 72

    def set_top() -> None:
        nonlocal top
        top = y

    def put(text: str, font: str = "Times-Roman", size: float = 10) -> None:
        c.setFont(font, size)
        c.drawString(72 + col * 246, y, text)
        newline(size + 2)

    margins()
    c.setFont("Helvetica-Bold", 16)
    c.drawString(72, y, title)
    y -= 22
    c.setFont("Times-Roman", 10)
    c.drawString(72, y, "Jane Doe and John Roe, University of Examples")
    y -= 24
    c.setFont("Helvetica-Bold", 11)
    c.drawString(72, y, "Abstract")
    y -= 14
    c.setFont("Times-Roman", 10)
    for line in _wrap(ABSTRACT, 95):
        c.drawString(72, y, line)
        y -= 12
    y -= 10
    set_top()
    for _ in range(repeat):
        for heading, paragraphs in SECTIONS:
            newline(4)
            put(heading, "Helvetica-Bold", 12)
            for para in paragraphs:
                lines = _wrap(para, 44)
                for line in lines:
                    whole = HYPHENATED[0][:-1] + HYPHENATED[1]
                    if whole in line:
                        # Break the word across two lines with a hyphen, as typesetters do.
                        before, after = line.split(whole, 1)
                        put(before + HYPHENATED[0])
                        put(HYPHENATED[1] + after)
                        continue
                    put(line)
    newline(4)
    put("References", "Helvetica-Bold", 12)
    for ref in REFERENCES:
        for line in _wrap(ref, 44):
            put(line)
    c.showPage()
    c.save()


def make_image_pdf(path: Path) -> None:
    """A 'scanned' page: an image and no text layer."""
    from PIL import Image
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    img = Image.new("RGB", (200, 100), "white")
    for x in range(20, 180):
        img.putpixel((x, 50), (0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    c = canvas.Canvas(str(path), pagesize=letter)
    c.drawImage(ImageReader(io.BytesIO(buf.getvalue())), 72, 400, width=400, height=200)
    c.showPage()
    c.save()


@pytest.fixture
def paper_pdf(tmp_path: Path) -> Path:
    folder = tmp_path / "pdfs"
    folder.mkdir()
    path = folder / "pdf_sparse_heads.pdf"
    make_paper_pdf(path, repeat=6)
    return path


# --- extraction ----------------------------------------------------------------------
def test_pdf_title_abstract_and_sections_are_recovered(paper_pdf: Path) -> None:
    paper = parse_file(paper_pdf).papers[0]
    assert paper.title == TITLE
    assert paper.id == paper_id(TITLE)
    assert paper.abstract == ABSTRACT
    headings = [s.heading for s in paper.sections]
    assert headings == [h for h, _ in SECTIONS] * 6
    assert paper.sections[0].page == 1
    assert max(s.page_at(len(s.text)) for s in paper.sections) >= 2
    assert paper.file_hash and len(paper.file_hash) == 64


def test_pdf_text_drops_headers_footers_references_and_rejoins_hyphens(paper_pdf: Path) -> None:
    paper = parse_file(paper_pdf).papers[0]
    body = " ".join(s.text for s in paper.sections)
    assert HEADER not in body and FOOTER not in body
    assert "Lovelace" not in body and "Computing machinery" not in body
    assert "contrastive objective" in body
    assert "contras-" not in body and "contras tive" not in body
    assert "Jane Doe" not in body  # authors between title and abstract
    method = next(s for s in paper.sections if s.heading == "2 Method")
    assert method.text.startswith("Each retrieval head scores passages")


def test_join_lines_repairs_hyphenation_and_tracks_pages() -> None:
    text, pages = join_lines(
        [("we use a contras-", 1), ("tive loss on state-of-", 1), ("the-art data", 2)]
    )
    assert text == "we use a contrastive loss on state-of-the-art data"
    assert pages == ((0, 1), (text.index("the-art"), 2))


def test_bad_pdfs_are_reported_and_the_good_one_ingests(
    tmp_path: Path, paper_pdf: Path, embedder
) -> None:
    folder = paper_pdf.parent
    make_image_pdf(folder / "pdf_scanned.pdf")
    whole = paper_pdf.read_bytes()
    (folder / "pdf_truncated.pdf").write_bytes(whole[: len(whole) // 2])
    garbled = whole.replace(b"/Root", b"/Xoot").replace(b"xref", b"xxxx").replace(b"obj", b"ojb")
    (folder / "pdf_corrupt.pdf").write_bytes(garbled)
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(str(paper_pdf)))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    writer.write(str(folder / "pdf_encrypted.pdf"))

    report = ingest([folder], Settings(data_dir=tmp_path / "data"), embedder=embedder)
    skipped = {Path(p).name: reason for p, reason in report.skipped}
    assert skipped == {
        "pdf_scanned.pdf": NO_TEXT,
        "pdf_truncated.pdf": TRUNCATED,
        "pdf_corrupt.pdf": CORRUPT,
        "pdf_encrypted.pdf": ENCRYPTED,
    }
    assert NO_TEXT == "no extractable text; OCR is not supported"
    assert report.added == [paper_id(TITLE)]


# --- chunks in the library -----------------------------------------------------------
def test_pdf_chunks_follow_headings_and_carry_section_and_page(
    tmp_path: Path, paper_pdf: Path, embedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    report = ingest([paper_pdf], settings, embedder=embedder)
    assert report.added == [paper_id(TITLE)] and report.skipped == []
    lib = Library(settings)
    ids, docs, metas = lib.chunk_records()
    chunks = lib.chunks_by_id(ids)
    assert len(chunks) == report.chunks_embedded
    body = sorted((c for c in chunks.values() if c.section), key=lambda c: c.position)
    abstract = [c for c in chunks.values() if c.section is None]
    assert abstract and all(ABSTRACT[c.start : c.end] in c.text for c in abstract)
    headings = [h for h, _ in SECTIONS]
    assert {c.section for c in body} == set(headings)
    for c in body:
        # Each chunk holds one section: title, its heading, then that section's text only.
        assert c.text.startswith(f"{TITLE}\n{c.section}\n")
        others = [h for h in headings if h != c.section]
        assert not any(h in c.text for h in others)
        assert c.page in (1, 2, 3, 4)
        assert c.text.count("\n") == 2
    assert {c.page for c in body} >= {1, 2}
    for doc in docs:
        assert HEADER not in doc and FOOTER not in doc
        assert "Lovelace" not in doc and "Turing" not in doc and "References" not in doc
    for c in body:  # every chunk starts at a heading or continues the same section
        assert c.start == 0 or c.section == next(
            b.section for b in body if b.position == c.position - 1
        )
    assert lib.papers()[paper_id(TITLE)].abstract == ABSTRACT


def _fake_word_pieces(text: str) -> list[int]:
    """A fake tokenizer, for the chunker's pure logic: one piece per word."""
    return [len(word) for word in text.split()]


def test_a_sentence_after_a_page_break_in_its_chunk_is_on_the_later_page() -> None:
    from assistant.core.types import Paper, Section
    from ingest.chunking import Chunker

    on_3 = " ".join(f"Lantern caches keep frame {i} of page three." for i in range(3))
    on_4 = " ".join(f"Tidal schedules move battery {i} on page four." for i in range(9))
    text = f"{on_3} {on_4}"
    turn = len(on_3) + 1  # where page 4 starts in the section
    section = Section("2 Method", text, 3, ((0, 3), (turn, 4)))
    paper = Paper("p1", "Lanterns", "Lantern caches are small.", sections=(section,))
    chunker = Chunker(lambda t: len(_fake_word_pieces(t)), _fake_word_pieces, 50, 0, 512)
    chunks = [c for c in chunker.chunks(paper) if c.section]
    assert len(chunks) >= 2
    first = chunks[0]
    assert first.start == 0 < turn < first.end  # the first chunk crosses the page break
    body = first.text[len(first.text) - (first.end - first.start) :]
    assert body == text[first.start : first.end]
    assert first.page == 3 and first.pages == ((turn, 4),)
    after = body.index("Tidal schedules move battery 0")
    assert first.page_at(after) == 4
    assert first.page_at(after - 2) == 3 and first.page_at(0) == 3
    for c in chunks:  # every offset of every body: the page of its section offset
        assert all(c.page_at(o) == section.page_at(c.start + o) for o in range(c.end - c.start))
    assert [c for c in chunker.chunks(paper) if not c.section][0].page_at(0) is None


def test_chunk_page_breaks_are_stored_and_older_records_load_without_them() -> None:
    from assistant.core.types import Chunk
    from assistant.store.records import chunk_from_record, chunk_metadata

    chunk = Chunk("p1", 4, "Title\n2 Method\nbody", 100, 400, "2 Method", 3, ((20, 4), (260, 5)))
    meta = chunk_metadata(chunk, "h")
    assert meta["pages"] == "20:4 260:5"
    assert chunk_from_record(chunk.text, meta) == chunk
    older = {k: v for k, v in meta.items() if k != "pages"}  # a library stored before pages
    legacy = chunk_from_record(chunk.text, older)
    assert legacy.pages == () and legacy.page_at(300) == 3
    assert chunk_from_record(chunk.text, {**meta, "pages": "20:4 oops"}).page_at(300) == 3


def test_unchanged_pdf_is_not_extracted_or_embedded_again(
    tmp_path: Path, paper_pdf: Path, embedder, monkeypatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = ingest([paper_pdf.parent], settings, embedder=embedder)
    assert first.added == [paper_id(TITLE)] and first.chunks_embedded > 3

    def fail(*args, **kwargs):
        raise AssertionError("an unchanged PDF was extracted again")

    monkeypatch.setitem(FILE_READERS, ".pdf", fail)  # the reader parse_file dispatches to
    again = ingest([paper_pdf.parent], settings, embedder=embedder)
    assert again.unchanged == [paper_id(TITLE)]
    assert again.added == [] and again.updated == [] and again.chunks_embedded == 0
    assert again.skipped == []


def test_answer_quotes_a_full_text_passage_with_its_section_and_page(
    tmp_path: Path, paper_pdf: Path, embedder
) -> None:
    """A question the body answers better than the abstract cites the body: section, page, span."""
    from assistant import Assistant

    settings = Settings(data_dir=tmp_path / "lib")
    ingest([paper_pdf], settings, embedder=embedder)
    bot = Assistant(settings, embedder=embedder)
    answer = bot.ask(f"What objective are the heads of {TITLE} trained with?")
    body = [c for c in answer.citations if c.section is not None]
    assert body, answer.text
    c = body[0]
    assert c.section == "2 Method" and c.page == 1
    assert "contrastive objective" in c.quote
    assert c.quote in answer.text and "(section 2 Method, p. 1)" in answer.text
    # The span is exact in the stored section chunk.
    chunks = bot.library.fulltext_chunks([c.paper_id])[c.paper_id]
    method = next(
        ch
        for ch, _ in chunks
        if ch.section == "2 Method" and ch.start <= c.start and c.end <= ch.end
    )
    body_text = method.text[len(method.text) - (method.end - method.start) :]
    assert body_text[c.start - method.start : c.end - method.start] == c.quote
