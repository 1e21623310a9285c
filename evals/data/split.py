#!/usr/bin/env python3
"""Assign every question of questions.jsonl to the "tune" or the "test" half (stdlib only).

Usage:
    python evals/data/split.py [path/to/questions.jsonl]     # assign, rewrite the file
    python evals/data/split.py --check [path/to/questions.jsonl]

The unit of the split is the ``topic_group``: a keyword question, its paraphrase, the
single-paper and comparison questions about the papers of that topic and the near-miss
unanswerable question next to it share a group, so no half holds a question whose
answer was tuned on through its twin in the other half.

The split is made once. A group keeps the half recorded in the file forever; only
groups that have no recorded half yet are assigned, so adding questions later never
moves a question that someone may already have tuned on. New questions in an existing
group inherit its half. Unassigned groups are taken largest first (ties broken by a
shuffle with a fixed seed) and each goes to the half that leaves the per-kind counts of
the two halves closest (sum over kinds of the squared difference), then the half with
fewer questions, then the seeded coin. The result is written back into each line's
``split`` field; ``--check`` exits 1 if any question lacks a half or a group spans both.
"""

import collections
import json
import os
import random
import sys

SEED = 12
HALVES = ("tune", "test")
KEY_ORDER = (
    "id",
    "kind",
    "style",
    "split",
    "topic_group",
    "question",
    "relevant",
    "relevant_titles",
    "partial",
    "answer_points",
    "notes",
)


def load(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def group_halves(questions: list[dict]) -> tuple[dict[str, str], list[str]]:
    """The half recorded for each group, and the groups whose questions disagree."""
    seen: dict[str, set[str]] = collections.defaultdict(set)
    for q in questions:
        if q.get("split") in HALVES:
            seen[q["topic_group"]].add(q["split"])
    conflicts = sorted(g for g, s in seen.items() if len(s) > 1)
    return {g: next(iter(s)) for g, s in seen.items() if len(s) == 1}, conflicts


def _imbalance(counts: dict[str, collections.Counter[str]]) -> tuple[int, int]:
    kinds = set(counts["tune"]) | set(counts["test"])
    per_kind = sum((counts["tune"][k] - counts["test"][k]) ** 2 for k in kinds)
    total = abs(sum(counts["tune"].values()) - sum(counts["test"].values()))
    return per_kind, total


def assign(questions: list[dict], seed: int = SEED) -> list[dict]:
    """Fill in ``split`` for every question, keeping every half already recorded."""
    halves, conflicts = group_halves(questions)
    if conflicts:
        raise SystemExit(f"topic_group spans both halves: {', '.join(conflicts)}")
    members: dict[str, list[dict]] = collections.defaultdict(list)
    for q in questions:
        members[q["topic_group"]].append(q)
    counts: dict[str, collections.Counter[str]] = {h: collections.Counter() for h in HALVES}
    for g, qs in members.items():
        if g in halves:
            counts[halves[g]].update(q["kind"] for q in qs)
    rng = random.Random(seed)
    new = [g for g in members if g not in halves]
    rng.shuffle(new)
    new.sort(key=lambda g: -len(members[g]))  # stable: the shuffle breaks ties
    for g in new:
        kinds = collections.Counter(q["kind"] for q in members[g])
        options = []
        for h in HALVES:
            trial = {k: collections.Counter(v) for k, v in counts.items()}
            trial[h].update(kinds)
            options.append((_imbalance(trial), rng.random(), h))
        half = min(options)[2]
        halves[g] = half
        counts[half].update(kinds)
    out = []
    for q in questions:
        q = dict(q, split=halves[q["topic_group"]])
        out.append(
            {k: q[k] for k in KEY_ORDER if k in q}
            | {k: v for k, v in q.items() if k not in KEY_ORDER}
        )
    return out


def table(questions: list[dict]) -> str:
    """Per-kind question counts of each half, as text."""
    counts = collections.Counter((q["kind"], q.get("split")) for q in questions)
    kinds = sorted({q["kind"] for q in questions})
    groups = {h: len({q["topic_group"] for q in questions if q.get("split") == h}) for h in HALVES}
    lines = [f"{'kind':18} {'tune':>5} {'test':>5}"]
    for k in kinds:
        lines.append(f"{k:18} {counts[(k, 'tune')]:5} {counts[(k, 'test')]:5}")
    lines.append(
        f"{'all':18} {sum(counts[(k, 'tune')] for k in kinds):5} "
        f"{sum(counts[(k, 'test')] for k in kinds):5}"
    )
    lines.append(f"{'topic groups':18} {groups['tune']:5} {groups['test']:5}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv[1:] if a != "--check"]
    path = (
        args[0]
        if args
        else os.path.join(os.path.dirname(os.path.abspath(__file__)), "questions.jsonl")
    )
    questions = load(path)
    if check:
        _, conflicts = group_halves(questions)
        missing = [q["id"] for q in questions if q.get("split") not in HALVES]
        for g in conflicts:
            print(f"ERROR topic_group {g} spans both halves")
        if missing:
            print(f"ERROR no split for {', '.join(missing)}")
        print(table(questions))
        return 1 if conflicts or missing else 0
    questions = assign(questions)
    with open(path, "w", encoding="utf-8") as f:
        for q in questions:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    print(table(questions))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
