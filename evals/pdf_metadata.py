"""Metadata read from real PDFs against hand-written ground truth (issue 22).

Each PDF of the real corpus (``benchmarks.real_pdfs``) is read by the PDF reader ingest
uses (`ingest.parse_file`) and its title, authors, year, abstract, arXiv id and DOI are
compared with ``evals/data/real_pdfs/metadata.jsonl``:

- title: equal after folding case, whitespace, punctuation and ligatures (a text layer
  that drops "fi" reads "modied": the letters of every fi/fl/ff/ffi/ffl are ignored on
  both sides);
- abstract: its start and its end both right, compared the same way (papers printing
  no abstract are left out of this field);
- authors: the same names, in any order, folded the same way;
- year, arXiv id, DOI: exactly the printed value, and none where none is printed.

Figures are given for the ``tune`` half (used to develop the reader) and the ``test``
half (held out: reported, never tuned on), and every miss is listed.

Usage: python -m evals.pdf_metadata [--corpus .cache/real_pdfs] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRUTH = Path(__file__).parent / "data" / "real_pdfs" / "metadata.jsonl"
DEFAULT_CORPUS = Path(".cache/real_pdfs")
FIELDS = (
    "title",
    "abstract",
    "abstract_start",
    "abstract_end",
    "authors",
    "year",
    "arxiv_id",
    "doi",
)
SPLITS = ("tune", "test")
_LIGATURES = re.compile(r"ffi|ffl|ff|fi|fl")


def fold(text: str | None) -> str:
    """``text`` for comparison: NFKC, case-folded, without ligature letters, whitespace
    or punctuation."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = _LIGATURES.sub("", text)
    return "".join(ch for ch in text if ch.isalnum())


def truth_rows(path: Path = TRUTH) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


@dataclass
class Outcome:
    """One PDF's fields: whether each is right (None: not scored) and what was read."""

    file: str
    split: str
    right: dict[str, bool | None] = field(default_factory=dict)
    got: dict[str, Any] = field(default_factory=dict)
    want: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _same_names(got: Iterable[str], want: Iterable[str]) -> bool:
    return sorted(fold(n) for n in got) == sorted(fold(n) for n in want)


def score(row: dict[str, Any], got: dict[str, Any]) -> dict[str, bool | None]:
    """Which fields of ``got`` (the reader's values) match the ground-truth ``row``."""
    right: dict[str, bool | None] = {}
    right["title"] = fold(got["title"]) == fold(row["title"])
    if row.get("abstract_start"):
        abstract = fold(got["abstract"])
        right["abstract_start"] = abstract.startswith(fold(row["abstract_start"]))
        right["abstract_end"] = abstract.endswith(fold(row["abstract_end"]))
        right["abstract"] = right["abstract_start"] and right["abstract_end"]
    else:
        right["abstract_start"] = right["abstract_end"] = right["abstract"] = None
    right["authors"] = _same_names(got["authors"], row["authors"])
    right["year"] = got["year"] == row["year"]
    right["arxiv_id"] = (got["arxiv_id"] or None) == row["arxiv_id"]
    want_doi = row["doi"].lower() if row["doi"] else None
    right["doi"] = (got["doi"].lower() if got["doi"] else None) == want_doi
    return right


def read_fields(path: Path) -> dict[str, Any]:
    """The fields the PDF reader gives for ``path`` (an `IngestError` as empty fields)."""
    from assistant.core.errors import IngestError
    from ingest import parse_file

    try:
        paper = parse_file(path).papers[0]
    except IngestError as exc:
        return {
            "title": "",
            "abstract": "",
            "authors": [],
            "year": None,
            "arxiv_id": None,
            "doi": None,
            "error": str(exc),
        }
    return {
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "year": paper.year,
        "arxiv_id": paper.arxiv_id,
        "doi": paper.doi,
    }


def evaluate(corpus: Path = DEFAULT_CORPUS, truth: Path = TRUTH) -> list[Outcome]:
    """Every ground-truth PDF of ``corpus`` read and scored."""
    outcomes = []
    for row in truth_rows(truth):
        start = time.perf_counter()
        got = read_fields(corpus / row["file"])
        out = Outcome(row["file"], row["split"], score(row, got), got, row)
        out.seconds = time.perf_counter() - start
        outcomes.append(out)
    return outcomes


def accuracy(outcomes: Iterable[Outcome], name: str, split: str | None = None) -> tuple[int, int]:
    """(right, scored) for field ``name`` over ``split`` (both halves when None)."""
    marks = [
        o.right[name]
        for o in outcomes
        if (split is None or o.split == split) and o.right.get(name) is not None
    ]
    return sum(bool(m) for m in marks), len(marks)


def printed_accuracy(outcomes: Iterable[Outcome], name: str, split: str) -> tuple[int, int]:
    """(right, scored) for ``name`` over the PDFs of ``split`` that print a value."""
    marks = [o.right[name] for o in outcomes if o.split == split and o.want.get(name)]
    return sum(bool(m) for m in marks), len(marks)


def _short(value: Any, limit: int = 90) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _miss_detail(o: Outcome, name: str) -> str:
    got, want = o.got, o.want
    if name == "abstract_start":
        return f"got {_short(got['abstract'][:90])!r} want {_short(want['abstract_start'])!r}"
    if name == "abstract_end":
        return (
            f"got {_short('...' + got['abstract'][-87:])!r} want {_short(want['abstract_end'])!r}"
        )
    return f"got {_short(got.get(name))!r} want {_short(want.get(name))!r}"


def report(outcomes: list[Outcome]) -> str:
    """The per-field table for both halves and the list of misses."""
    lines = [f"{'field':<16}" + "".join(f"{s:>16}" for s in SPLITS)]
    for name in FIELDS:
        cells = []
        for split in SPLITS:
            r, n = accuracy(outcomes, name, split)
            cells.append(f"{r}/{n} {r / n:.2f}" if n else "-")
        lines.append(f"{name:<16}" + "".join(f"{c:>16}" for c in cells))
    for name in ("arxiv_id", "doi", "year"):
        cells = []
        for split in SPLITS:
            r, n = printed_accuracy(outcomes, name, split)
            cells.append(f"{r}/{n} {r / n:.2f}" if n else "-")
        lines.append(f"{name + ' printed':<16}" + "".join(f"{c:>16}" for c in cells))
    total = sum(o.seconds for o in outcomes)
    lines.append(f"read {len(outcomes)} PDFs in {total:.1f} s")
    lines.append("")
    lines.append("misses:")
    for o in outcomes:
        for name in (
            "title",
            "abstract_start",
            "abstract_end",
            "authors",
            "year",
            "arxiv_id",
            "doi",
        ):
            if o.right.get(name) is False:
                lines.append(f"  [{o.split}] {o.file} {name}: {_miss_detail(o, name)}")
        if o.got.get("error"):
            lines.append(f"  [{o.split}] {o.file} error: {o.got['error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--json", type=Path, help="write every outcome as JSON here")
    args = ap.parse_args(argv)
    from benchmarks.real_pdfs import ensure_corpus

    ensure_corpus(args.corpus)
    outcomes = evaluate(args.corpus)
    print(report(outcomes))
    if args.json:
        args.json.write_text(
            json.dumps([o.__dict__ for o in outcomes], ensure_ascii=False, indent=1),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
