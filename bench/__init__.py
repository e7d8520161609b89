"""Benchmarks: `make bench` runs `python -m bench.run`. Figures go to docs/benchmarks.md."""
