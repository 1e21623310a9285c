"""Does a listed paper's quote show that it answers the question? Measured on labelled pairs.

``python -m evals.quote_choice`` reads ``evals/data/quotes.jsonl``: 320 (question, relevant
paper) pairs from the eval set's list questions, 160 from each half, each with the
sentence a reader would quote (``best``) and every sentence that would also do
(``good``), labelled blind by reading the question and the abstract (never the system's
choice). For each pair it scores the paper's sentences as retrieval does
(`assistant.retrieval.scoring.attach_sentences`) and takes the app's quote
(`assistant.answering.answer.quote_scores`) and, for comparison, the plain sentence score's best.
It prints, per half, the share of quotes that are acceptable evidence and that are the
labelled best. The quote's weights were chosen on the tuning half (evals/QUOTES.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from assistant import Library, get_settings
from assistant.answering.answer import quote_scores
from assistant.index.embeddings import get_embedder
from assistant.retrieval.hits import PaperHit
from assistant.retrieval.scoring import attach_sentences
from assistant.text.terms import terms

HERE = Path(__file__).resolve().parent


def measure(pairs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per half: acceptable and best shares of the app's quote and of the sentence score."""
    settings = get_settings()
    library, embedder = Library(settings), get_embedder(settings)
    papers = library.papers()
    tally: dict[str, dict[str, list[bool]]] = {}
    for pair in pairs:
        hit = PaperHit(papers[pair["paper_id"]], 0.0, 0.0, 0.0, 0.0)
        qvec = embedder.encode_query(pair["question"])
        attach_sentences([hit], qvec, terms(pair["question"], question=True), None, library)
        assert [s.text for s in hit.sentences] == pair["sentences"], pair["pair"]
        assert hit.sentence_scores is not None
        for name, scores in (("app", quote_scores(hit)), ("sentence score", hit.sentence_scores)):
            i = hit.sentences[int(np.argmax(scores))].index
            t = tally.setdefault(f"{pair['split']} {name}", {"acceptable": [], "best": []})
            t["acceptable"].append(i in pair["good"])
            t["best"].append(i == pair["best"])
    return {
        k: {m: round(float(np.mean(v)), 3) for m, v in t.items()} | {"n": len(t["best"])}
        for k, t in sorted(tally.items())
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default=str(HERE / "data" / "quotes.jsonl"))
    args = ap.parse_args(argv)
    lines = Path(args.set).read_text(encoding="utf-8").splitlines()
    print(json.dumps(measure([json.loads(x) for x in lines if x.strip()]), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
