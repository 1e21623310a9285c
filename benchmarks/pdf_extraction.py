"""PDF text extraction throughput (pages/s): pypdf, and PyMuPDF when it is installed.

Generates N synthetic two-column papers with reportlab, then times, in the same run:
- ``pypdf``: raw ``page.extract_text()``;
- ``paperlens``: the full reader (`ingest.parse_file` of a PDF: pypdf with font/position
  capture, header/footer removal, headings, hyphenation) - what ingest pays per page;
- ``pymupdf``: raw ``page.get_text()``, for comparison only (AGPL, not a dependency).

Usage: python benchmarks/pdf_extraction.py --papers 20 --pages 8 --out bench/pdf.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = [
    "model",
    "retrieval",
    "attention",
    "decoding",
    "sparse",
    "dense",
    "token",
    "layer",
    "training",
    "evaluation",
    "benchmark",
    "accuracy",
    "latency",
    "memory",
    "context",
    "document",
    "passage",
    "reader",
    "scientific",
    "paper",
    "transformer",
    "embedding",
    "query",
    "answer",
    "gradient",
    "objective",
    "contrastive",
    "baseline",
    "results",
]


def make_pdf(path: Path, pages: int, seed: int) -> None:
    """A paper of ``pages`` pages: title, abstract, headed sections in two columns,
    a running header and a page number."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    width, height = letter
    c = canvas.Canvas(str(path), pagesize=letter)
    for page in range(1, pages + 1):
        c.setFont("Helvetica", 8)
        c.drawString(72, height - 30, "Synthetic Proceedings 2024")
        c.drawRightString(width - 72, 24, str(page))
        y0 = height - 72
        if page == 1:
            c.setFont("Helvetica-Bold", 16)
            c.drawString(72, y0, f"Synthetic Paper Number {seed}")
            c.setFont("Helvetica-Bold", 11)
            c.drawString(72, y0 - 30, "Abstract")
            c.setFont("Times-Roman", 10)
            for i in range(4):
                c.drawString(72, y0 - 44 - 12 * i, " ".join(rng.choices(WORDS, k=14)) + ".")
            y0 -= 110
        for col in (0, 1):
            y = y0
            section = 1
            while y > 60:
                if rng.random() < 0.08:
                    c.setFont("Helvetica-Bold", 12)
                    c.drawString(
                        72 + col * 246, y, f"{section} {rng.choice(WORDS).title()} Analysis"
                    )
                    section += 1
                    y -= 16
                c.setFont("Times-Roman", 10)
                c.drawString(72 + col * 246, y, " ".join(rng.choices(WORDS, k=6)) + ".")
                y -= 12
        c.showPage()
    c.save()


def time_pages(name: str, files: list[Path], fn) -> dict:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    pages = chars = 0
    for f in files:
        n, m = fn(f)
        pages += n
        chars += m
    seconds = time.perf_counter() - t0
    return {
        "extractor": name,
        "pages": pages,
        "chars": chars,
        "seconds": round(seconds, 3),
        "pages_per_s": round(pages / seconds, 1) if seconds else None,
    }


def run_pypdf(path: Path) -> tuple[int, int]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return len(reader.pages), sum(len(p.extract_text()) for p in reader.pages)


def run_paperlens(path: Path) -> tuple[int, int]:
    from pypdf import PdfReader

    from ingest import parse_file

    paper = parse_file(path).papers[0]
    return len(PdfReader(str(path)).pages), len(paper.abstract) + sum(
        len(s.text) for s in paper.sections
    )


def run_pymupdf(path: Path) -> tuple[int, int]:
    import pymupdf

    with pymupdf.open(str(path)) as doc:
        return doc.page_count, sum(len(p.get_text()) for p in doc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", type=int, default=20)
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    runs = [("pypdf", run_pypdf), ("paperlens (pypdf + structure)", run_paperlens)]
    try:
        import pymupdf  # noqa: F401

        runs.append(("pymupdf", run_pymupdf))
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(args.papers):
            f = Path(tmp) / f"paper_{i}.pdf"
            make_pdf(f, args.pages, i)
            files.append(f)
        results = [time_pages(name, files, fn) for name, fn in runs]
    for r in results:
        print(
            f"{r['extractor']:32s} {r['pages_per_s']:>8} pages/s  ({r['pages']} pages, "
            f"{r['seconds']}s)"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "papers": args.papers,
            "pages_per_paper": args.pages,
            "machine": platform.machine(),
            "python": platform.python_version(),
            "results": results,
        }
        args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
