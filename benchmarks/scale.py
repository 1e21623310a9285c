"""How retrieval, the BM25 index, memory and disk grow with the library: 1k -> 10k -> 100k chunks.

Embedding 100k real chunks takes hours on 2 cores, so the libraries are synthetic but
built from real vectors: the bundled papers' abstract sentences, with the vectors our
ingest stored for them (read from the bundled library, or encoded once and cached
under ~/.cache/paperlens-bench). A synthetic paper is shaped like an ingested PDF:
an abstract of 4-6 corpus sentences (abstract chunks of 2-4 sentences, and one sentence
record each) plus body chunks of 2-4 random corpus sentences; a chunk's vector is the
normalised mean of its sentences' vectors. Papers are written with
`assistant.store.library.Library.write(PaperWrite(...))`, so the real store code is exercised.

The library grows in place (1k, then 9k more, ...); at each size a fresh child process
measures it (benchmarks/scale_probe.py: RSS, the BM25 build, retrieve p50/p95, an update of
100 papers and the refresh after it), so memory figures do not mix; the parent records the
write time and the on-disk size of the Chroma folder, and how each figure grew.

Writing is the slow part (Chroma's HNSW inserts: ~350 records/s here, ~7 min for the
100k tier), so a tier's library is kept under ~/.cache/paperlens-bench/libraries, keyed
by everything that shapes it (corpus, sizes so far, generator and store code, Chroma
version): a later run copies it in seconds and reports the write figures measured when it
was built (``library_from_cache``). A clean machine builds it; when the largest size does
not fit the budget there, the next size down is measured (see ``notes``).

Partial: when the budget cuts a size short (or skips it), the figures are those of the
sizes reached, and the result says so (``partial``: reached / asked) - not a failure.

Growth and the 1M projection: for the app's RSS, retrieve p95 and extractive ask p95, each
pair of sizes measured gives a growth exponent k (figure ~ chunks^k), and the largest pair
projects the figure at 1M chunks (and at 100k where that size was not measured), printed
beside issue 24's targets (1M chunks on a Chroma server: RSS < 4,000 MB, retrieve p95
< 150 ms, extractive ask p95 < 300 ms; embedded 100k: RSS < 1,500 MB, retrieve p95 < 100 ms).

The big tier: ``make bench-scale`` runs ``--server --sizes 10000,100000,300000 --cache-dir
.cache/bench_scale``: each probe reads its library from a `chroma run` server started over
the tier's Chroma folder (stopped by its PID), and each tier's library is cached under
``--cache-dir`` (built once, copied on later runs).

Usage: python -m benchmarks.scale --out artifacts/bench [--sizes 1000,10000,100000]
       [--server] [--cache-dir DIR] [--budget-s 480]
"""

from __future__ import annotations

import argparse
import gc
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    REPO,
    Run,
    dir_size_mb,
    fmt_ms,
    offline_env,
    ratio,
    target,
    work_dir,
)
from benchmarks.scale_library import (
    CACHE_MIN_CHUNKS,
    LIBRARY_CACHE,
    cached_library,
    corpus,
    library_key,
    save_library,
    synthetic_papers,
    write_papers,
)
from benchmarks.scale_probe import run_probe

# issue 24's targets: at 1M chunks on a Chroma server, and for the embedded default at 100k
TARGETS_1M = {"app_rss_mb": 4000.0, "retrieve_p95_ms": 150.0, "ask_p95_ms": 300.0}
TARGETS_100K_EMBEDDED = {"app_rss_mb": 1500.0, "retrieve_p95_ms": 100.0}
FIGURES = {  # figure -> what it is (the growth exponent and projection are of these)
    "app_rss_mb": "app process RSS after answering (MB)",
    "retrieve_p95_ms": "retrieve p95, question encoded (ms)",
    "ask_p95_ms": "extractive ask p95 (ms)",
}


@dataclass
class _Growth:
    """The library as it grows, tier by tier, in the parent process."""

    args: argparse.Namespace
    texts: list[str]
    vectors: np.ndarray
    titles: list[str]
    data_dir: Path
    t_start: float
    tiers: list[dict[str, Any]] = field(default_factory=list)
    history: list[int] = field(default_factory=list)  # sizes built so far: in each cache key
    written: int = 0  # synthetic papers written by this process
    current: int = 0  # chunks in the library
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print("  " + text, flush=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _arguments(argv)
    offline_env()
    run = Run("scale", args.out)
    t_start = time.perf_counter()
    texts, vectors, titles = corpus(args.out)
    data_dir = work_dir(args.out, "scale")
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    g = _Growth(args, texts, vectors, titles, data_dir, t_start)
    sizes = [int(s) for s in args.sizes.split(",")]
    for asked in sizes:
        size = _fit_budget(g, asked)
        if size is None or not _measure_tier(g, size, run):
            break
    run["store"] = "chroma server" if args.server else "embedded"
    run["chunks_per_paper"] = args.chunks_per_paper
    run["tiers"] = g.tiers
    run["notes"] = g.notes
    reached = g.tiers[-1]["target_chunks"] if g.tiers else 0
    if "failure" not in run.data and reached < max(sizes):
        why = "; ".join(g.notes) or "the time budget ran out"
        run.partial(f"{reached} chunks", f"{max(sizes)} chunks", why)
    run["growth"] = growth = _growth(g.tiers)
    run["projection"] = projection = _projection(g.tiers)
    run["targets"] = _targets(run, g.tiers, growth)
    run["targets"].update(_projected_targets(projection, g.tiers, args.server))
    _print_projection(projection, run["targets"])
    return run.finish()


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--sizes", default="1000,10000,100000", help="library sizes in chunks")
    ap.add_argument("--chunks-per-paper", type=int, default=10)
    ap.add_argument("--questions", type=int, default=40, help="questions timed per size")
    ap.add_argument("--update-papers", type=int, default=100)
    ap.add_argument(
        "--budget-s",
        type=float,
        default=480,
        help="if writing the largest size would overrun this, write half of it",
    )
    ap.add_argument(
        "--server", action="store_true", help="probe each size through a `chroma run` server"
    )
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=LIBRARY_CACHE,
        help="where each size's library is cached (built once, copied after)",
    )
    ap.add_argument("--probe-timeout-s", type=float, default=1800, help="per size's probe")
    return ap.parse_args(argv)


def _fit_budget(g: _Growth, size: int) -> int | None:
    """``size``, or half of it (again) where the time left would not cover it at the write
    and probe times seen so far; None when not even that fits."""
    if not g.tiers:
        return size
    last, args, current = g.tiers[-1], g.args, g.current
    left = args.budget_s - (time.perf_counter() - g.t_start)

    def eta(n: int) -> float:
        if cached_library(library_key(g.texts, [*g.history, n], args), args.cache_dir):
            write = 0.1 * n / 1000  # a copy: ~10 s per 100k chunks
        else:  # a chunk costs more to insert the larger the library: ~sqrt(size) here
            per_chunk = last["write_s"] / max(last["new_chunks"], 1)
            grown = ((current + n) / 2) / max(last["chunks"] - last["new_chunks"] / 2, 1)
            write = per_chunk * max(n - current, 0) * max(grown, 1.0) ** 0.5
        # The probe is mostly fixed cost (process, model, 80 questions); the reads,
        # BM25 build and refreshes grow with the library.
        grows = sum(
            last[k]
            for k in ("fetch_chunk_texts_s", "bm25_build_s", "refresh_load_s", "update_refresh_s")
        )
        probe = last["tier_s"] - last["tier_write_s"] - grows + grows * n / last["chunks"]
        return 1.2 * (write + probe)

    asked = size
    while size > 2 * last["chunks"] and eta(size) > left:
        size //= 2
    if eta(size) > left:
        g.note(
            f"{asked} chunks skipped: ~{eta(size):.0f}s needed even for {size}, "
            f"{left:.0f}s left of the budget"
        )
        return None
    if size != asked:
        g.note(
            f"{asked} chunks would take ~{eta(asked):.0f}s (budget left {left:.0f}s): "
            f"measured {size} instead"
        )
    return size


def _build_library(g: _Growth, size: int, want: int) -> tuple[dict[str, Any] | None, float, float]:
    """The library grown to ``want`` papers: copied from the cache, else written (and cached).
    Returns the cache manifest (None: written now), the write seconds and this tier's."""
    from chromadb.api.client import SharedSystemClient

    from assistant import Library, Settings

    root = g.args.cache_dir
    key = library_key(g.texts, g.history, g.args)
    manifest = cached_library(key, root) if size >= CACHE_MIN_CHUNKS else None
    chroma_dir = g.data_dir / "lib" / "chroma"
    t = time.perf_counter()
    if manifest is not None:  # the same library, built by an earlier run
        shutil.rmtree(chroma_dir, ignore_errors=True)
        shutil.copytree(root / key / "chroma", chroma_dir)
        for old in (g.data_dir / "lib" / "cache").glob("bm25-*.pkl"):  # of the state replaced
            old.unlink()
        tier_write_s = time.perf_counter() - t
        write_s = float(manifest["write_s"])
        print(
            f"  {size} chunks: library copied from {root / key} in "
            f"{tier_write_s:.1f}s (written in {write_s:.1f}s when cached)",
            flush=True,
        )
        return manifest, write_s, tier_write_s
    # Embedded Chroma is one process's at a time: the parent closes it before each probe.
    library = Library(Settings(data_dir=g.data_dir / "lib"))
    for s in range(g.written, want, 1000):
        n = min(1000, want - s)
        write_papers(
            library,
            synthetic_papers(g.texts, g.vectors, g.titles, s, n, g.args.chunks_per_paper, seed=1),
        )
    write_s = time.perf_counter() - t
    del library
    SharedSystemClient.clear_system_cache()
    gc.collect()
    if size >= CACHE_MIN_CHUNKS:
        save_library(
            chroma_dir,
            key,
            {"write_s": round(write_s, 1), "papers": want, "history": g.history},
            root,
        )
        print(f"  {size} chunks: written in {write_s:.1f}s, cached in {root / key}", flush=True)
    return None, write_s, write_s


def _measure_tier(g: _Growth, size: int, run: Run) -> bool:
    """Grow the library to ``size`` chunks and probe it; False when the probe failed."""
    args = g.args
    t_tier = time.perf_counter()
    # The probes' update papers stay in the library: count them towards the size.
    want = g.written + max(0, size - g.current) // args.chunks_per_paper
    g.history.append(size)
    manifest, write_s, tier_write_s = _build_library(g, size, want)
    g.written = want
    prev_total = g.tiers[-1]["write_total_s"] if g.tiers else 0.0
    probe_res = _probe(g, size)
    chroma_mb = dir_size_mb(g.data_dir / "lib" / "chroma")
    if "error" in probe_res:
        run["failure"] = {
            "target_chunks": size,
            "write_s": round(write_s, 1),
            "chroma_mb": chroma_mb,
            **probe_res,
        }
        g.notes.append(f"at ~{size} chunks the library could not be loaded: {probe_res['error']}")
        print("  FAILED " + g.notes[-1] + f" ({'; '.join(probe_res['error_at'])})", flush=True)
        return False
    tier = {
        "target_chunks": size,
        "write_s": round(write_s, 1),
        "tier_write_s": round(tier_write_s, 1),
        "library_from_cache": manifest is not None,
        "new_chunks": max(size - g.current, 0),
        "tier_s": round(time.perf_counter() - t_tier, 1),
        "write_total_s": round(prev_total + write_s, 1),
        "chroma_mb": chroma_mb,
        **probe_res,
    }
    before = (g.tiers[-1]["chunks"] + g.tiers[-1]["sentences"]) if g.tiers else 0
    records = probe_res["chunks"] + probe_res["sentences"] - before
    tier["write_records_per_s"] = round(records / write_s, 1)
    g.tiers.append(tier)
    g.current = probe_res["chunks"] + args.update_papers * args.chunks_per_paper
    _print_tier(tier)
    return True


def _probe(g: _Growth, size: int) -> dict[str, Any]:
    """The probe of the library as it is now: embedded, or through a `chroma run` server
    over its folder (started for the probe, stopped by its PID after; its RSS recorded)."""
    args, lib = g.args, g.data_dir / "lib"
    if not args.server:
        return run_probe(lib, g.data_dir, size, args, timeout=args.probe_timeout_s)
    t = time.perf_counter()
    server = _chroma_server(lib / "chroma", g.data_dir)
    start_s = round(time.perf_counter() - t, 1)
    try:
        res = run_probe(lib, g.data_dir, size, args, server.port, args.probe_timeout_s)
        res["server_start_s"] = start_s
        res["server_rss_mb"] = _proc_mb(server.pid, "VmRSS")
        res["server_peak_rss_mb"] = _proc_mb(server.pid, "VmHWM")
    finally:
        server.stop()
    return res


def _chroma_server(chroma_dir: Path, log_dir: Path) -> Any:
    """`chroma run` over ``chroma_dir`` on a free port of 127.0.0.1 (tests/servers.py)."""
    sys.path.insert(0, str(REPO / "tests"))
    from servers import HOST, ServerProcess, free_port

    from benchmarks.server_latency import chroma_exe

    port = free_port()
    cmd = [chroma_exe(), "run", "--path", str(chroma_dir), "--host", HOST, "--port", str(port)]
    env = {"ANONYMIZED_TELEMETRY": "False", "CHROMA_ANONYMIZED_TELEMETRY": "False"}
    return ServerProcess(
        cmd, port, "/api/v2/heartbeat", log_dir, name="chroma", timeout=300, env=env
    ).start()


def _proc_mb(pid: int, field: str) -> float | None:
    """A memory field (``VmRSS``, ``VmHWM``) of process ``pid`` in MB (None: unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _print_tier(tier: dict[str, Any]) -> None:
    vec, enc = tier["retrieve_vector_given_ms"], tier["retrieve_encoded_ms"]
    print(
        f"  {tier['chunks']:>7} chunks ({tier['papers']} papers, {tier['sentences']} "
        f"sentences): written in {tier['write_s']:.1f}s; retrieve p50/p95 "
        f"{vec['p50']}/{vec['p95']} ms (vector given), {enc['p50']}/{enc['p95']} ms "
        f"(encoded); BM25 build {tier['bm25_build_s']}s; refresh {tier['refresh_load_s']}s; "
        f"update {tier['update_write_s']}+{tier['update_refresh_s']}s; library RSS "
        f"{tier['library_rss_mb']} MB, peak {tier['peak_rss_mb']} MB; "
        f"chroma {tier['chroma_mb']} MB",
        flush=True,
    )
    ask = tier.get("ask_extractive_ms", {})
    server = f"; chroma server RSS {tier['server_rss_mb']} MB" if tier.get("server_rss_mb") else ""
    print(
        f"           extractive ask p50/p95 {fmt_ms(ask.get('p50'), 0)}/"
        f"{fmt_ms(ask.get('p95'), 0)} ms; app RSS {tier.get('app_rss_mb')} MB ({tier['store']})"
        + server,
        flush=True,
    )


def _growth(tiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each tier against the one before: how data, time, memory and disk grew."""
    growth: list[dict[str, Any]] = []
    for a, b in zip(tiers, tiers[1:], strict=False):
        va, vb = a["retrieve_vector_given_ms"], b["retrieve_vector_given_ms"]
        growth.append(
            {
                "from_to": f"{a['chunks']}->{b['chunks']}",
                "data": ratio(b["chunks"] + b["sentences"], a["chunks"] + a["sentences"], 1),
                "retrieve_p50": ratio(vb["p50"], va["p50"], 1),
                "retrieve_p95": ratio(vb["p95"], va["p95"], 1),
                "bm25_build": ratio(b["bm25_build_s"], a["bm25_build_s"], 1),
                "update_refresh": ratio(b["update_refresh_s"], a["update_refresh_s"], 1),
                "library_rss": ratio(b["library_rss_mb"], a["library_rss_mb"], 1),
                "chroma_disk": ratio(b["chroma_mb"], a["chroma_mb"], 1),
            }
        )
    for gr in growth:
        print(
            f"  growth {gr['from_to']}: data x{gr['data']}, retrieve p50 x{gr['retrieve_p50']}, "
            f"p95 x{gr['retrieve_p95']}, BM25 build x{gr['bm25_build']}, update "
            f"x{gr['update_refresh']}, library RSS x{gr['library_rss']}, "
            f"disk x{gr['chroma_disk']}"
        )
    return growth


def _targets(run: Run, tiers: list[dict[str, Any]], growth: list[dict[str, Any]]) -> dict[str, Any]:
    nothing = {"chunks": 0, "retrieve_encoded_ms": {"p95": None}}
    big: dict[str, Any] = tiers[-1] if tiers else nothing
    failed = "failure" in run.data
    if failed:  # the target is about the largest size asked for
        big = {
            **big,
            "chunks": run["failure"]["target_chunks"],
            "retrieve_encoded_ms": {"p95": None},
        }
    mem_ok = all(
        g["library_rss"] is not None
        and g["data"] is not None
        and g["library_rss"] <= g["data"] * 1.1
        for g in growth
    )
    return {
        f"retrieve_p95_ms_at_{big['chunks']}_chunks": {
            **target(big["retrieve_encoded_ms"]["p95"], "<", 100),
            **(
                {"met": False, "value": "failed: " + run["failure"]["error"][:80]} if failed else {}
            ),
        },
        "memory_grows_no_faster_than_data": {
            "value": [g["library_rss"] for g in growth],
            "target": "<= data growth",
            "met": mem_ok if growth else None,  # one size: nothing to compare
        },
    }


def _figure(tier: dict[str, Any], name: str) -> float | None:
    """One of FIGURES at ``tier`` (None where the probe did not measure it)."""
    if name == "app_rss_mb":
        value = tier.get("app_rss_mb")
    elif name == "retrieve_p95_ms":
        value = tier["retrieve_encoded_ms"].get("p95")
    else:
        value = tier.get("ask_extractive_ms", {}).get("p95")
    return float(value) if value else None


def _growing(tier: dict[str, Any], name: str) -> tuple[float, float] | None:
    """A figure as (fixed base, part that grows with the library): the app's RSS is the
    loaded process and model (``rss_after_model_mb``) plus what the library and answering
    add; a latency grows whole. None where the probe did not measure it."""
    value = _figure(tier, name)
    if value is None:
        return None
    if name == "app_rss_mb" and tier.get("rss_after_model_mb"):
        base = float(tier["rss_after_model_mb"])
        return base, max(value - base, 1.0)
    return 0.0, value


def _projection(tiers: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure: its values by size, the growth exponent k between each pair of sizes
    (the growing part ~ chunks^k: for the RSS, the part above the loaded model), and the
    figure at 100k and 1M chunks projected from the largest pair (none from one size). A
    negative k (a latency that fell as the library grew: noise of a shared machine) is
    projected flat, never as a figure that shrinks."""
    out: dict[str, Any] = {}
    for name in FIGURES:
        points = [(int(t["chunks"]), _growing(t, name), _figure(t, name)) for t in tiers]
        measured = [(n, g, v) for n, g, v in points if g is not None and v is not None and n > 0]
        exponents: list[dict[str, Any]] = [
            {
                "from_to": f"{na}->{nb}",
                "exponent": round(math.log(gb[1] / ga[1]) / math.log(nb / na), 3),
            }
            for (na, ga, _), (nb, gb, _) in zip(measured, measured[1:], strict=False)
            if nb > na
        ]
        projected: dict[str, float] = {}
        if exponents:
            (nb, (base, part), _), k = measured[-1], float(exponents[-1]["exponent"])
            projected = {
                str(at): round(base + part * (at / nb) ** max(k, 0.0), 1)
                for at in (100_000, 1_000_000)
            }
        out[name] = {
            "measured": [{"chunks": n, "value": v} for n, _, v in measured],
            "exponents": exponents,
            "projected": projected,
        }
    return out


def _projected_targets(
    projection: dict[str, Any], tiers: list[dict[str, Any]], server: bool
) -> dict[str, Any]:
    """Issue 24's targets beside the figures: at 1M chunks (projected) and, for the
    embedded store, at 100k (measured there when a size of ~100k was, else projected)."""
    store = "chroma server" if server else "embedded"

    def basis(name: str) -> str:
        ex = projection[name]["exponents"]
        if not ex:
            return f"{store}: not projected (needs two sizes)"
        k = ex[-1]["exponent"]
        flat = " (k<0: projected flat)" if k < 0 else ""
        part = " of the RSS above the model" if name == "app_rss_mb" else ""
        return f"{store}: projected, x^{k}{part} from {ex[-1]['from_to']} chunks{flat}"

    out: dict[str, Any] = {}
    for name, bound in TARGETS_1M.items():
        value = projection[name]["projected"].get("1000000")
        out[f"{name}_at_1M_chunks"] = {**target(value, "<", bound), "basis": basis(name)}
    if not server:
        near = [t for t in tiers if 90_000 <= t["chunks"] <= 130_000]
        for name, bound in TARGETS_100K_EMBEDDED.items():
            if near:
                value, why = _figure(near[-1], name), f"{store}: measured at {near[-1]['chunks']}"
            else:
                value, why = projection[name]["projected"].get("100000"), basis(name)
            out[f"{name}_at_100k_chunks"] = {**target(value, "<", bound), "basis": why}
    return out


def _print_projection(projection: dict[str, Any], targets: dict[str, Any]) -> None:
    print("  growth exponents (figure ~ chunks^k) and projections beside issue 24's targets:")
    for name, label in FIGURES.items():
        p = projection[name]
        values = ", ".join(f"{m['chunks']}: {m['value']:.0f}" for m in p["measured"]) or "none"
        exps = ", ".join(f"k={e['exponent']} ({e['from_to']})" for e in p["exponents"]) or "-"
        print(f"    {label}: {values}; {exps}")
        for key in (f"{name}_at_100k_chunks", f"{name}_at_1M_chunks"):
            if key in targets:
                t = targets[key]
                mark = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
                print(f"      {key}: {t['value']} (want {t['target']}; {t['basis']}) {mark}")


if __name__ == "__main__":
    main()
