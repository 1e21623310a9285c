"""How often a paper's related papers share its topic, on the eval set's topic questions.

For each topic question (``kind == "topic"``) and each of its relevant papers, the top-k
related papers (`assistant.explore.related.related`) are compared with the topic's papers
(``relevant`` and ``partial``, the paper itself left out). Reported per ``split``: the
share of the top k on the same topic (micro: over all papers; macro: mean of each
topic's mean) and the ceiling (a topic of 3 papers can fill only 2 of 5 places).
Nothing here is tuned on the test half: the thresholds of `assistant.explore.related` were set
on the tuning half alone.

Run: ``python -m evals.related_eval [--k 5] [--out evals/RELATED.md]`` over the library
of the environment's settings (ingest ``data/papers`` first).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

QUESTIONS = Path(__file__).resolve().parent / "data" / "questions.jsonl"


def topic_questions(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    """The eval set's topic questions (one per topic group)."""
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return [q for q in rows if q.get("kind") == "topic"]


def measure(bot: Any, questions: list[dict[str, Any]], k: int = 5) -> dict[str, dict[str, float]]:
    """Per split: ``micro``, ``macro``, ``ceiling`` (same-topic share of the top ``k``),
    ``papers`` and ``topics`` counted, and ``ms_per_paper`` (``bot``: an `Assistant`)."""
    papers = bot.papers()
    per: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    t0, calls = time.perf_counter(), 0
    for q in questions:
        topic = set(q["relevant"]) | set(q.get("partial", []))
        for pid in q["relevant"]:
            if pid not in papers:
                continue
            got = bot.related(pid, k)
            calls += 1
            same = sum(1 for r in got if r.paper_id in topic - {pid})
            ceiling = min(k, len(topic - {pid}))
            per[q["split"]].append((q["id"], same / k, ceiling / k))
    out: dict[str, dict[str, float]] = {}
    for split, rows in sorted(per.items()):
        by_q: dict[str, list[float]] = defaultdict(list)
        for qid, share, _ in rows:
            by_q[qid].append(share)
        out[split] = {
            "micro": round(sum(r[1] for r in rows) / len(rows), 3),
            "macro": round(sum(sum(v) / len(v) for v in by_q.values()) / len(by_q), 3),
            "ceiling": round(sum(r[2] for r in rows) / len(rows), 3),
            "papers": len(rows),
            "topics": len(by_q),
        }
    ms = 1000 * (time.perf_counter() - t0) / max(calls, 1)
    for v in out.values():
        v["ms_per_paper"] = round(ms, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--split", choices=["tune", "test", "both"], default="both")
    args = parser.parse_args(argv)
    from assistant import Assistant

    qs = topic_questions()
    if args.split != "both":
        qs = [q for q in qs if q["split"] == args.split]
    with Assistant() as bot:
        result = measure(bot, qs, args.k)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
