"""Cold start: new processes against an already-ingested library.

- ``paperlens --help`` and ``python -c "import assistant"``: wall time, and which heavy
  modules (torch, chromadb, gradio, ...) they load - they must load none;
- ``paperlens ask "..."``: wall time and peak RSS of the child (``wait4`` rusage);
- a cold ask broken into phases inside one child: imports, opening the library,
  loading the model, the first answer, and a second (warm) answer for comparison;
- the web app's first answer: the first of four questions against the median of the other
  three, in a child that loads the model only (what the app did before) and in one that
  lets the app's `Warmup` finish first (what the page waits for while it says "loading the
  library…"). The target: the warmed first answer within 1.5x of the later ones.

Usage: python -m benchmarks.cold_start --out artifacts/bench [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Run, clean_env, ensure_library, offline_env, target, work_dir
from benchmarks.ingest_throughput import paperlens_cli

HEAVY = (
    "torch",
    "chromadb",
    "gradio",
    "sentence_transformers",
    "transformers",
    "llama_index",
    "openai",
    "bm25s",
    "numpy",
    "pydantic",
)
MUST_NOT = ("torch", "chromadb", "gradio")
QUESTION = "Which papers study speculative decoding?"

_MODULES = "import sys; print('MODULES=' + ','.join(m for m in {heavy!r} if m in sys.modules))"
PROBE_IMPORT = "import assistant; " + _MODULES
PROBE_HELP = (
    "import sys\nfrom paperlens.cli import main\n"
    "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n" + _MODULES
)
PHASES = """
import json, time
t0 = time.perf_counter(); out = {}
from assistant import Assistant
out['import_s'] = time.perf_counter() - t0; t = time.perf_counter()
bot = Assistant()
out['open_library_s'] = time.perf_counter() - t; t = time.perf_counter()
bot.embedder.model
out['load_model_s'] = time.perf_counter() - t; t = time.perf_counter()
a = bot.ask(QUESTION, mode='extractive')
out['first_ask_s'] = time.perf_counter() - t; out['first_ask_timings_ms'] = a.timings
bot.reset(); t = time.perf_counter()
bot.ask(QUESTION, mode='extractive')
out['second_ask_s'] = time.perf_counter() - t
out['total_s'] = time.perf_counter() - t0
print('PHASES=' + json.dumps(out))
"""


# The sample's example questions: none of them is one of the warm-up's own questions.
APP_QUESTIONS = (
    QUESTION,
    "Which papers propose benchmarks for LLM agents?",
    "How do diffusion language models compare to autoregressive ones?",
    "Which papers reduce the KV cache memory of long-context inference?",
)
APP_FIRST = """
import json, statistics, time
from assistant import Assistant
out = {}
bot = Assistant()
bot.embedder.encode_query("warm up")
if WARM:
    from paperlens.web.warmup import Warmup
    t = time.perf_counter(); warm = Warmup(bot); warm.start(); warm.answering.wait(600)
    out['warm_up_s'] = time.perf_counter() - t
times = []
for q in QUESTIONS:
    t = time.perf_counter(); bot.new_conversation().ask(q, mode='extractive')
    times.append(time.perf_counter() - t)
out['first_s'] = times[0]; out['later_median_s'] = statistics.median(times[1:])
out['first_over_later'] = times[0] / max(out['later_median_s'], 1e-9)
print('APP=' + json.dumps(out))
"""
CHILD_TIMEOUT_S = 60.0


def run_child(
    cmd: list[str], env: dict[str, str], timeout: float = CHILD_TIMEOUT_S
) -> dict[str, Any]:
    """Wall time, peak RSS (MB), exit code and stdout of one child process; a child still
    running after ``timeout`` is killed (by its PID) and reported with rc None."""
    with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, env=env)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t > timeout:
                proc.kill()
                timed_out = True
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - t
        proc.returncode = None if timed_out else os.waitstatus_to_exitcode(status)  # type: ignore[assignment]
        so.seek(0)
        se.seek(0)
        return {
            "wall_s": round(wall, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "rc": proc.returncode,
            "stdout": so.read().decode(errors="replace"),
            "stderr": se.read().decode(errors="replace")[-600:],
        }


def repeat(cmd: list[str], env: dict[str, str], n: int) -> dict[str, Any]:
    runs = [run_child(cmd, env) for _ in range(n)]
    walls = [r["wall_s"] for r in runs]
    return {
        "median_s": round(statistics.median(walls), 3),
        "min_s": min(walls),
        "runs_s": walls,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "rc": runs[-1]["rc"],
        "timed_out": any(r["rc"] is None for r in runs),
        "stdout": runs[-1]["stdout"],
        "stderr": runs[-1]["stderr"],
    }


def modules(stdout: str) -> list[str]:
    for line in stdout.splitlines():
        if line.startswith("MODULES="):
            return [m for m in line[len("MODULES=") :].split(",") if m]
    return []


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    offline_env()
    run = Run("cold_start", args.out)
    lib_dir = work_dir(args.out, "library")
    ensure_library(lib_dir)
    env = _child_env(lib_dir)
    py = sys.executable
    n = args.repeats

    res: dict[str, Any] = {}
    res["python_startup"] = repeat([py, "-c", "pass"], env, n)
    res["import_assistant"] = repeat([py, "-c", PROBE_IMPORT.format(heavy=HEAVY)], env, n)
    res["help_probe"] = repeat([py, "-c", PROBE_HELP.format(heavy=HEAVY)], env, 1)
    res["help"] = repeat([*paperlens_cli(), "--help"], env, n)
    res["ask"] = repeat([*paperlens_cli(), "ask", QUESTION], env, n)
    breakdown = _ask_phases(py, env)
    res["ask_phases"] = breakdown
    res["app_first_answer"] = _app_first_answer(py, env, n)

    imported = {
        "import assistant": modules(res["import_assistant"]["stdout"]),
        "paperlens --help": modules(res["help_probe"]["stdout"]),
    }
    _print_summary(res, imported, breakdown)
    for r in res.values():
        if isinstance(r, dict):
            r.pop("stdout", None)
    run.data.update(res)
    run["heavy_modules_loaded"] = imported
    run["targets"] = _targets(res, imported)
    return run.finish()


def _child_env(lib_dir: Path) -> dict[str, str]:
    """A clean environment on ``lib_dir`` whose children import this checkout."""
    env = clean_env(lib_dir)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")])
    )
    return env


def _ask_phases(py: str, env: dict[str, str]) -> dict[str, Any]:
    """Seconds per phase of one cold ask, as the child process reports them."""
    phases = run_child([py, "-c", f"QUESTION = {QUESTION!r}\n" + PHASES], env)
    breakdown: dict[str, Any] = {}
    for line in phases["stdout"].splitlines():
        if line.startswith("PHASES="):
            breakdown = {
                k: (round(v, 3) if isinstance(v, float) else v)
                for k, v in json.loads(line[len("PHASES=") :]).items()
            }
    return breakdown


def _app_first_answer(py: str, env: dict[str, str], n: int) -> dict[str, Any]:
    """The app's first answer over its later ones, without and with the warm-up: ``n``
    children each, run alternately so both see the same machine load; medians."""
    runs: dict[str, list[dict[str, float]]] = {"model_only": [], "warmed": []}
    for _ in range(n):
        for kind in runs:
            code = f"WARM = {kind == 'warmed'}\nQUESTIONS = {APP_QUESTIONS!r}\n" + APP_FIRST
            got = run_child([py, "-c", code], env, timeout=4 * CHILD_TIMEOUT_S)
            for line in got["stdout"].splitlines():
                if line.startswith("APP="):
                    runs[kind].append(json.loads(line[len("APP=") :]))
    out: dict[str, Any] = {}
    for kind, found in runs.items():
        keys = sorted({k for r in found for k in r})
        out[kind] = {k: round(statistics.median(r[k] for r in found if k in r), 3) for k in keys}
        out[kind]["runs"] = len(found)
    return out


def _print_summary(
    res: dict[str, Any], imported: dict[str, list[str]], breakdown: dict[str, Any]
) -> None:
    """One line per timed command, then the heavy modules loaded and the ask's phases."""
    for key in ("python_startup", "import_assistant", "help", "ask"):
        r = res[key]
        print(
            f"  {key:18s} median {r['median_s']:6.2f}s  (runs {r['runs_s']})  "
            f"peak RSS {r['peak_rss_mb']} MB  rc {r['rc']}"
        )
    print(f"  heavy modules loaded: {imported}")
    print(f"  cold ask phases (one child): {breakdown}")
    for kind, r in res["app_first_answer"].items():
        print(f"  app's first answer, {kind}: {r}")


def _targets(res: dict[str, Any], imported: dict[str, list[str]]) -> dict[str, Any]:
    """The issue's targets: --help under 0.5 s, a cold ask under 5 s, no heavy imports."""
    bad = {k: [m for m in v if m in MUST_NOT] for k, v in imported.items()}
    return {
        "help_s": target(res["help"]["median_s"], "<", 0.5),
        "cold_ask_s": target(
            None if res["ask"]["timed_out"] or res["ask"]["rc"] != 0 else res["ask"]["median_s"],
            "<",
            5.0,
        ),
        "app_first_answer_over_later_warmed": target(
            res["app_first_answer"]["warmed"].get("first_over_later"), "<", 1.5
        ),
        "no_torch_chromadb_gradio_on_import_or_help": {
            "value": bad,
            "target": "none of torch, chromadb, gradio",
            "met": not any(bad.values()),
        },
    }


if __name__ == "__main__":
    main()
