"""What's new (issue 15 §4): the papers of a day or period by map topic, each with an
extractive gist and the earlier papers it relates to; undated papers dated by ingest time."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.core.errors import DateError
from assistant.explore.digest import _LEANING, digest, parse_date
from assistant.explore.library_map import library_map
from assistant.index.embeddings import get_embedder
from assistant.retrieval.retriever import Retriever
from assistant.store.library import Library

# Papers of the bundled page dated Mar 13 (tests/test_parsers.py; a paper listed on two
# pages keeps one date, so the other pages' counts are read from the library).
MAR_13 = 49


@pytest.fixture(scope="module")
def retriever(bundled_library):
    settings, _ = bundled_library
    return Retriever(settings, Library(settings), get_embedder(settings))


def _entries(d):
    return [e for g in d.groups for e in g.entries]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2024-03-13", (3, 13, 2024)),
        ("Mar 13", (3, 13, None)),
        ("March 13, 2024", (3, 13, 2024)),
        (" Mar 9 2025 ", (3, 9, 2025)),
        ("Feb 29", (2, 29, None)),
    ],
)
def test_dates_are_read_in_the_documented_forms(text, want) -> None:
    got = parse_date(text)
    assert (got.month, got.day, got.year) == want


@pytest.mark.parametrize("text", ["2024-13-01", "Mar 32", "yesterday", "13/03/2024", "", "Foo 3"])
def test_a_bad_date_is_one_error_naming_the_formats(text) -> None:
    with pytest.raises(DateError) as err:
        parse_date(text)
    assert (
        str(err.value)
        == f"Cannot read the date {text.strip()!r}: use YYYY-MM-DD, 'Mar 13' or 'Mar 13, 2024'."
    )


def test_digest_of_one_page_lists_its_papers_by_topic_with_gists_and_earlier_relations(
    retriever,
) -> None:
    d = digest(retriever, date="Mar 13")
    entries = _entries(d)
    assert {e.paper_id for e in entries} == {
        pid for pid, p in retriever.papers.items() if p.date == "Mar 13"
    }
    assert len(entries) == d.papers == MAR_13
    assert {e.dated_by for e in entries} == {"page"}
    assert {e.date[5:] for e in entries} == {"03-13"}
    papers = retriever.papers
    lmap = library_map(retriever)
    for g in d.groups:
        for e in g.entries:
            assert lmap.topic(e.paper_id).label == g.topic  # grouped by the map's topics
            assert e.gist in papers[e.paper_id].abstract  # extractive: one of its own sentences
            assert e.related, e.title
            # Earlier: Mar 11 is the only dated page before Mar 13.
            assert all(r.date < e.date for r in e.related)
            assert all(r.date[5:] == "03-11" for r in e.related)
    sizes = [len(g.entries) for g in d.groups]
    assert sizes == sorted(sizes, reverse=True)
    # No gist leans on a sentence it leaves out (with the plain centroid rule: 46 of 199 did,
    # from Mar 11 on).
    assert not [e.gist for e in entries if _LEANING.match(e.gist)]


def test_digest_since_a_day_covers_every_later_page_and_says_how_undated_papers_are_dated(
    retriever,
) -> None:
    d = digest(retriever, since="Mar 12")
    entries = _entries(d)
    by_origin = {o: [e for e in entries if e.dated_by == o] for o in ("page", "ingest")}
    papers = retriever.papers
    assert {e.paper_id for e in by_origin["page"]} == {
        pid for pid, p in papers.items() if p.date in ("Mar 13", "Mar 14")
    }
    # The page without a date heading is dated by the day it was ingested (today, in a test).
    assert {e.paper_id for e in by_origin["ingest"]} == {
        pid for pid, p in papers.items() if not p.date
    }
    assert {e.date for e in by_origin["ingest"]} == {dt.datetime.now(dt.UTC).date().isoformat()}
    text = d.to_markdown()
    assert "dated by the day they were ingested" in text
    assert f"{by_origin['ingest'][0].date}, dated by ingest time" in text


def test_digest_without_a_date_shows_the_newest_day(retriever) -> None:
    d = digest(retriever)
    assert d.start == d.end == dt.datetime.now(dt.UTC).date().isoformat()
    assert d.papers == sum(1 for p in retriever.papers.values() if not p.date)


def test_paperlens_digest_prints_the_page_and_refuses_bad_dates_in_one_line(
    bundled_library, monkeypatch, capsys
) -> None:
    from paperlens.cli import main

    settings, _ = bundled_library
    monkeypatch.setenv("PAPERLENS_DATA_DIR", str(settings.data_dir))
    assert main(["digest", "--date", "Mar 11"]) == 0
    out = capsys.readouterr().out
    n = sum(1 for p in Library(settings).papers().values() if p.date == "Mar 11")
    assert out.startswith(f"## What's new: Mar 11 ({n} papers, ")
    assert "relates to earlier: none in the library before this date" in out  # the first page

    assert main(["digest", "--since", "2026-02-30"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "paperlens: Cannot read the date '2026-02-30': use YYYY-MM-DD, 'Mar 13' or "
        "'Mar 13, 2024'.\n"
    )


def test_a_bad_date_is_reported_before_the_library_is_opened(capsys) -> None:
    from paperlens.cli import main

    assert main(["digest", "--date", "Mar 32"]) == 1  # this test's library is empty
    assert capsys.readouterr().err == (
        "paperlens: Cannot read the date 'Mar 32': use YYYY-MM-DD, 'Mar 13' or 'Mar 13, 2024'.\n"
    )
