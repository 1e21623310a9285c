#!/usr/bin/env python3
"""Validate evals/data/questions.jsonl against the seed corpus (stdlib only).

Usage:
    python evals/data/validate_questions.py data/papers [path/to/questions.jsonl]

The seed pages come in two layouts, both parsed here independently of the
application code:
  * blank-line separated blocks (000, 002, 003, 004): 5 header blocks
    ("new", "Get trending...", "Subscribe", "byAK and the research community",
    a date), then alternating title block / abstract block;
  * one field per line (001): 2 header lines, a 3rd line "Subscribe" glued to
    the first title, then alternating title line / abstract line.
The layout is detected from the content, not the file name.

Checks: every line parses as a JSON object with the required fields and types;
ids are unique and well-formed; kinds are known; no duplicate questions; every
id in relevant/partial exists in the corpus; relevant and partial are disjoint
and duplicate-free; relevant_titles match the relevant ids (same length, each
title hashes to its id and equals the corpus title of that id); unanswerable and
metadata questions have relevant == []; answerable kinds have relevant != [];
every question has a split ("tune" or "test") and a topic_group, and no
topic_group has questions in both halves (see split.py); answer_points of
single/comparison questions occur verbatim (case-insensitive) in the relevant
papers' title+abstract (warning only). Prints the per-kind counts of each half.
Exit status 0 when there are no errors.
"""

import collections
import hashlib
import json
import os
import re
import sys
import unicodedata
from typing import Any

HEADER_BLOCKS = 5
KINDS = {"topic", "topic_paraphrase", "single", "comparison", "unanswerable", "metadata"}
# How a question is asked (reported separately): the field's keywords, the problem in the
# asker's own words, a re-wording, a sub-topic with a qualifier, a near-miss or far-off
# unanswerable, one paper's detail, a comparison, a metadata look-up.
STYLES = {
    "keyword",
    "descriptive",
    "paraphrase",
    "narrow",
    "near_miss",
    "far",
    "unanswerable",
    "detail",
    "comparison",
    "metadata",
}
SPLITS = ("tune", "test")
REQUIRED = {
    "id": str,
    "kind": str,
    "style": str,
    "split": str,
    "topic_group": str,
    "question": str,
    "relevant": list,
    "relevant_titles": list,
    "partial": list,
    "answer_points": list,
    "notes": str,
}


def normalize_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    return re.sub(r"[\W_]+", " ", text).strip()


def paper_id(title: str) -> str:
    return "p" + hashlib.sha1(normalize_title(title).encode("utf-8")).hexdigest()[:12]


def parse_page(text: str):
    """Return a list of (title, abstract) pairs from one saved page."""
    lines = text.splitlines()
    nonblank = [ln for ln in lines if ln.strip()]
    blank_sep = sum(1 for ln in lines if not ln.strip()) >= len(nonblank) // 2
    if blank_sep:
        fields = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
        fields = fields[HEADER_BLOCKS:]
    else:
        fields = [ln.strip() for ln in nonblank]
        # skip header lines until the one that starts with "Subscribe"
        idx = next(i for i, ln in enumerate(fields) if ln.startswith("Subscribe"))
        fields = fields[idx:]
        fields[0] = fields[0][len("Subscribe") :].strip()
    if len(fields) % 2:
        raise ValueError("odd number of title/abstract fields")
    return [(fields[i], fields[i + 1]) for i in range(0, len(fields), 2)]


def load_corpus(seed_dir):
    papers: dict[str, Any] = {}
    n_entries = 0
    for name in sorted(os.listdir(seed_dir)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(seed_dir, name), encoding="utf-8") as f:
            pairs = parse_page(f.read())
        n_entries += len(pairs)
        for title, abstract in pairs:
            papers.setdefault(paper_id(title), (title, abstract))
    return papers, n_entries


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    seed_dir = argv[1]
    qpath = (
        argv[2]
        if len(argv) > 2
        else os.path.join(os.path.dirname(os.path.abspath(__file__)), "questions.jsonl")
    )
    papers, n_entries = load_corpus(seed_dir)
    print(f"corpus: {n_entries} entries, {len(papers)} distinct papers")

    errors: list[str] = []
    warnings: list[str] = []
    ids: set[str] = set()
    questions: set[str] = set()
    kinds: collections.Counter[str] = collections.Counter()
    per_split: collections.Counter[tuple[str, str]] = collections.Counter()
    group_splits: dict[str, set[str]] = collections.defaultdict(set)
    with open(qpath, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            q = _parse_line(lineno, line, errors)
            if q is None:
                continue
            where = f"line {lineno} ({q['id']})"
            _check_fields(q, where, ids, questions, errors)
            kinds[q["kind"]] += 1
            per_split[(q["kind"], q["split"])] += 1
            group_splits[q["topic_group"]].add(q["split"])
            _check_relevant(q, where, papers, errors)
            _check_answer_points(q, where, papers, warnings)

    for group, halves in sorted(group_splits.items()):
        if len(halves) > 1:
            errors.append(f"topic_group {group!r} has questions in both halves")
    _report(errors, warnings, kinds, per_split, group_splits)
    return 0 if not errors else 1


def _parse_line(lineno: int, line: str, errors: list[str]) -> dict[str, Any] | None:
    """The question on one line, or None (with the error noted) when it cannot be checked."""
    if not line.strip():
        errors.append(f"line {lineno}: blank line")
        return None
    try:
        q = json.loads(line)
    except json.JSONDecodeError as exc:
        errors.append(f"line {lineno}: bad JSON: {exc}")
        return None
    if not isinstance(q, dict):
        errors.append(f"line {lineno}: not an object")
        return None
    bad = [k for k, t in REQUIRED.items() if not isinstance(q.get(k), t)]
    if bad:
        errors.append(f"line {lineno}: missing/wrong-type fields {bad}")
        return None
    return q


def _check_fields(
    q: dict[str, Any], where: str, ids: set[str], questions: set[str], errors: list[str]
) -> None:
    """Id well-formed and unique, question not a repeat, kind, split and topic_group valid."""
    qid = q["id"]
    if not re.fullmatch(r"q\d{3,}", qid):
        errors.append(f"{where}: malformed id")
    if qid in ids:
        errors.append(f"{where}: duplicate id")
    ids.add(qid)
    norm_q = " ".join(q["question"].lower().split())
    if norm_q in questions:
        errors.append(f"{where}: duplicate question")
    questions.add(norm_q)
    if q["kind"] not in KINDS:
        errors.append(f"{where}: unknown kind {q['kind']!r}")
    if q["style"] not in STYLES:
        errors.append(f"{where}: unknown style {q['style']!r}")
    if q["split"] not in SPLITS:
        errors.append(f"{where}: split must be one of {SPLITS}, not {q['split']!r}")
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", q["topic_group"]):
        errors.append(f"{where}: topic_group must be a lower-case slug")


def _check_relevant(
    q: dict[str, Any], where: str, papers: dict[str, Any], errors: list[str]
) -> None:
    """relevant/partial ids in the corpus, disjoint, matching their titles, and fitting the kind."""
    kind, rel, par = q["kind"], q["relevant"], q["partial"]
    for field, lst in (("relevant", rel), ("partial", par)):
        if len(set(lst)) != len(lst):
            errors.append(f"{where}: duplicate ids in {field}")
        for pid in lst:
            if pid not in papers:
                errors.append(f"{where}: {field} id {pid} not in corpus")
    if set(rel) & set(par):
        errors.append(f"{where}: relevant and partial overlap")
    if len(q["relevant_titles"]) != len(rel):
        errors.append(f"{where}: relevant_titles length differs from relevant")
    else:
        for pid, title in zip(rel, q["relevant_titles"], strict=True):
            if paper_id(title) != pid:
                errors.append(f"{where}: title {title[:60]!r} does not hash to {pid}")
            elif pid in papers and " ".join(title.split()) != " ".join(papers[pid][0].split()):
                errors.append(f"{where}: title {title[:60]!r} differs from the corpus title")
    if kind in ("unanswerable", "metadata"):
        if rel:
            errors.append(f"{where}: {kind} question must have relevant == []")
    elif kind in KINDS and not rel:
        errors.append(f"{where}: {kind} question has empty relevant")


def _check_answer_points(
    q: dict[str, Any], where: str, papers: dict[str, Any], warnings: list[str]
) -> None:
    """1-4 answer points, found verbatim in the relevant papers (warnings only)."""
    kind, rel = q["kind"], q["relevant"]
    if not 0 < len(q["answer_points"]) <= 4 and kind not in ("topic", "topic_paraphrase"):
        warnings.append(f"{where}: expected 1-4 answer_points")
    if kind in ("single", "comparison") and all(p in papers for p in rel):
        text = " ".join(" ".join(papers[p]) for p in rel).lower()
        for ap in q["answer_points"]:
            if ap.lower() not in text:
                warnings.append(f"{where}: answer point {ap!r} not found verbatim")


def _report(
    errors: list[str],
    warnings: list[str],
    kinds: collections.Counter[str],
    per_split: collections.Counter[tuple[str, str]],
    group_splits: dict[str, set[str]],
) -> None:
    """Print the warnings, errors, per-kind counts of each half and the verdict."""
    for w in warnings:
        print("WARN ", w)
    for e in errors:
        print("ERROR", e)
    print(f"questions: {sum(kinds.values())}  by kind: {dict(sorted(kinds.items()))}")
    print(f"{'kind':18} {'tune':>5} {'test':>5}")
    for kind in sorted(kinds):
        print(f"{kind:18} {per_split[(kind, 'tune')]:5} {per_split[(kind, 'test')]:5}")
    groups_in = {h: [g for g, s in group_splits.items() if s == {h}] for h in SPLITS}
    print(
        f"{'all':18} {sum(n for (_, h), n in per_split.items() if h == 'tune'):5} "
        f"{sum(n for (_, h), n in per_split.items() if h == 'test'):5}"
    )
    print(f"{'topic groups':18} {len(groups_in['tune']):5} {len(groups_in['test']):5}")
    print("OK" if not errors else f"FAILED with {len(errors)} error(s)")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
