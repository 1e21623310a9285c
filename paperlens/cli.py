"""`paperlens` command line: ingest, library, remove, ask, related, map, digest, eval.

Heavy modules are imported inside the commands, so `paperlens --help` starts fast.
Errors become one line on stderr and a non-zero exit code here, and only here.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import logging
import os
import sys
from typing import Any

EXIT_ERROR = 1
EXIT_USAGE = 2


def _offline_env() -> None:
    from assistant import OFFLINE_ENV

    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def _cmd_ingest(args: argparse.Namespace) -> int:
    from assistant import get_settings
    from ingest import Progress, ingest

    settings = get_settings()
    bar: Any = None

    def progress(p: Progress) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm  # only when there is something to embed

            bar = tqdm(total=p.papers_total, unit="paper", desc="embedding", disable=args.quiet)
        bar.update(p.papers_done - bar.n)
        rate = p.chunks_done / p.seconds if p.seconds else 0.0
        bar.set_postfix(chunks=p.chunks_done, chunks_per_s=f"{rate:.1f}")

    report = ingest(args.paths, settings, progress=progress)
    if bar is not None:
        bar.close()
    for path, reason in report.skipped:
        print(f"skipped: {path}: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
        print(f"library: {settings.store_location}")
    nothing = report.files_read == 0 and not (report.added or report.updated or report.unchanged)
    return EXIT_ERROR if nothing else 0


def _cmd_library(args: argparse.Namespace) -> int:
    from assistant import Library, get_settings

    settings = get_settings()
    stats = Library(settings).stats()
    if args.json:
        print(json.dumps(stats.to_dict(), indent=2))
        return 0
    print(f"papers:     {stats.papers}")
    print(f"chunks:     {stats.chunks}")
    print(f"sentences:  {stats.sentences}")
    print(f"model:      {stats.model}")
    print(f"location:   {stats.location}")
    print(f"collection: {stats.collection}")
    print("sources:")
    for name, count in stats.sources.items():
        print(f"  {name}: {count} papers")
    if stats.flagged:
        print(
            f"flagged:    {len(stats.flagged)} papers carry text aimed at AI readers "
            "(kept; those sentences are never used as evidence)"
        )
        for pid, title in stats.flagged.items():
            print(f"  {pid}: {title}")
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    from ingest import remove

    if not args.ids and not args.source:
        print("paperlens remove: give paper ids or --source FILE", file=sys.stderr)
        return EXIT_USAGE
    removed = remove(args.ids, sources=args.source or ())
    print(f"removed {len(removed)} papers")
    missing = [pid for pid in args.ids if pid not in removed]
    for pid in missing:
        print(f"not in the library: {pid}", file=sys.stderr)
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from assistant import Assistant, export_answer
    from paperlens.cli_format import format_sources

    if args.out and not args.export:
        print("paperlens ask: --out needs --export bib|ris|csl|md", file=sys.stderr)
        return EXIT_USAGE
    question = " ".join(args.question)
    options: dict[str, Any] = {}
    if args.mode:
        options["mode"] = args.mode
    with Assistant() as bot:
        answer = bot.ask(question, **options)
        papers = bot.papers() if args.export else None
    if args.export:
        text = export_answer(answer, args.export, papers)
        if args.out:
            from pathlib import Path

            Path(args.out).write_text(text, encoding="utf-8")
            cited = len({c.paper_id for c in answer.citations if c.tier != "second"})
            print(f"wrote {args.out}: {cited} cited papers", file=sys.stderr)
        else:
            print(text, end="")
            return 0
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return 0
    for notice in answer.notices:
        print(f"note: {notice}", file=sys.stderr)
    print(answer.text)
    listing = format_sources(answer)
    if listing:
        print()
        print(listing)
    return 0


def _assistant() -> Any:
    """The loaded library for the commands that read it whole (map, digest, related)."""
    from assistant import Assistant, LibraryEmptyError

    bot = Assistant()
    if not bot.papers():
        raise LibraryEmptyError(str(bot.settings.store_location))
    return bot


def _cmd_map(args: argparse.Namespace) -> int:
    from assistant import render_png

    lmap = _assistant().library_map()
    path = render_png(lmap, args.out, highlight=args.highlight or ())
    if args.json:
        print(json.dumps(lmap.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(f"wrote {path}: {len(lmap.paper_ids)} papers in {len(lmap.topics)} topics")
    for t in lmap.topics:
        print(f"  {len(t.paper_ids):4d}  {t.label}")
    return 0


def _cmd_digest(args: argparse.Namespace) -> int:
    from assistant import parse_date

    for text in (args.date, args.since, args.until):  # before opening the library
        if text:
            parse_date(text)
    got = _assistant().digest(date=args.date, since=args.since, until=args.until)
    if args.json:
        print(json.dumps(got.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(got.to_markdown(), end="")
    return 0


def _cmd_related(args: argparse.Namespace) -> int:
    from assistant import resolve_paper

    bot = _assistant()
    paper = resolve_paper(bot.papers(), " ".join(args.paper))
    got = bot.related(paper.id, args.k)
    if args.json:
        print(
            json.dumps(
                {"paper_id": paper.id, "title": paper.title, "related": [r.to_dict() for r in got]},
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    print(f"{paper.title} ({paper.id})")
    for i, r in enumerate(got, 1):
        print(f"{i}. {r.title} ({r.paper_id}, similarity {r.score:.2f})")
        if r.sentence:
            print(f"   it says:   {r.sentence}")
            print(f"   echoing:   {r.anchor}")
    if not got:
        print("no other paper in the library to relate it to")
    return 0


def _cmd_mcp(args: argparse.Namespace) -> int:
    from paperlens.mcp_server import serve

    serve("http" if args.http else "stdio", host=args.host, port=args.port)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from evals.runner import main as eval_main

    return eval_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperlens",
        description="Grounded, cited answers over your library of research papers.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    _library_commands(sub)
    _reading_commands(sub)
    _service_commands(sub)
    return parser


def _library_commands(sub: Any) -> None:
    """ingest, library, remove: what the library holds."""
    p = sub.add_parser("ingest", help="add papers from files or folders")
    p.add_argument(
        "paths",
        nargs="+",
        help="files or folders (.txt .md .json .jsonl .pdf, "
        ".bib with its attached PDFs, a Zotero data folder)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser("library", help="show what the library holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_library)

    p = sub.add_parser("remove", help="delete papers by id or by source file")
    p.add_argument("ids", nargs="*", help="paper ids (as shown by 'paperlens ask --json')")
    p.add_argument(
        "--source", action="append", help="remove the papers that came only from this file"
    )
    p.set_defaults(func=_cmd_remove)


def _reading_commands(sub: Any) -> None:
    """ask, related, map, digest: reading the library."""
    p = sub.add_parser("ask", help="ask a question about the library")
    p.add_argument("question", nargs="+")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.add_argument("--mode", choices=["extractive", "llm"], help="force an answerer")
    p.add_argument(
        "--export",
        choices=["bib", "bibtex", "ris", "csl", "csl-json", "md", "markdown"],
        help="print the cited papers for a reference manager instead of the answer",
    )
    p.add_argument(
        "--out", metavar="FILE", help="with --export: write it to FILE and print the answer"
    )
    p.set_defaults(func=_cmd_ask)

    p = sub.add_parser(
        "related", help="the library's papers closest to one paper, and what links them"
    )
    p.add_argument("paper", nargs="+", help="a paper id, arXiv id, DOI or words of its title")
    p.add_argument("-k", type=int, default=5, help="how many (default 5)")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.set_defaults(func=_cmd_related)

    p = sub.add_parser("map", help="draw the library as a map of topics (PNG)")
    p.add_argument("--out", default="map.png", help="PNG file to write (default map.png)")
    p.add_argument(
        "--highlight", action="append", metavar="ID", help="paper id to mark (repeatable)"
    )
    p.add_argument(
        "--json", action="store_true", help="also print the map (points, topics) as JSON"
    )
    p.set_defaults(func=_cmd_map)

    p = sub.add_parser("digest", help="what's new: the papers of a day or period, by topic")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--date", help="one day: YYYY-MM-DD or 'Mar 13' (default: the newest day)")
    when.add_argument("--since", help="from this day on: YYYY-MM-DD or 'Mar 13'")
    p.add_argument("--until", help="with --since: up to this day (default: the newest)")
    p.add_argument("--json", action="store_true", help="print the digest as JSON")
    p.set_defaults(func=_cmd_digest)


def _service_commands(sub: Any) -> None:
    """mcp, eval: serving the library to agents, and measuring it."""
    p = sub.add_parser("mcp", help="serve the library as MCP tools (stdio, or --http)")
    p.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    p.set_defaults(func=_cmd_mcp)

    p = sub.add_parser("eval", help="run the offline eval set and write a report")
    p.add_argument("--set", dest="set_path", help="questions JSONL (default: the bundled set)")
    p.add_argument("--mode", choices=["extractive", "llm"], default="extractive")
    p.add_argument("--judge", choices=["offline", "llm"], default="offline")
    p.add_argument("--out", default="artifacts/eval", help="output folder")
    p.add_argument("--no-baseline", action="store_true", help="skip the plain llama-index baseline")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--split", choices=["tune", "test"], help="only one half of the set")
    p.set_defaults(func=_cmd_eval)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `paperlens` console script."""
    args = build_parser().parse_args(argv)
    # At exit the interpreter's garbage collector walks every object chromadb, pydantic
    # and torch created (~0.2 s of a 2 s `paperlens ingest` of an unchanged library);
    # freezing them skips that walk. Memory goes back to the OS with the process anyway.
    atexit.register(gc.freeze)
    _offline_env()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from assistant import PaperLensError

    try:
        return int(args.func(args))
    except PaperLensError as exc:
        print(f"paperlens: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"paperlens: interrupted - {_after_interrupt(args)}", file=sys.stderr)
        return 130


def _after_interrupt(args: argparse.Namespace) -> str:
    """What an interrupted command left: ingest resumes on a re-run, an eval starts over."""
    if getattr(args, "command", None) == "eval":
        out = getattr(args, "out", None) or "the output folder"
        return (
            f"the questions scored so far are in {out}/records.jsonl; a re-run starts the eval over"
        )
    return "re-run the same command to finish; nothing is duplicated"
