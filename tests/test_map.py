"""The library map (issue 15 §3): every paper placed once, topics labelled with the library's
own terms that name a topic, cached per library content, drawn as PNG (CLI) and SVG (UI)
with labels that do not cover each other."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

from assistant.explore.library_map import LibraryMap, default_topics, library_map, map_key
from assistant.explore.map_drawing import boxes_overlap, label_box, place_labels, render_svg
from assistant.explore.topic_labels import topic_terms
from assistant.index.embeddings import get_embedder
from assistant.retrieval.retriever import Retriever
from assistant.store.library import Library

SPEC_DECODING = [
    "p7d7d0320b811",
    "p90007efee116",
    "pb215c5bd6e9e",
    "p92f8b2c7e586",
    "pf19e5404bdff",
    "p369712690535",
]


@pytest.fixture(scope="module")
def bundled_map(bundled_library):
    settings, _ = bundled_library
    retriever = Retriever(settings, Library(settings), get_embedder(settings))
    return retriever, library_map(retriever)


def test_topic_terms_prefer_what_is_frequent_in_a_topic_and_rare_elsewhere() -> None:
    topics = [
        [
            "Speculative decoding with draft trees.",
            "Faster speculative decoding by drafting.",
            "Language models decode tokens.",
        ],
        [
            "Diffusion models for image restoration.",
            "Image restoration with diffusion.",
            "Language models for images.",
        ],
    ]
    first, second = topic_terms(topics)
    # "speculative" alone is inside the chosen bigram; "draft" and "drafting" are one stem,
    # shown as the library spells it most often.
    assert first == ["speculative decoding", "draft"]
    # "models" names no topic, however often it is written.
    assert second == ["image restoration", "diffusion"]
    assert "language" not in first + second  # once per topic: says nothing of either


def _topic(subject: str, extra: str, n: int = 4) -> list[str]:
    return [
        f"Using models for {subject} ({n}). We propose a novel method based on {subject}, "
        f"{extra} and new models of {subject} with large language models (LLMs) and LLM "
        "agents; results show data learning helps."
        for n in range(n)
    ]


def test_labels_leave_out_words_that_name_no_topic() -> None:
    topics = [
        _topic("speculative decoding", "draft trees"),
        _topic("image restoration", "diffusion priors"),
        _topic("regret bounds", "bandit arms"),
        _topic("protein folding", "contact maps"),
    ]
    labels = topic_terms(topics)
    for label in labels:
        words = " ".join(label).split()
        # Research-writing words, broad nouns alone, and what every topic says ("llms",
        # "language models" here) are never part of a label.
        assert not {"using", "propose", "novel", "method", "based", "new", "results"} & set(words)
        assert not {"models", "data", "learning", "llms", "llm", "language models"} & set(label)
        assert 2 <= len(label) <= 3, label
    assert labels[0][:2] == ["speculative decoding", "draft trees"]
    assert labels[3][:2] == ["protein folding", "contact maps"]


def test_a_label_names_each_thing_once() -> None:
    texts = [
        "Optimal transport (OT) maps for shapes. OT maps and optimal transport plans.",
        "Optimal transport for LLMs. An LLM aligns OT maps; LLMs route OT plans.",
        "Optimal transport plans. LLM serving with LLMs.",
    ]
    other = ["Graph colouring heuristics.", "Graph colouring bounds and graph heuristics."]
    label = topic_terms([texts, other])[0]
    # The abbreviation is its long form, once; "llm" and "llms" are one term.
    assert label[0] == "optimal transport"
    assert "ot" not in label
    assert sum(t in ("llm", "llms") for t in label) <= 1
    assert len(set(label)) == len(label)


def test_labels_are_placed_apart_inside_the_picture_in_the_order_given() -> None:
    wanted = [(["speculative decoding", "draft models", "token"], 200.0, 60.0)] * 8
    placed = place_labels(wanted, 400, 120)
    # The first keeps its spot; the next go above and below, nearest first, while there is room.
    assert [(p.index, p.y) for p in placed] == [(0, 60), (1, 41), (2, 79), (3, 22), (4, 98)]
    for i, a in enumerate(placed):
        assert a.box == label_box(a.text, a.x, a.y)
        assert a.box[0] >= 0 and a.box[1] >= 0 and a.box[2] <= 400 and a.box[3] <= 120
        assert not any(boxes_overlap(a.box, b.box) for b in placed[i + 1 :])


def test_a_label_without_room_is_shortened_or_left_out() -> None:
    wanted = [(["reinforcement learning"], 100.0, 9.5), (["bandits", "regret bounds"], 260.0, 9.5)]
    assert [p.text for p in place_labels(wanted, 350, 19)] == ["reinforcement learning", "bandits"]
    assert place_labels([(["far too long for this picture"], 10.0, 10.0)], 60, 40) == []


def test_map_places_every_paper_once_in_a_labelled_topic(bundled_map) -> None:
    retriever, m = bundled_map
    papers = retriever.papers
    assert sorted(m.paper_ids) == sorted(papers)
    assert m.xy.shape == (len(papers), 2) and np.isfinite(m.xy).all()
    assert len(m.topics) == default_topics(len(papers)) == 23
    assert sorted(pid for t in m.topics for pid in t.paper_ids) == sorted(papers)
    for t in m.topics:
        assert t.label and 2 <= len(t.terms) <= 3
        # Every label term is spelled as it appears in the topic's own titles and abstracts.
        text = " ".join(f"{papers[p].title} {papers[p].abstract}" for p in t.paper_ids).lower()
        assert all(term in text for term in t.terms), (t.label, t.terms)


def test_a_large_library_still_places_every_paper_in_a_labelled_topic(
    bundled_map, monkeypatch
) -> None:
    # Above LARGE_MAP papers the map is built for speed (coarser t-SNE, labels from a sample
    # of each topic): lowered here so the bundled library takes that path.
    from assistant.explore import library_map as lm

    retriever, small = bundled_map
    snap = retriever.refresh()
    ids, vectors = lm.paper_vectors(snap, retriever.library)
    monkeypatch.setattr(lm, "LARGE_MAP", 100)
    monkeypatch.setattr(lm, "LABEL_SAMPLE", 15)
    m = lm.build_map(snap.papers, ids, vectors)
    assert m.paper_ids == small.paper_ids and m.xy.shape == small.xy.shape
    assert np.isfinite(m.xy).all() and np.abs(m.xy).max() == pytest.approx(1.0)
    assert not np.array_equal(m.xy, small.xy)  # the large-library path did run
    assert sorted(pid for t in m.topics for pid in t.paper_ids) == sorted(ids)
    labelled = [t for t in m.topics if t.terms]
    assert len(labelled) >= len(m.topics) - 1, [t.label for t in m.topics]
    for t in labelled:
        text = " ".join(
            f"{snap.papers[p].title} {snap.papers[p].abstract}" for p in t.paper_ids
        ).lower()
        # Spelled as the sample spells it: each word's stem is in the topic's own text.
        assert all(w[:5] in text for term in t.terms for w in term.split()), t.label


def test_speculative_decoding_papers_share_a_topic_named_for_them(bundled_map) -> None:
    _, m = bundled_map
    topics = [m.topic(pid) for pid in SPEC_DECODING]
    assert all(t is not None for t in topics)
    ids = [t.id for t in topics if t is not None]
    main = max(set(ids), key=ids.count)
    assert ids.count(main) == len(SPEC_DECODING)
    assert "speculative" in m.topics[main].label.lower()


def test_map_is_cached_per_library_content(small_library, embedder, tmp_path: Path) -> None:
    from ingest import ingest

    settings, corpus, _ = small_library
    retriever = Retriever(settings, Library(settings), embedder)
    first = library_map(retriever)
    assert first.seconds > 0  # built
    assert library_map(retriever) is first  # held by the snapshot
    cache = settings.data_dir / "cache" / f"{first.key}.json"
    assert json.loads(cache.read_text())["key"] == first.key == map_key(retriever.refresh())

    # A second process (a fresh retriever) reads it from disk: nothing is rebuilt.
    again = library_map(Retriever(settings, Library(settings), embedder))
    assert again.seconds == 0 and again.to_dict() == first.to_dict()

    extra = tmp_path / "extra.md"
    extra.write_text(
        "# Lantern Routing for Tiny Language Models\n\n## Abstract\n\n"
        "We route tokens through a lantern of small experts on phones.\n"
    )
    ingest([extra], settings, embedder=embedder)
    changed = library_map(Retriever(settings, Library(settings), embedder))
    assert changed.key != first.key and changed.seconds > 0
    assert len(changed.paper_ids) == len(first.paper_ids) + 1
    assert not cache.exists()  # the old content's map is dropped, not left to pile up


def test_svg_marks_the_highlighted_papers_and_titles_every_point(bundled_map) -> None:
    _, m = bundled_map
    svg = render_svg(m, SPEC_DECODING[:2])
    assert svg.count("<circle ") == len(m.paper_ids)
    assert sorted(re.findall(r'class="pl-pt pl-hl" data-paper="([^"]+)"', svg)) == sorted(
        SPEC_DECODING[:2]
    )
    assert svg.count("<title>") == len(m.paper_ids)
    assert 2 <= svg.count('class="pl-topic"') <= len(m.topics)


GENERIC = {"using", "use", "based", "models", "model", "method", "methods", "approach", "data"}


def test_bundled_map_labels_name_topics_and_do_not_overlap(bundled_map) -> None:
    _, m = bundled_map
    for t in m.topics:
        assert not GENERIC & set(t.terms), t.label
        assert not {"using", "based"} & set(" ".join(t.terms).split()), t.label
    everywhere = [term for t in m.topics for term in t.terms]
    assert len(set(everywhere)) == len(everywhere)  # each term names one topic
    svg = render_svg(m)
    drawn = re.findall(
        r'<text class="pl-topic" data-topic="(\d+)" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]+)</text>',
        svg,
    )
    assert len(drawn) >= len(m.topics) - 3  # few left out
    boxes = [label_box(html.unescape(text), float(x), float(y)) for _, x, y, text in drawn]
    # Positions are written to 0.1 unit: shrink each box by that much.
    boxes = [
        (left + 0.1, top + 0.1, right - 0.1, bottom - 0.1) for left, top, right, bottom in boxes
    ]
    for i, a in enumerate(boxes):
        assert a[0] >= 0 and a[1] >= 0 and a[2] <= 900 and a[3] <= 600
        assert not any(boxes_overlap(a, b) for b in boxes[i + 1 :]), drawn[i]
    for tid, _, _, text in drawn:  # a drawn label is its topic's label or a shorter start
        assert m.topics[int(tid)].label.startswith(html.unescape(text))


def test_map_round_trips_through_its_cache_form(bundled_map) -> None:
    _, m = bundled_map
    back = LibraryMap.from_dict(json.loads(json.dumps(m.to_dict())))
    assert back.paper_ids == m.paper_ids and back.topic_of == m.topic_of
    assert np.allclose(back.xy, m.xy, atol=1e-4)
    assert [t.label for t in back.topics] == [t.label for t in m.topics]


def test_paperlens_map_writes_a_png_and_lists_the_topics(
    bundled_library, monkeypatch, tmp_path, capsys
) -> None:
    from paperlens.cli import main

    settings, _ = bundled_library
    monkeypatch.setenv("PAPERLENS_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "map.png"
    assert main(["map", "--out", str(out), "--highlight", SPEC_DECODING[0]]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"wrote {out}: 467 papers in 23 topics"
    assert len(lines) == 1 + 23


def test_paperlens_map_on_an_empty_library_says_how_to_fill_it(capsys) -> None:
    from paperlens.cli import main

    assert main(["map", "--out", "x.png"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is empty - add papers with 'paperlens ingest PATH'" in err[0]
