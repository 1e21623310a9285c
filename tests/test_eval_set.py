"""The eval question set: the shipped file passes its validator, and the tune/test split
keeps every topic group in one half and never moves a question once it has a half."""

from __future__ import annotations

import collections
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "evals" / "data"
QUESTIONS = DATA / "questions.jsonl"
PAPERS = ROOT / "data" / "papers"


def _script(name: str) -> ModuleType:
    # evals/data holds stand-alone stdlib scripts, not a package: load them by path.
    spec = importlib.util.spec_from_file_location(f"eval_set_{name}", DATA / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


validate = _script("validate_questions")
split = _script("split")


def _rows() -> list[dict]:
    return [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]


def test_shipped_eval_set_passes_the_validator(capsys: pytest.CaptureFixture[str]):
    assert validate.main(["validate_questions.py", str(PAPERS), str(QUESTIONS)]) == 0
    out = capsys.readouterr().out
    assert "WARN" not in out
    assert out.rstrip().endswith("OK")


def test_validator_rejects_a_group_in_both_halves_and_a_title_that_is_not_the_corpus_title(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    rows = _rows()
    first = rows[0]
    first["split"] = "tune" if first["split"] == "test" else "test"
    second = rows[1]
    second["relevant_titles"] = [
        second["relevant_titles"][0].upper(),
        *second["relevant_titles"][1:],
    ]
    del rows[2]["split"]
    bad = tmp_path / "questions.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    assert validate.main(["validate_questions.py", str(PAPERS), str(bad)]) == 1
    errors = [line for line in capsys.readouterr().out.splitlines() if line.startswith("ERROR")]
    assert errors == [
        f"ERROR line 2 ({second['id']}): title {second['relevant_titles'][0][:60]!r} differs "
        "from the corpus title",
        "ERROR line 3: missing/wrong-type fields ['split']",
        f"ERROR topic_group {first['topic_group']!r} has questions in both halves",
    ]


def _q(qid: str, kind: str, group: str, half: str | None = None) -> dict:
    q = {"id": qid, "kind": kind, "topic_group": group, "question": qid}
    return q if half is None else q | {"split": half}


def test_split_keeps_recorded_halves_and_gives_a_new_group_the_half_that_balances_kinds():
    questions = [
        _q("q1", "topic", "a", "tune"),
        _q("q2", "topic", "b", "tune"),
        _q("q3", "single", "a", "tune"),
        _q("q4", "topic", "c"),  # new group: test has no topic question yet
        _q("q5", "single", "a"),  # new question in a recorded group inherits "tune"
    ]
    out = {q["id"]: q["split"] for q in split.assign(questions)}
    assert out == {"q1": "tune", "q2": "tune", "q3": "tune", "q4": "test", "q5": "tune"}


def test_split_refuses_a_file_whose_group_is_already_in_both_halves():
    with pytest.raises(SystemExit, match="topic_group spans both halves: a"):
        split.assign([_q("q1", "topic", "a", "tune"), _q("q2", "single", "a", "test")])


def test_shipped_split_is_stable_and_balanced_per_kind():
    rows = _rows()
    # Re-running the split on the shipped file changes nothing: every group has its half.
    assert [q["split"] for q in split.assign(rows)] == [q["split"] for q in rows]
    counts = collections.Counter((q["kind"], q["split"]) for q in rows)
    for kind in {q["kind"] for q in rows}:
        # A new question joins its topic's group and half, so a kind can lean a little.
        total = counts[(kind, "tune")] + counts[(kind, "test")]
        assert abs(counts[(kind, "tune")] - counts[(kind, "test")]) <= max(2, 0.05 * total), kind
    topic = [q for q in rows if q["kind"] in ("topic", "topic_paraphrase")]
    assert len(rows) >= 165 and len(topic) >= 80
