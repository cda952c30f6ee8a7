"""Speed and memory benchmarks of pomai (docs/performance.md).

Run each from the repository root as a module, e.g. ``python -m benchmarks.bench_fuse --help``;
:mod:`benchmarks.common` holds what they share.
"""
