"""``make bench``: every benchmark in turn, each printing its table and writing bench/results/."""

from bench import abtest_bench, drift_bench

BENCHMARKS = (drift_bench.main, abtest_bench.main)

for benchmark in BENCHMARKS:
    benchmark([])
