"""`paperlens eval` (issue 14): halves, per-question records, LLM cost figures, judge batches.

Runs the CLI in-process over the session's bundled library (no calibration, no baseline,
a few questions). LLM mode talks to `FakeLLM` (tests/fake_llm.py, a FAKE scripted
OpenAI-compatible server) whose judge names the papers the eval set labels relevant and
reports fixed token counts, so every cost figure can be recomputed from its requests.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_llm import FakeLLM, Reply, completion

from assistant import Assistant
from evals import metrics as M
from evals import runner
from evals.summary import summarise
from paperlens.cli import main as cli

REWRITE_KEY = "help search a library"
JUDGE_KEY = "judge which research papers"
ANSWER_KEY = "You are paperlens"
SHOWN = re.compile(r'<source n="(\d+)">(.*?)</source>', re.DOTALL)
CHECK = re.compile(r"Check question: Which paper is titled '(.*)'\?")
MODEL = "fake-judge-7b"
# What the fake reports as each JSON call's usage (a stream reports none: the answer's
# tokens are estimated by the product, ~4 characters a token, one per streamed piece).
PROMPT_TOKENS, COMPLETION_TOKENS = 120, 9
TEST_HALF = [q for q in runner.load_questions() if q.split == "test"]


def json_reply(obj: dict[str, Any]) -> Reply:
    """A completion carrying ``obj`` as JSON, with a usage block."""
    usage = {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }
    return Reply(body={**completion(json.dumps(obj)), "usage": usage})


def judge_naming(titles: set[str]) -> Callable[[dict[str, Any]], Reply]:
    """A scripted judge: the candidates shown whose titles are in ``titles`` are relevant."""

    def reply(request: dict[str, Any]) -> Reply:
        user = request["messages"][-1]["content"]
        shown = SHOWN.findall(user)
        # Titles hold ": " too (e.g. "SpecTr: Fast ..."): match whole titles, not up to it.
        yes = [int(n) for n, text in shown if any(text.startswith(f"{t}: ") for t in titles)]
        out: dict[str, Any] = {"relevant": yes}
        asked = CHECK.search(user)  # the known-answer check (issue 25): answered right
        if asked:
            out["check"] = [int(n) for n, text in shown if text.startswith(f"{asked.group(1)}: ")]
        return json_reply(out)

    return reply


def routes(titles: set[str]) -> dict[str, Any]:
    return {
        REWRITE_KEY: lambda r: json_reply({"queries": [], "abstract": ""}),
        JUDGE_KEY: judge_naming(titles),
        ANSWER_KEY: [Reply(text="Nothing to cite.")],
    }


def labelled_titles(settings: Any, n: int) -> set[str]:
    """The titles of the papers the first ``n`` test questions label relevant or partial."""
    papers = Assistant(settings).papers()
    return {papers[p].title for q in TEST_HALF[:n] for p in (*q.relevant, *q.partial)}


@pytest.fixture
def eval_env(bundled_library, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The CLI pointed at the bundled library, without the calibration (minutes, untested here)."""
    settings, _ = bundled_library
    monkeypatch.setenv("PAPERLENS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setattr(runner, "run_eval", functools.partial(runner.run_eval, calibration=False))
    return settings


def run(out: Path, n: int, mode: str = "extractive") -> int:
    argv = ["eval", "--split", "test", "--limit", str(n), "--mode", mode, "--no-baseline"]
    return cli([*argv, "--out", str(out)])


def read_records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def test_the_test_half_is_scored_one_record_per_question(eval_env, tmp_path: Path):
    assert run(tmp_path, 3) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    records = read_records(tmp_path)
    assert [r["id"] for r in records] == [q.id for q in TEST_HALF[:3]]
    assert {r["split"] for r in records} == {"test"} and results["questions"] == 3
    assert records == results["records"]
    s = results["summary"]
    assert list(s["splits"]) == ["test"] and s["splits"]["test"]["overall"]["n"] == 3
    assert s["overall"]["n"] == 3 and "llm_calls" not in s["overall"]
    assert results["llm_model"] is None and "LLM cost" not in (tmp_path / "report.md").read_text()


@pytest.fixture
def fake_llm(eval_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    """The FAKE endpoint, configured as a user would: PAPERLENS_LLM__MODEL, OPENAI_BASE_URL."""
    with FakeLLM([Reply()], routes(labelled_titles(eval_env, 4))) as ep:
        for name, value in {
            "OPENAI_BASE_URL": ep.url,
            "PAPERLENS_LLM__MODEL": MODEL,
            "PAPERLENS_LLM__MAX_RETRIES": "0",
            "PAPERLENS_LLM__HYPOTHETICAL_ABSTRACT": "false",
        }.items():
            monkeypatch.setenv(name, value)
        yield ep


def expected_cost(requests: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Calls, prompt and completion tokens of ``requests``, as the fake reported them."""
    prompt = completion_ = 0
    for r in requests:
        if ANSWER_KEY in r["messages"][0]["content"]:
            prompt += round(sum(len(m["content"]) for m in r["messages"]) / 4)
            completion_ += 1  # one streamed piece
        else:
            prompt, completion_ = prompt + PROMPT_TOKENS, completion_ + COMPLETION_TOKENS
    return len(requests), prompt, completion_


def test_llm_mode_reports_what_the_endpoint_was_asked(fake_llm, tmp_path: Path):
    assert run(tmp_path, 4, "llm") == 0
    results = json.loads((tmp_path / "results.json").read_text())
    records, o = read_records(tmp_path), results["summary"]["splits"]["test"]["overall"]
    assert len(records) == 4 and results["summary"]["overall"] == o
    assert results["llm_model"] == MODEL and {r["model"] for r in fake_llm.requests} == {MODEL}
    assert fake_llm.route_calls[JUDGE_KEY] >= 4  # every question was judged
    calls, prompt, completion_ = expected_cost(fake_llm.requests)
    assert o["llm_calls"] == calls / 4 and sum(r["llm_usage"]["calls"] for r in records) == calls
    assert o["llm_prompt_tokens"] == prompt / 4
    assert o["llm_completion_tokens"] == completion_ / 4
    seconds = [r["llm_usage"]["seconds"] for r in records]
    assert all(s > 0 for s in seconds) and o["llm_seconds"] == M.mean(seconds)
    assert o["llm_seconds_p95"] == M.percentile(seconds, 95)
    changed = [r for r in records if any(r["llm_changes"].values())]
    assert changed, "the scripted judge changed no list: the rate below would test nothing"
    assert all(any(n.startswith("The LLM ") for n in r["notices"]) for r in changed)
    assert o["llm_changed_rate"] == len(changed) / 4
    report = (tmp_path / "report.md").read_text()
    assert f"; LLM `{MODEL}`." in report and f"## LLM cost per question (`{MODEL}`)" in report
    assert (
        f"| overall | {calls / 4:.1f} | {prompt / 4:.0f} | {completion_ / 4:.0f} | "
        f"{o['llm_seconds']:.1f} | {o['llm_seconds_p95']:.1f} | {len(changed) / 4:.3f} |"
    ) in report


def test_a_run_cut_short_keeps_the_questions_it_scored(
    fake_llm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    scored: list[str] = []
    score = runner.score_answer

    def score_then_stop(*args: Any) -> dict[str, Any]:
        if len(scored) == 2:
            raise KeyboardInterrupt  # the user's Ctrl-C during the third question
        scored.append(args[0].id)
        return score(*args)

    monkeypatch.setattr(runner, "score_answer", score_then_stop)
    assert run(tmp_path, 3, "llm") == 130
    # The eval does not resume (a re-run starts over), so it must not say it does.
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"paperlens: interrupted - the questions scored so far are in {tmp_path}/records.jsonl;"
        " a re-run starts the eval over"
    )
    assert not (tmp_path / "results.json").exists()
    records = read_records(tmp_path)
    assert [r["id"] for r in records] == scored == [q.id for q in TEST_HALF[:2]]
    s = summarise(records, ["offline"])["splits"]["test"]["overall"]
    assert s["n"] == 2 and s["llm_calls"] == M.mean(r["llm_usage"]["calls"] for r in records)


def judged(settings: Any, titles: set[str], batch: int) -> tuple[Any, list[list[str]]]:
    """q001 asked in LLM mode with ``batch`` candidates per judging call: the answer and
    the candidates (title: best sentence) each judging request showed."""
    # 20 candidates and the 3 far-topic check papers slipped among them (issue 25).
    llm = {
        "model": MODEL,
        "max_retries": 0,
        "hypothetical_abstract": False,
        "judge_top_n": 20,
        "far_probes": 3,
        "judge_batch": batch,
    }
    with FakeLLM([Reply()], routes(titles)) as ep:
        s = settings.model_copy(
            update={"openai_base_url": ep.url, "llm": settings.llm.model_copy(update=llm)}
        )
        answer = Assistant(s).ask(TEST_HALF[0].question)
    shown = [
        [text for _, text in SHOWN.findall(r["messages"][-1]["content"])]
        for r in ep.requests
        if JUDGE_KEY in r["messages"][0]["content"]
    ]
    return answer, shown


def test_judging_in_batches_judges_each_candidate_once_as_one_call_would(bundled_library):
    settings, _ = bundled_library
    titles = labelled_titles(settings, 1)
    one, [single] = judged(settings, titles, 23)
    many, batches = judged(settings, titles, 8)
    # The batches run concurrently: they may reach the server in any order.
    assert len(single) == 23 and sorted(len(b) for b in batches) == [7, 8, 8]
    flat = [t for b in batches for t in b]
    assert sorted(flat) == sorted(single)  # each candidate in exactly one batch
    assert many.llm_usage["steps"]["judging"]["calls"] == 3
    assert any(one.llm_changes.values()), "the judge moved nothing: the comparison is void"
    assert many.llm_changes == one.llm_changes
    assert [(s.paper_id, s.tier) for s in many.sources] == [
        (s.paper_id, s.tier) for s in one.sources
    ]
