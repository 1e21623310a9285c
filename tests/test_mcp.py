"""`paperlens mcp` through the official MCP SDK's own client: the real command started as a
subprocess over stdio, and over streamable HTTP on 127.0.0.1 (started here, stopped by its
PID), with the web UI's basic auth. Every tool is called, malformed calls come back as tool
errors without stopping the server, and 8 calls run at once. Real bundled model, embedded
Chroma, a PDF made with reportlab.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_pdf import SECTIONS, make_paper_pdf
from test_related import SPEC_TOPIC, SPECTR

from assistant.core.settings import OFFLINE_ENV, Settings
from ingest import ingest, paper_id

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE_DATA = Path(__file__).resolve().parent / "data"
TREES = paper_id("Speculative Decoding with Draft Trees")
PDF_TITLE = "Sparse Retrieval Heads for Long Document Reading"
QUESTION = "Which papers study speculative decoding?"
TOOLS = {"search_papers", "ask", "get_paper", "related_papers", "library_stats"}
USER, PASSWORD = "reader", "s3cret-words"

mcp = pytest.importorskip("mcp")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """A small library: four abstracts with BibTeX metadata and one PDF; its data dir."""
    folder = tmp_path_factory.mktemp("mcp-corpus")
    shutil.copy(FIXTURE_DATA / "bib_papers.jsonl", folder / "bib_papers.jsonl")
    shutil.copy(FIXTURE_DATA / "bib_refs.bib", folder / "bib_refs.bib")
    make_paper_pdf(folder / "heads.pdf", title=PDF_TITLE)
    data = tmp_path_factory.mktemp("mcp-data")
    report = ingest([folder], Settings(data_dir=data), embedder=embedder)
    assert TREES in report.added and paper_id(PDF_TITLE) in report.added
    return data


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERLENS_", "OPENAI_"))}
    env.update(OFFLINE_ENV)
    env.update(PAPERLENS_DATA_DIR=str(data), **extra)
    return env


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data = result.structured_content
    assert isinstance(data, dict)
    return data


def _error_text(result: Any) -> str:
    assert result.is_error
    return " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def _exercise(client: Any) -> None:
    """List the tools and call each, well and badly; the server must keep answering."""
    listed = await client.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    for tool in listed.tools:
        assert len(tool.description or "") > 80  # written for a model to choose by
    search = next(t for t in listed.tools if t.name == "search_papers")
    assert {"query", "k", "filters"} <= set(search.input_schema["properties"])

    found = _structured(
        await client.call_tool(
            "search_papers", {"query": "speculative decoding draft tree", "k": 3}
        )
    )
    top = found["results"][0]
    assert top["paper_id"] == TREES and top["relevant"] is True
    assert "draft" in top["sentence"].lower() and top["year"] == 2024
    assert len(found["results"]) <= 3
    only_2023 = _structured(
        await client.call_tool(
            "search_papers",
            {"query": "speculative decoding", "filters": {"year_from": 2023, "year_to": 2023}},
        )
    )
    assert TREES not in {r["paper_id"] for r in only_2023["results"]}

    answer = _structured(
        await client.call_tool("ask", {"question": QUESTION, "mode": "extractive"})
    )
    assert answer["answerable"] is True and answer["mode"] == "extractive"
    assert TREES in {c["paper_id"] for c in answer["citations"]}
    for c in answer["citations"]:
        assert c["quote"] and c["end"] > c["start"] and f"[{c['n']}]" in answer["text"]
    cited = {c["paper_id"] for c in answer["citations"]}
    assert cited <= {s["paper_id"] for s in answer["sources"]}

    pdf = _structured(await client.call_tool("get_paper", {"paper_id": paper_id(PDF_TITLE)}))
    assert pdf["title"] == PDF_TITLE and pdf["full_text"] is True
    assert [s["heading"] for s in pdf["sections"]] == [h for h, _ in SECTIONS]
    method = next(s for s in pdf["sections"] if s["heading"] == "2 Method")
    assert method["text"].startswith("Each retrieval head scores passages")
    assert "contrastive objective" in method["text"]
    plain = _structured(await client.call_tool("get_paper", {"paper_id": TREES}))
    assert plain["authors"] == ["Ada Lovelace", "Charles Babbage"] and plain["sections"] == []

    await _check_related(client, TREES, 2)

    stats = _structured(await client.call_tool("library_stats", {}))
    assert stats["papers"] == 5 and stats["full_text_papers"] == 1
    assert stats["years"] == {"from": 2022, "to": 2024}

    resource = await client.read_resource(f"paper://{TREES}")
    assert json.loads(resource.contents[0].text)["title"] == "Speculative Decoding with Draft Trees"

    # Malformed calls: a tool error naming the problem, and the server carries on.
    assert "k" in _error_text(await client.call_tool("search_papers", {"query": "x", "k": 0}))
    # The SDK puts "Error executing tool <name>: " before the tool's own message.
    assert _error_text(await client.call_tool("get_paper", {"paper_id": "nope"})) == (
        "Error executing tool get_paper: No paper with id 'nope' in the library - use an id "
        "returned by search_papers or ask (paper_id)."
    )
    assert "mode" in _error_text(
        await client.call_tool("ask", {"question": QUESTION, "mode": "poetry"})
    )
    assert "colour" in _error_text(
        await client.call_tool("search_papers", {"query": "x", "filters": {"colour": "red"}})
    )
    assert _error_text(await client.call_tool("search_papers", {"query": "   "})) == (
        "Error executing tool search_papers: query is empty - pass the words to search for, "
        "e.g. 'speculative decoding'."
    )
    assert "question" in _error_text(await client.call_tool("ask", {}))
    assert "k" in _error_text(await client.call_tool("related_papers", {"paper_id": TREES, "k": 0}))
    assert _error_text(await client.call_tool("related_papers", {"paper_id": "nope"})) == (
        "Error executing tool related_papers: No paper with id 'nope' in the library - use an id "
        "returned by search_papers or ask (paper_id), an arXiv id, a DOI or words of its title."
    )
    assert _structured(await client.call_tool("library_stats", {}))["papers"] == 5


async def _check_related(client: Any, paper: str, k: int) -> list[dict[str, Any]]:
    """related_papers for ``paper``: k others, best first, each link a sentence of each
    abstract at its offsets (read back through get_paper); the results."""
    got = _structured(await client.call_tool("related_papers", {"paper_id": paper, "k": k}))
    results = got["results"]
    own = _structured(await client.call_tool("get_paper", {"paper_id": paper}))
    assert got["paper_id"] == paper and got["title"] == own["title"]
    ids = [r["paper_id"] for r in results]
    assert len(ids) == k and len(set(ids)) == k and paper not in ids
    assert [r["rank"] for r in results] == list(range(1, k + 1))
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    for r in results:
        other = _structured(await client.call_tool("get_paper", {"paper_id": r["paper_id"]}))
        assert r["title"] == other["title"]
        assert other["abstract"][r["start"] : r["end"]] == r["sentence"] != ""
        assert own["abstract"][r["anchor_start"] : r["anchor_end"]] == r["anchor"] != ""
    return results


@pytest.mark.slow
def test_stdio_server_lists_tools_and_answers_each_call(library: Path) -> None:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "paperlens", "mcp"],
        env=_env(library),
        cwd=str(REPO_ROOT),
    )

    async def main() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            await _exercise(client)

    asyncio.run(main())


def test_stdio_related_papers_over_the_bundled_library(bundled_library) -> None:
    """SpecTr's neighbours through the protocol are the other speculative-decoding papers,
    found by id and by title words alike."""
    from mcp import Client, StdioServerParameters

    settings, _ = bundled_library
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "paperlens", "mcp"],
        env=_env(settings.data_dir),
        cwd=str(REPO_ROOT),
    )

    async def main() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            results = await _check_related(client, SPECTR, 5)
            ids = {r["paper_id"] for r in results}
            assert len(SPEC_TOPIC & ids) >= 4, [r["title"] for r in results]
            title = "SpecTr: Fast Speculative Decoding via Optimal Transport"
            by_title = _structured(await client.call_tool("related_papers", {"paper_id": title}))
            assert by_title["paper_id"] == SPECTR
            assert [r["paper_id"] for r in by_title["results"]] == [r["paper_id"] for r in results]
            # Words that name several papers: the error lists ids to choose from.
            assert re.match(
                r"Error executing tool related_papers: \d+ papers match 'speculative decoding' - "
                r"give one id, e\.g\. p[0-9a-f]{12} \(",
                _error_text(
                    await client.call_tool("related_papers", {"paper_id": "speculative decoding"})
                ),
            )

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server(library: Path) -> Iterator[str]:
    """`paperlens mcp --http` on a free 127.0.0.1 port with basic auth; stopped by its PID."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperlens", "mcp", "--http", "--port", str(port)],
        env=_env(library, PAPERLENS_UI__AUTH_USER=USER, PAPERLENS_UI__AUTH_PASSWORD=PASSWORD),
        cwd=str(REPO_ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the MCP HTTP server did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _auth_header() -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}


@pytest.mark.slow
def test_http_server_needs_the_ui_password_and_serves_8_concurrent_calls(http_server: str) -> None:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    for headers in ({}, {"Authorization": "Basic " + "cmVhZGVyOndyb25n"}):  # none; reader:wrong
        request = urllib.request.Request(http_server, data=b"{}", method="POST", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401

    questions = [
        QUESTION,
        "How are attention kernels quantized?",
        "What do sparse retrieval heads select?",
        "Which papers use curriculum sampling?",
    ]

    async def main() -> None:
        async with (
            create_mcp_http_client(headers=_auth_header()) as http,
            Client(
                streamable_http_client(http_server, http_client=http), read_timeout_seconds=120
            ) as client,
        ):
            await _exercise(client)
            alone = [
                _structured(await client.call_tool("ask", {"question": q, "mode": "extractive"}))
                for q in questions
            ]
            calls = [
                client.call_tool("ask", {"question": q, "mode": "extractive"}) for q in questions
            ]
            calls += [client.call_tool("search_papers", {"query": q, "k": 5}) for q in questions]
            together = [_structured(r) for r in await asyncio.gather(*calls)]
            # Side by side, each call gets the answer it gets alone: no shared conversation.
            assert [a["text"] for a in together[:4]] == [a["text"] for a in alone]
            assert [a["question"] for a in together[:4]] == questions
            assert [r["query"] for r in together[4:]] == questions
            assert together[4]["results"][0]["paper_id"] == TREES

    asyncio.run(main())


def test_http_beyond_this_machine_needs_the_ui_password() -> None:
    from assistant.core.errors import ConfigError
    from paperlens.mcp_server import serve

    with pytest.raises(ConfigError) as refused:
        serve("http", host="0.0.0.0", settings=Settings())
    assert str(refused.value) == (
        "Serving MCP on 0.0.0.0 would open the library to the network without a password - "
        "set PAPERLENS_UI__AUTH_USER and PAPERLENS_UI__AUTH_PASSWORD, or use --host 127.0.0.1."
    )
