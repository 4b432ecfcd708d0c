"""Benchmarks: latency (bench_latency.py) and retrieval quality on LoCoMo (bench_quality.py)."""
