"""Benchmarks: `make bench` (python -m bench). Results go to bench/results.md as a table."""
