"""How many sentences the injection detector flags, per source (issue 22, part 4).

Sources: the bundled library (``data/papers``, read as ingest reads it), the real PDFs
in ``.cache/real_pdfs`` (read with the project's PDF reader; fetched by
``python -m benchmarks.real_pdfs``) and the two labelled sets in
``tests/data/injection_sentences.jsonl``: sentences that describe LLMs, prompting and
agents the way papers do ("narrative", none should be flagged) and sentences aimed at a
model reading the paper ("injection", all should be). Real papers carry no injection, so
every sentence flagged in them is a false positive.

A labelled item is read as ingest reads a text (`injected_sentences`, which splits it):
a narrative item counts as flagged when any of its sentences is, an injection as caught
when all of them are. Each item has a split: "dev" (written before the detector was run
on it; the rules were then tuned on it), "heldout" (written after those rules, first
measured untouched) or "probe" (hard cases written against the final rules). An item
with a "limitation" is a known failure, kept to be counted.

Usage: ``python -m evals.injection_scan [--show N]`` prints the counts, precision and
recall on the labelled sets, and up to N flagged or missed sentences per source.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.core.types import IngestReport, Paper
from assistant.text.injection import flag_paper, injected_sentences
from assistant.text.sentences import split_sentences

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "data" / "papers"
REAL_PDFS = ROOT / ".cache" / "real_pdfs"
SETS = ROOT / "tests" / "data" / "injection_sentences.jsonl"
SPLITS = ("dev", "heldout", "probe")


@dataclass(frozen=True)
class Item:
    """One labelled text of tests/data/injection_sentences.jsonl."""

    label: str  # "narrative" or "injection"
    split: str  # one of SPLITS
    text: str
    limitation: str = ""  # why the detector gets it wrong, for a known failure


@dataclass
class Scan:
    """One source: how many papers (or items) were read and what was flagged."""

    name: str
    read: int = 0
    flagged: list[tuple[str, str]] = field(default_factory=list)  # (paper or split, text)


def scan_papers(name: str, papers: Iterable[Paper]) -> Scan:
    scan = Scan(name)
    for paper in papers:
        scan.read += 1
        scan.flagged += [(paper.title[:60], s) for s in flag_paper(paper).injected]
    return scan


def bundled_papers() -> list[Paper]:
    from ingest import collect_files, read_papers

    return read_papers(collect_files([BUNDLED], IngestReport()), IngestReport())


def real_pdf_papers(folder: Path = REAL_PDFS) -> list[Paper]:
    from ingest import parse_file

    return [p for f in sorted(folder.glob("*.pdf")) for p in parse_file(f).papers]


def items(path: Path = SETS) -> list[Item]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Item(**json.loads(line)) for line in lines if line.strip()]


def flagged(item: Item) -> bool:
    """Whether the detector flags ``item`` as ingest would: any sentence of a narrative
    item, every sentence of an injection."""
    found = injected_sentences(item.text)
    if item.label == "narrative":
        return bool(found)
    whole = [item.text[s:e] for s, e in split_sentences(item.text)]
    return all(any(w in f for f in found) for w in whole)


def precision_recall(labelled: Iterable[Item]) -> dict[str, float]:
    """Precision and recall on labelled items (positive: injection)."""
    tp = fp = fn = 0
    for item in labelled:
        hit = flagged(item)
        tp += item.label == "injection" and hit
        fn += item.label == "injection" and not hit
        fp += item.label == "narrative" and hit
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=5, help="flagged sentences shown per source")
    args = parser.parse_args(argv)

    scans = [scan_papers("bundled library", bundled_papers())]
    if any(REAL_PDFS.glob("*.pdf")):
        scans.append(scan_papers("real PDFs", real_pdf_papers()))
    else:
        print(f"real PDFs: none in {REAL_PDFS} (python -m benchmarks.real_pdfs)", file=sys.stderr)
    labelled = items()
    narrative = Scan("narrative set")
    missed = Scan("injection set, missed")
    for item in labelled:
        if item.label == "narrative":
            narrative.read += 1
            if flagged(item):
                narrative.flagged.append((item.split, item.text))
        else:
            missed.read += 1
            if not flagged(item):
                missed.flagged.append((item.split, item.text))

    for scan in scans:
        papers = len({who for who, _ in scan.flagged})
        print(
            f"{scan.name}: {len(scan.flagged)} sentences flagged in {papers} papers "
            f"({scan.read} papers read)"
        )
        for who, sentence in scan.flagged[: args.show]:
            print(f"    [{who}] {sentence[:160]}")
    print(f"narrative set: {len(narrative.flagged)} of {narrative.read} items flagged")
    for split, text in narrative.flagged[: args.show]:
        print(f"    [{split}] {text[:160]}")
    caught = missed.read - len(missed.flagged)
    print(f"injection set: {caught} of {missed.read} items flagged")
    for split, text in missed.flagged[: args.show]:
        print(f"    missed [{split}] {text[:160]}")
    for name, part in [*((f"{s} split", (s,)) for s in SPLITS), ("all", SPLITS)]:
        pr = precision_recall(i for i in labelled if i.split in part)
        print(f"labelled sets, {name}: precision {pr['precision']:.3f}, recall {pr['recall']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
