"""Question kinds (assistant.questions.classify): rules a user can read."""

from __future__ import annotations

import pytest

from assistant.questions import PaperNames, classify

NO_NAMES = PaperNames([])


@pytest.mark.parametrize("question", [
    # q134 of the eval set: was sent to the metadata answerer and answered "no paper".
    "Which benchmark evaluates how efficient, not just how correct, the code written by LLMs is, "
    "and what metric does it introduce?",
    "Which papers detect essays written by large language models?",
    "Which papers study text written by ChatGPT?",
])
def test_written_by_a_model_is_a_topic_not_a_question_about_authors(question):
    assert classify(question, NO_NAMES).kind == "list"


@pytest.mark.parametrize("question", [
    "Who wrote SpecTr?",
    "Which papers were written by Hinton?",
    "Which paper is authored by Google?",
    "Which papers were authored by the LLM+P team?",  # a team named after a model is people
    "Which papers were written by the model's authors?",
])
def test_written_by_people_is_still_a_metadata_question(question):
    assert classify(question, NO_NAMES).kind == "metadata"
