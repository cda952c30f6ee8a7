"""Where a forward pass spends its time: each module of the paper, per named config.

    python -m benchmarks.bench_modules                      # tiny and fast, 640x480, 2 threads
    python -m benchmarks.bench_modules --configs tiny fast paper --size 640x480 --runs 5

Times the network's forward (``torch.inference_mode``, channels-last as ``Fuser`` runs it on the
CPU, initial weights: the cost does not depend on their values) and, through forward hooks,
each of its five modules, summed over its calls in a forward: the shared encoder (on infrared
and visible; one call each in CPU inference), NGMM, CAMN, MICM and the decoder. Medians of
``--runs`` calls after one warm-up, in one process, followed by the calibration workload
(:func:`benchmarks.common.load_refconv`) timed in the same process with the same threads, so
every time is also a ratio to it (skipped with a message when it is absent). Prints a markdown
table; ``--json`` writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from benchmarks.common import load_refconv, note_missing_refconv
from pomai.atomic import atomic_write_bytes
from pomai.config import get_config
from pomai.nn.pomai import PoMAI

MODULES = ("encoder", "ngmm", "camn", "micm", "decoder")


def module_times(config_name: str, height: int, width: int, runs: int) -> dict[str, float]:
    """Median seconds of the whole forward (``"total"``) and of each module, (1, 1, H, W)."""
    model = PoMAI(get_config(config_name)).eval().to(memory_format=torch.channels_last)
    spent: dict[str, float] = dict.fromkeys(MODULES, 0.0)  # this forward's, summed over calls
    started: dict[str, float] = {}
    for name in MODULES:
        module = getattr(model, name)
        module.register_forward_pre_hook(
            lambda _m, _i, name=name: started.__setitem__(name, time.perf_counter()))
        module.register_forward_hook(
            lambda _m, _i, _o, name=name: spent.__setitem__(
                name, spent[name] + time.perf_counter() - started[name]))
    ir, vis = torch.rand(1, 1, height, width), torch.rand(1, 1, height, width)
    totals: list[float] = []
    samples: dict[str, list[float]] = {name: [] for name in MODULES}
    with torch.inference_mode():
        model(ir, vis)
        for _ in range(runs):
            spent.update(dict.fromkeys(MODULES, 0.0))
            start = time.perf_counter()
            model(ir, vis)
            totals.append(time.perf_counter() - start)
            for name in MODULES:
                samples[name].append(spent[name])
    return {"total": statistics.median(totals),
            **{name: statistics.median(values) for name, values in samples.items()}}


def reference_seconds(threads: int) -> float | None:
    """The calibration workload's median seconds, or None (with a message) without it."""
    refconv = load_refconv()
    if refconv is None:
        note_missing_refconv()
        return None
    return float(refconv.reference_seconds(threads=threads))


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "fast"])
    parser.add_argument("--size", default="640x480", help="W x H")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    torch.set_num_threads(args.threads)
    times = {name: module_times(name, height, width, args.runs) for name in args.configs}
    reference = reference_seconds(args.threads)
    columns = ["total", *MODULES]
    print(f"| config ({args.size}, {args.threads} threads) | "
          + " | ".join(f"{c} (s)" for c in columns) + " | total ÷ refconv |")
    print("|---|" + "---|" * (len(columns) + 1))
    for name, row in times.items():
        ratio = f"{row['total'] / reference:.2f}" if reference else "–"
        print(f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + f" | {ratio} |")
    record = {"size": args.size, "threads": args.threads, "runs": args.runs,
              "reference_seconds": reference, "seconds": times}
    if args.json:
        atomic_write_bytes((json.dumps(record, indent=1) + "\n").encode(), args.json)
    return record


if __name__ == "__main__":
    main()
