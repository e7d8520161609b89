"""Benchmarks: `make bench` runs every bench_*.py module's `run()`; figures go to docs/benchmarks.md."""
