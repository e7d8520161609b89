"""Benchmarks: `make bench` runs them all and prints figures for docs/benchmarks.md."""
