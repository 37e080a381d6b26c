"""Benchmarks: commands that print numbers (see docs/BENCHMARKS.md)."""
