"""Run every benchmark, each in its own process, and summarise: `make bench`.

Writes OUT/<benchmark>.json per part and OUT/summary.json, and prints a compact table of
the headline figures with their targets. Parts share OUT/work/ (the bundled library is
embedded once, by ingest_throughput). The scale benchmark goes last and gets the time
left of --budget-s (within SCALE_BUDGET_S), so the whole run stays near it on 2 cores.

Each part has its own time budget (``PAPERLENS_BENCH_BUDGET_S`` in its environment): a
part that runs out stops measuring, reports the size it reached and is "partial" - in the
table (its rows are marked), in summary.json (``parts.NAME.status``), never a failure. A
part still running at its hard limit (`hard_limit`: the budget and a quarter more, at
least 60 s) is stopped; it is partial too, with nothing reported. Only a part that
errors (a non-zero exit) fails the run (exit 1). The big scale tier is `make bench-scale`
(benchmarks/scale.py --server), not part of this run.

Usage: python -m benchmarks.run_all --out artifacts/bench [--budget-s 900] [--only a,b]
       [--part-budget server_latency=60 ...]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import BUDGET_ENV, OFFLINE_ENV, REPO, describe, load_avg, machine

# (name, extra arguments, time budget in seconds)
PARTS: list[tuple[str, list[str], int]] = [
    ("ingest_throughput", ["--reference-papers", "160"], 900),
    ("query_latency", ["--rounds", "1"], 300),
    ("server_latency", ["--rounds", "1"], 300),
    ("cold_start", ["--repeats", "2"], 300),
    ("pdf_extraction", ["--papers", "8", "--pages", "6"], 180),
    ("export_related", [], 300),
    ("map_build", ["--scale-papers", "1000"], 300),
    # The first real PDFs by name up to 200 pages (11 of 41, ~4 min on 2 shared cores):
    # all 751 pages take ~15 min there, as paperlens embeds every word of them.
    ("real_pdf_ingest", ["--pages", "200"], 600),
    ("scale", [], 900),
]
SCALE_RESERVE_S = 30  # kept back from scale's budget for its probes' overrun and the summary
SCALE_BUDGET_S = (240, 900)  # its 1k tier is always measured: at least this, at most that


def hard_limit(budget_s: int) -> int:
    """When a part still running past its budget is stopped: a quarter later, >= 60 s."""
    return budget_s + max(60, budget_s // 4)


def child_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PAPERLENS_") and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    env.update(OFFLINE_ENV)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_part(name: str, extra: list[str], budget: int, out: Path) -> dict[str, Any]:
    """Run one part in its own process within ``budget`` seconds; its status is "ok",
    "partial" (ran out of its budget: fewer samples or a smaller size, said in the result;
    or stopped at the hard limit with nothing reported), "failed" or "skipped"."""
    if name == "pdf_extraction":
        script = REPO / "benchmarks" / "pdf_extraction.py"
        missing = [m for m in ("reportlab", "pypdf") if importlib.util.find_spec(m) is None]
        if not script.exists() or missing:
            why = (
                "benchmarks/pdf_extraction.py is missing"
                if not script.exists()
                else f"missing {missing}"
            )
            print(f"== {name}: skipped ({why})")
            return {"rc": None, "skipped": why, "status": "skipped"}
        cmd = [sys.executable, str(script), *extra, "--out", str(out / f"{name}.json")]
    else:
        cmd = [sys.executable, "-m", f"benchmarks.{name}", *extra, "--out", str(out)]
    path = out / f"{name}.json"
    path.unlink(missing_ok=True)  # a stale result of an earlier run must not be read as this one's
    env = {**child_env(), BUDGET_ENV: str(budget)}
    limit = hard_limit(budget)
    t = time.perf_counter()
    # Its own process group, so that stopping it stops what it started (probes, servers
    # in their own sessions stop on the SIGTERM that `Run` turns into SystemExit).
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True)
    rc: int | None
    try:
        rc = proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        rc = None
        print(f"== {name}: stopped at its hard limit, {limit}s (budget {budget}s): partial")
        _stop_group(proc)
    except KeyboardInterrupt:  # its own session: Ctrl-C does not reach it
        _stop_group(proc)
        raise
    seconds = round(time.perf_counter() - t, 1)
    part: dict[str, Any] = {"rc": rc, "seconds": seconds, "budget_s": budget}
    if rc == 0 and path.exists():
        part["result"] = json.loads(path.read_text(encoding="utf-8"))
    if rc is None:
        part["status"] = "partial"
        part["partial"] = {
            "reached": "nothing reported",
            "asked": "the whole part",
            "reason": f"stopped at its hard limit of {limit}s (budget {budget}s)",
        }
    elif rc != 0:
        part["status"] = "failed"
    elif "partial" in part.get("result", {}):
        part["status"] = "partial"
        part["partial"] = part["result"]["partial"]
    else:
        part["status"] = "ok"
    return part


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the part's process group, SIGKILL it 20 s later if it is still there."""
    for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


# add(label, value, target="", met=None): one row of the table.
Add = Callable[..., None]


def table(parts: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, met) rows from the parts' results."""
    rows: list[tuple[str, str, str, str]] = []
    suffix = ""  # " (partial)" on every row of a partial part

    def add(label: str, value: Any, tgt: str = "", met: bool | None = None) -> None:
        mark = "" if met is None and not tgt else {True: "yes", False: "NO", None: "n/a"}[met]
        rows.append((label + suffix, _fmt(value), tgt, mark))

    for name, rows_of in _PARTS:
        part = parts.get(name, {})
        r = part.get("result")
        p = part.get("partial")
        suffix = ""
        if p:
            add(f"{name}: PARTIAL, measured", f"{p['reached']} of {p['asked']}")
            suffix = " (partial)"
        if r:
            try:
                rows_of(r, add)
            except (KeyError, TypeError, ValueError):  # a partial part may lack a figure
                add(f"{name}: figures", "incomplete (see its JSON)")
    return rows


def _ingest_throughput(r: dict[str, Any], add: Add) -> None:
    t = r["targets"]
    add("ingest from empty: papers/s", r["paperlens"]["papers_per_s"])
    add("ingest from empty: chunks/s", r["paperlens"]["chunks_per_s"])
    add("raw SentenceTransformer.encode: chunks/s", r["raw_encode"]["chunks_per_s"])
    add(
        "ingest / raw encode (chunks/s)",
        t["ours_over_raw_encode"]["value"],
        t["ours_over_raw_encode"]["target"],
        t["ours_over_raw_encode"]["met"],
    )
    if r.get("llama_index"):
        add("llama-index ingest: papers/s", r["llama_index"]["papers_per_s"])
        add(
            "ingest / llama-index (papers/s)",
            t["ours_over_llama_index"]["value"],
            t["ours_over_llama_index"]["target"],
            t["ours_over_llama_index"]["met"],
        )
    for k, label in (
        ("reingest_in_process_s", "re-ingest unchanged, in-process (s)"),
        ("reingest_cli_s", "re-ingest unchanged, `paperlens ingest` (s)"),
    ):
        add(label, t[k]["value"], t[k]["target"], t[k]["met"])
    add("model load, not counted above (s)", r["model_load_s"])


def _query_latency(r: dict[str, Any], add: Add) -> None:
    t = r["targets"]
    add(
        "retrieve p50 / p95 (ms)",
        f"{r['retrieve']['p50']:.1f} / {r['retrieve']['p95']:.1f}",
        t["retrieve_p50_ms"]["target"] + " (p50)",
        t["retrieve_p50_ms"]["met"],
    )
    add(
        "ask (extractive) p50 / p95 (ms)",
        f"{r['ask']['p50']:.1f} / {r['ask']['p95']:.1f}",
        t["ask_p50_ms"]["target"] + " (p50)",
        t["ask_p50_ms"]["met"],
    )
    add(
        "llama-index retrieve top-10 p50 / p95 (ms)",
        f"{r['llama_index']['p50']:.1f} / {r['llama_index']['p95']:.1f}",
    )
    add("retrieve / llama-index (p50)", r["ratios"]["retrieve_over_llama_index_p50"])
    add("question embedding share of ask", r["ratios"]["embed_share_of_ask"])


def _server_latency(r: dict[str, Any], add: Add) -> None:
    add(
        "Chroma server / embedded, retrieve p50",
        r["ratios"]["server_over_embedded_retrieve_p50"],
    )
    add("Chroma server / embedded, ask p50", r["ratios"]["server_over_embedded_ask_p50"])
    add(
        "store-query path / in-memory, retrieve p50",
        r["ratios"]["store_query_over_in_memory_retrieve_p50"],
    )


def _cold_start(r: dict[str, Any], add: Add) -> None:
    t = r["targets"]
    add(
        "`paperlens --help` (s)",
        r["help"]["median_s"],
        t["help_s"]["target"],
        t["help_s"]["met"],
    )
    add("`python -c 'import assistant'` (s)", r["import_assistant"]["median_s"])
    add(
        "cold `paperlens ask` (s) / peak RSS (MB)",
        f"{r['ask']['median_s']:.2f} / {r['ask']['peak_rss_mb']:.0f}",
        t["cold_ask_s"]["target"] + " (s)",
        t["cold_ask_s"]["met"],
    )
    first = r["app_first_answer"]
    if "first_over_later" in first["model_only"]:
        add(
            "app's first answer / later ones, model loaded only (baseline)",
            first["model_only"]["first_over_later"],
        )
    w = t["app_first_answer_over_later_warmed"]
    add("app's first answer / later ones, after the warm-up", w["value"], w["target"], w["met"])
    h = t["no_torch_chromadb_gradio_on_import_or_help"]
    add(
        "torch/chromadb/gradio on import or --help",
        "none" if h["met"] else h["value"],
        "none",
        h["met"],
    )


def _pdf_extraction(r: dict[str, Any], add: Add) -> None:
    for res in r.get("results", []):
        add(f"PDF {res['extractor']}: pages/s", res["pages_per_s"])


def _export_related(r: dict[str, Any], add: Add) -> None:
    t = r["targets"]
    add(
        f"export {r['export_papers']} papers, slowest format p50 (ms)",
        t["export_50_papers_p50_ms"]["value"],
        t["export_50_papers_p50_ms"]["target"],
        t["export_50_papers_p50_ms"]["met"],
    )
    add(
        "related papers (k=5) p50 / p95 (ms)",
        f"{r['related']['p50']:.1f} / {r['related']['p95']:.1f}",
        t["related_p50_ms"]["target"] + " (p50)",
        t["related_p50_ms"]["met"],
    )
    add("related, first call of a library version (ms)", r["related_first_ms"])
    add("related from the store (no vectors in memory) p50 (ms)", r["related_store"]["p50"])


def _map_build(r: dict[str, Any], add: Add) -> None:
    t = r["targets"]
    add(
        f"library map of {r['cold']['papers']} papers, cold build + SVG (s)",
        t["map_cold_s"]["value"],
        t["map_cold_s"]["target"],
        t["map_cold_s"]["met"],
    )
    add(
        "library map from its disk cache (s) / PNG (s)",
        f"{r['cached']['map_s']:.3f} / {r['cold']['png_s']:.2f}",
    )
    for s in r.get("scale", []):
        add(f"library map of {s['papers']} synthetic papers, build (s)", s["build_s"])


def _real_pdf_ingest(r: dict[str, Any], add: Add) -> None:
    if r.get("skipped"):
        add("real PDFs ingest", f"skipped: {r['skipped']}")
        return
    c, ours = r["corpus"], r["paperlens"]
    where = f"{c['pages']} real PDF pages"
    add(f"{where}: paperlens read (parse_file) pages/s", ours["read"]["pages_per_s"])
    add(
        f"{where}: paperlens ingest pages/s / chunks/s",
        f"{ours['ingest']['pages_per_s']:.2f} / {ours['ingest']['chunks_per_s']:.1f}",
    )
    add(f"{where}: paperlens ingest peak RSS (MB)", ours["ingest"]["peak_rss_mb"])
    li = r.get("llama_index", {})
    if li.get("ingest"):
        add(f"{where}: llama-index read pages/s", li["read"]["pages_per_s"])
        add(
            f"{where}: llama-index ingest pages/s / nodes/s",
            f"{li['ingest']['pages_per_s']:.2f} / {li['ingest']['chunks_per_s']:.1f}",
        )
        add("real PDFs ingest / llama-index (pages/s)", r["ratios"]["ingest_pages_per_s"])
        add(
            "real PDFs ingest / llama-index (word pieces/s)",
            r["ratios"]["ingest_word_pieces_per_s"],
        )


def _scale(r: dict[str, Any], add: Add) -> None:
    for tier in r["tiers"]:
        add(
            f"{tier['chunks']} chunks: retrieve p50 / p95 (ms)",
            f"{tier['retrieve_encoded_ms']['p50']:.1f} / {tier['retrieve_encoded_ms']['p95']:.1f}",
        )
        add(
            f"{tier['chunks']} chunks: BM25 build / update (s)",
            f"{tier['bm25_build_s']} / {tier['update_write_s'] + tier['update_refresh_s']:.1f}",
        )
        add(
            f"{tier['chunks']} chunks: library RSS / peak (MB), disk (MB)",
            f"{tier['library_rss_mb']:.0f} / {tier['peak_rss_mb']:.0f}, {tier['chroma_mb']:.0f}",
        )
        if "app_rss_mb" in tier:
            add(
                f"{tier['chunks']} chunks: extractive ask p95 (ms) / app RSS (MB)",
                f"{tier['ask_extractive_ms'].get('p95', 0):.1f} / {tier['app_rss_mb']:.0f}",
            )
    if r.get("failure"):
        f = r["failure"]
        add(
            f"{f['target_chunks']} chunks: library fails to load",
            f["error"][:60],
            "loads",
            False,
        )
    for k, t in r["targets"].items():
        label = k.replace("_", " ") + (f" [{t['basis']}]" if t.get("basis") else "")
        add(label, t["value"], t["target"], t["met"])


_PARTS: list[tuple[str, Callable[[dict[str, Any], Add], None]]] = [
    ("ingest_throughput", _ingest_throughput),
    ("query_latency", _query_latency),
    ("server_latency", _server_latency),
    ("cold_start", _cold_start),
    ("pdf_extraction", _pdf_extraction),
    ("export_related", _export_related),
    ("map_build", _map_build),
    ("real_pdf_ingest", _real_pdf_ingest),
    ("scale", _scale),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("artifacts/bench"))
    ap.add_argument("--budget-s", type=float, default=900, help="time for the whole run")
    ap.add_argument("--only", help="comma-separated parts to run")
    ap.add_argument(
        "--part-budget",
        action="append",
        default=[],
        metavar="NAME=SECONDS",
        help="another time budget for one part (repeatable)",
    )
    args = ap.parse_args(argv)
    budgets = {k: int(v) for k, _, v in (b.partition("=") for b in args.part_budget)}
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    m = machine()
    print(f"paperlens benchmarks on {describe(m)}", flush=True)
    only = set(args.only.split(",")) if args.only else None
    parts: dict[str, dict[str, Any]] = {}
    for name, extra, budget in PARTS:
        if only and name not in only:
            continue
        if name == "scale":
            left = args.budget_s - (time.perf_counter() - t0) - SCALE_RESERVE_S
            budget = min(max(SCALE_BUDGET_S[0], int(left)), SCALE_BUDGET_S[1])
            budget = budgets.get(name, budget)
            extra = [*extra, "--budget-s", str(budget)]
        parts[name] = run_part(name, extra, budgets.get(name, budget), out)
    total = round(time.perf_counter() - t0, 1)
    rows = table(parts)
    summary = {
        "machine": m,
        "load_avg_start": m["load_avg"],
        "load_avg_end": load_avg(),
        "total_s": total,
        "budget_s": args.budget_s,
        "parts": {k: {kk: vv for kk, vv in v.items() if kk != "result"} for k, v in parts.items()},
        "table": [dict(zip(("figure", "value", "target", "met"), r, strict=True)) for r in rows],
        "results": {k: v.get("result") for k, v in parts.items()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    w = max((len(r[0]) for r in rows), default=10)
    print(f"\n{'figure':{w}s}  {'value':>22s}  {'target':14s} met")
    for label, value, tgt, met in rows:
        print(f"{label:{w}s}  {value:>22s}  {tgt:14s} {met}")
    print(
        f"\n{len(parts)} parts in {total}s (budget {args.budget_s:.0f}s); "
        f"load average {m['load_avg']} at start, {summary['load_avg_end']} at end; "
        f"{out / 'summary.json'}"
    )
    partial = [k for k, v in parts.items() if v.get("status") == "partial"]
    if partial:
        print(f"partial (ran out of their budgets; figures above marked): {partial}")
    failed = [k for k, v in parts.items() if v.get("status") == "failed"]
    if failed:
        print(f"failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
