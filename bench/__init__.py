"""Benchmarks: ``python -m bench.run [--quick]`` runs every ``bench_*.py`` module and writes docs/benchmarks.md.

A module exposes ``run(quick: bool) -> str`` returning a markdown section (starting with a ``##`` title).
When a peer it compares against is missing it returns a section saying what was skipped and why.
"""
