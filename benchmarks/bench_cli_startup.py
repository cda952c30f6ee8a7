"""Start-up time of the ``pomai`` command line: ``python -m pomai --help`` in a fresh process.

    python -m benchmarks.bench_cli_startup                     # median of 7 runs of --help
    python -m benchmarks.bench_cli_startup --runs 11 --args fuse --help

Each run is a new interpreter (``subprocess``), timed from start to exit, so it includes Python's
own start-up and every import the command makes before it answers. The command line imports
torch only inside the commands that fuse or train, never for ``--help``. Prints the median, the
spread and the machine (CPU model and core count): the figure depends on both, and on how busy
the machine is.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

from benchmarks.common import ROOT


def time_command(args: list[str], runs: int) -> list[float]:
    """Wall seconds of ``runs`` fresh ``python -m pomai ARGS`` processes (output discarded)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pomai", *args], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    return seconds


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes to time (>= 3)")
    parser.add_argument("--args", nargs=argparse.REMAINDER, default=["--help"],
                        help="arguments after 'python -m pomai' (default: --help)")
    args = parser.parse_args(argv)
    if args.runs < 3:
        parser.error("--runs must be at least 3")
    seconds = time_command(args.args, args.runs)
    print(f"python -m pomai {' '.join(args.args)}: median {statistics.median(seconds):.3f} s "
          f"over {args.runs} runs (min {min(seconds):.3f}, max {max(seconds):.3f}); "
          f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
