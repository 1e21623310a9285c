"""Benchmarks: `python -m benchmarks.run_all --out DIR` runs the set (see README, Performance)."""
