"""Latency of `search_papers` and `ask` through MCP against the same call made in Python.

The direct figure calls `LibraryTools` (what the MCP tools run) in this process; the
protocol figures call the tools with the SDK's own client on `paperlens mcp` started as a
subprocess, over stdio and over streamable HTTP on 127.0.0.1 (a free port; stopped by its
PID). Every path is warmed first (models loaded, one call of each tool), then the eval
questions are timed one call at a time, the three paths taking turns per question so that
load on the shared machine falls on all of them alike. Reported: p50/p95 per path and tool
and the protocol/direct ratios of the p50s.

Usage: python -m benchmarks.mcp_latency --out artifacts/bench [--limit 30]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    Run,
    clean_env,
    ensure_library,
    offline_env,
    questions,
    ratio,
    stats_ms,
    work_dir,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_http(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperlens", "mcp", "--http", "--port", str(port)],
        env=clean_env(data_dir),
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"paperlens mcp --http exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("paperlens mcp --http did not start in 120 s") from None
            time.sleep(0.2)


async def _measure(settings: Any, qs: list[str], port: int) -> dict[str, dict[str, list[float]]]:
    from mcp import Client, StdioServerParameters

    from paperlens.mcp_server import LibraryTools

    direct = LibraryTools(settings)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "paperlens", "mcp"],
        env=clean_env(settings.data_dir),
        cwd=str(REPO),
    )
    samples: dict[str, dict[str, list[float]]] = {
        path: {"search_papers": [], "ask": []} for path in ("direct", "stdio", "http")
    }
    async with AsyncExitStack() as stack:
        clients = {
            "stdio": await stack.enter_async_context(Client(params, read_timeout_seconds=300)),
            "http": await stack.enter_async_context(
                Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=300)
            ),
        }

        def call_direct(tool: str, q: str) -> None:
            if tool == "ask":
                direct.ask(q, "extractive")
            else:
                direct.search_papers(q, 10)

        async def call(path: str, tool: str, q: str) -> float:
            args = {"question": q, "mode": "extractive"} if tool == "ask" else {"query": q, "k": 10}
            t = time.perf_counter()
            if path == "direct":
                call_direct(tool, q)
            else:
                result = await clients[path].call_tool(tool, args)
                if result.is_error:
                    raise SystemExit(f"{path} {tool} failed: {result.content}")
            return time.perf_counter() - t

        for path in samples:  # warm: models loaded, caches built, one call of each tool
            for tool in ("search_papers", "ask"):
                await call(path, tool, qs[0])
        for q in qs:
            for tool in ("search_papers", "ask"):
                for path in samples:
                    samples[path][tool].append(await call(path, tool, q))
    return samples


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=30, help="eval questions timed (default 30)")
    args = ap.parse_args(argv)
    offline_env()
    run = Run("mcp_latency", args.out)
    settings = ensure_library(work_dir(args.out, "library"))
    qs = questions()[: args.limit]
    port = _free_port()
    server = _start_http(settings.data_dir, port)
    try:
        samples = asyncio.run(_measure(settings, qs, port))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    run["questions"] = len(qs)
    res = {
        path: {tool: stats_ms(v) for tool, v in tools.items()} for path, tools in samples.items()
    }
    run["latency_ms"] = res
    for path, tools in res.items():
        print(
            f"  {path:6s} search_papers p50 {tools['search_papers']['p50']:7.1f} p95 "
            f"{tools['search_papers']['p95']:7.1f} | ask p50 {tools['ask']['p50']:7.1f} "
            f"p95 {tools['ask']['p95']:7.1f} ms"
        )
    run["ratios"] = {
        f"{path}_over_direct_{tool}_p50": ratio(res[path][tool]["p50"], res["direct"][tool]["p50"])
        for path in ("stdio", "http")
        for tool in ("search_papers", "ask")
    }
    run["overhead_ms_p50"] = {
        f"{path}_{tool}": round(res[path][tool]["p50"] - res["direct"][tool]["p50"], 1)
        for path in ("stdio", "http")
        for tool in ("search_papers", "ask")
    }
    print(f"  ratios: {run['ratios']}")
    print(f"  protocol overhead at p50 (ms): {run['overhead_ms_p50']}")
    return run.finish()


if __name__ == "__main__":
    main()
