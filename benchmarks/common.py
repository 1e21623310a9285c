"""What every benchmark shares: the machine description, timing statistics, JSON output,
the offline environment and the bundled library ingested once per output folder.

The machine these run on is often shared, so absolute times are noisy: every script
compares against a reference measured in the same process and reports the ratio, and
prints the load average at its start and end so a noisy run is visible.

Each part runs within a time budget (``--budget-s``, or ``PAPERLENS_BENCH_BUDGET_S`` as
`benchmarks.run_all` sets it): a part that runs out stops measuring, reports the size it
reached and is marked ``partial`` (`Run.partial`) - a smaller sample, not a failure.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from assistant import OFFLINE_ENV  # one definition for every entry point

REPO = Path(__file__).resolve().parent.parent
BUDGET_ENV = "PAPERLENS_BENCH_BUDGET_S"  # a part's time budget, set by run_all
PAPERS = REPO / "data" / "papers"
QUESTIONS = REPO / "evals" / "data" / "questions.jsonl"
MODEL = "all-MiniLM-L6-v2"


def offline_env() -> None:
    """Nothing a benchmark runs may reach the network (hub, telemetry)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def clean_env(data_dir: Path) -> dict[str, str]:
    """The environment for a child process: offline, no ambient paperlens/LLM settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PAPERLENS_") and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    env.update(OFFLINE_ENV)
    env["PAPERLENS_DATA_DIR"] = str(data_dir)
    return env


# --- the machine -----------------------------------------------------------------------
def machine() -> dict[str, Any]:
    """nproc, CPU model, RAM and the load average now."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": ram_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg": load_avg(),
    }


def load_avg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def describe(m: dict[str, Any]) -> str:
    return (
        f"{m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}; "
        f"load average {m['load_avg']}"
    )


# --- memory --------------------------------------------------------------------------------
def status_mb(field: str) -> float:
    """A memory field of /proc/self/status (``VmRSS``, ``VmHWM``) in MB; NaN elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def rss_mb() -> float:
    """Resident memory of this process now (VmRSS), in MB."""
    return status_mb("VmRSS")


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its waited-for children), in MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux reports KB


def dir_size_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return round(total / 1024 / 1024, 2)


# --- timing ----------------------------------------------------------------------------------
def stats_ms(samples_s: Iterable[float]) -> dict[str, float]:
    """p50/p95/mean/min/max in milliseconds of samples in seconds."""
    ms = sorted(s * 1000 for s in samples_s)
    if not ms:
        return {}

    def pct(p: float) -> float:
        k = (len(ms) - 1) * p
        lo, hi = int(k), min(int(k) + 1, len(ms) - 1)
        return ms[lo] + (ms[hi] - ms[lo]) * (k - lo)

    return {
        "n": len(ms),
        "p50": round(pct(0.5), 2),
        "p95": round(pct(0.95), 2),
        "mean": round(statistics.fmean(ms), 2),
        "min": round(ms[0], 2),
        "max": round(ms[-1], 2),
    }


def fmt_ms(value: float | None, width: int = 7) -> str:
    """A latency for a printed line: ``value`` to 0.1, or n/a (nothing measured)."""
    return f"{value:{width}.1f}" if value is not None else f"{'n/a':>{width}s}"


def time_each(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - t)
    return out


def ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
    if a is None or b is None or not b:
        return None
    return round(a / b, digits)


def target(value: float | None, op: str, bound: float) -> dict[str, Any]:
    """A target and whether ``value`` meets it (``op`` is '<' or '>=')."""
    met = None if value is None else (value < bound if op == "<" else value >= bound)
    return {"value": value, "target": f"{op} {bound}", "met": met}


# --- inputs ----------------------------------------------------------------------------------
def questions() -> list[str]:
    with QUESTIONS.open(encoding="utf-8") as fh:
        return [json.loads(line)["question"] for line in fh if line.strip()]


def bundled_papers() -> list[Any]:
    from ingest import IngestReport, collect_files, read_papers

    report = IngestReport()
    return read_papers(collect_files([PAPERS], report), report)


def ensure_library(data_dir: Path) -> Any:
    """Settings of a library of the bundled papers in ``data_dir``, ingested if needed.

    Benchmarks run from one output folder share it, so it is embedded once per run.
    """
    from assistant import Settings
    from ingest import ingest

    settings = Settings(data_dir=data_dir)
    t = time.perf_counter()
    report = ingest([PAPERS], settings)
    if report.added or report.updated:
        print(f"  (ingested the bundled library into {data_dir} in {time.perf_counter() - t:.1f}s)")
    return settings


# --- output ----------------------------------------------------------------------------------
def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def env_budget_s() -> float | None:
    """The time budget run_all gave this part (``PAPERLENS_BENCH_BUDGET_S``), if any."""
    try:
        value = float(os.environ.get(BUDGET_ENV, ""))
    except ValueError:
        return None
    return value if value > 0 else None


class Run:
    """One benchmark's figures: machine at start, results, load at the end, JSON out.

    ``budget_s`` (default: ``PAPERLENS_BENCH_BUDGET_S``; None: unbounded) is the time this
    part may take from its start; `time_left` counts it down, and a part that stops early
    for it says so with `partial`.
    """

    def __init__(self, name: str, out: Path | None, budget_s: float | None = None):
        self.name = name
        self.out = out
        self.t0 = time.perf_counter()
        self.budget_s = budget_s if budget_s is not None else env_budget_s()
        # Stopped at its hard limit (run_all sends SIGTERM): unwind, so `finally` blocks
        # stop the servers this part started.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        self.data: dict[str, Any] = {"benchmark": name, "machine": machine()}
        if self.budget_s is not None:
            self.data["budget_s"] = self.budget_s
        print(f"== {name} on {describe(self.data['machine'])}", flush=True)

    def time_left(self) -> float:
        """Seconds left of the budget (infinite without one)."""
        if self.budget_s is None:
            return float("inf")
        return self.budget_s - (time.perf_counter() - self.t0)

    def deadline(self, reserve_s: float = 0.0) -> float | None:
        """The `time.perf_counter()` by which measuring must stop, keeping ``reserve_s``
        back for cleaning up and reporting (None without a budget)."""
        if self.budget_s is None:
            return None
        return self.t0 + self.budget_s - reserve_s

    def partial(self, reached: str, asked: str, reason: str | None = None) -> None:
        """Mark the figures partial: only ``reached`` of ``asked`` was measured."""
        why = reason or f"the time budget of {self.budget_s:.0f}s ran out"
        self.data["partial"] = {"reached": reached, "asked": asked, "reason": why}
        print(f"  PARTIAL: measured {reached} of {asked} ({why})", flush=True)

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def finish(self) -> dict[str, Any]:
        self.data["load_avg_end"] = load_avg()
        self.data["seconds"] = round(time.perf_counter() - self.t0, 1)
        targets = self.data.get("targets", {})
        for key, t in targets.items():
            mark = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
            print(f"  target {key}: {t['value']} (want {t['target']}) {mark}")
        if "partial" in self.data:
            p = self.data["partial"]
            print(f"  partial result: {p['reached']} of {p['asked']} measured ({p['reason']})")
        print(
            f"  load average at end {self.data['load_avg_end']}; {self.data['seconds']}s",
            flush=True,
        )
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            path = self.out / f"{self.name}.json"
            path.write_text(json.dumps(self.data, indent=2) + "\n", encoding="utf-8")
            print(f"  wrote {path}")
        return self.data


def work_dir(out: Path | None, name: str) -> Path:
    """A folder for state a benchmark may share with the next one of the same run."""
    import tempfile

    base = (out / "work") if out is not None else Path(tempfile.mkdtemp(prefix="paperlens-bench-"))
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path
