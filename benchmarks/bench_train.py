"""Training-step time and memory per named config (docs/training.md, "Measured step times").

    python -m benchmarks.bench_train            # all configs, both stages, 128×128, batch 8
    python -m benchmarks.bench_train --configs tiny --stages 1 --runs 10 --json /tmp/train.json

For every (config, stage) a fresh child process writes a synthetic folder of 128×128 pairs and
runs the project's own :class:`pomai.training.Trainer` (``--threads`` threads, batch ``--batch``,
crop ``--crop``) for ``--warmup + --runs`` optimiser steps, all in one epoch so no checkpoint is
written between them. A step's time is the wall time between consecutive ``on_step`` callbacks:
data sampling, forward, loss, backward, Adam and the loss logging, exactly as in a real run.
Stage 2 starts from ``--init`` weights of a freshly initialised network (its cost does not
depend on the weights). Reported per (config, stage):

- median step time of the timed steps, and images per second (batch / median);
- peak memory: the child's resident-set high-water mark (``ru_maxrss``, includes Python, torch,
  the data and the weights) and its increase over the RSS just before training;
- the step time as a ratio to ``../shared/bench/refconv.py``'s ``reference_seconds(threads)``
  measured in the same child afterwards (skipped with a message if the file is absent);
- hours for the paper's schedule on MSRS-train (1083 pairs, 80 + 20 epochs) at this speed.

Like ``pomai train``, each child calls :func:`pomai.allocator.keep_freed_memory` unless
``--no-malloc-tuning``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    load_refconv,
    note_missing_refconv,
    run_child,
    structured_image,
    table_lines,
)

MSRS_TRAIN_PAIRS = 1083
PAPER_EPOCHS = {1: 80, 2: 20}


def write_pairs(root: Path, count: int, side: int) -> None:
    """``count`` synthetic grey pairs (:func:`benchmarks.common.structured_image`) of
    ``side × side`` pixels."""
    from PIL import Image

    for sub in ("ir", "vi"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        for j, sub in enumerate(("ir", "vi")):
            Image.fromarray(structured_image((side, side), 2 * i + j)).save(root / sub / f"{i}.png")


def measure(config_name: str, stage: int, args: argparse.Namespace) -> dict[str, Any]:
    """One (config, stage) measurement; runs in a fresh child process."""
    import torch

    import pomai.training.trainer as trainer_module
    from pomai.allocator import keep_freed_memory
    from pomai.training import Trainer, TrainSettings

    if args.malloc_tuning:
        keep_freed_memory()
    trainer_module.plot_loss_curve = lambda *a: None  # after the timed steps anyway
    steps = args.warmup + args.runs
    with tempfile.TemporaryDirectory(prefix="pomai-bench-train-") as tmp:
        root = Path(tmp)
        write_pairs(root / "data", args.batch * steps, args.crop)
        init = None
        if stage == 2:
            from pomai.checkpoint import export_weights
            from pomai.nn import PoMAI

            model = TrainSettings(data="", out="", config=config_name).model_config()
            torch.manual_seed(0)
            (root / "init").mkdir()
            init = str(export_weights(PoMAI(model), root / "init", inference_stage=1,
                                      training={}))
        settings = TrainSettings(
            data=str(root / "data"), out=str(root / "run"), config=config_name,
            stage=str(stage), epochs_stage1=1, epochs_stage2=1,  # type: ignore[arg-type]
            batch=args.batch, crop=args.crop, seed=0, init=init, threads=args.threads,
            checkpoint_every=10**9, progress=False,
        )
        trainer = Trainer(settings)
        stamps: list[float] = []
        peak: list[int] = []

        def on_step(global_step: int, loss: float) -> None:
            stamps.append(time.perf_counter())
            if global_step == steps:
                peak.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        stamps.append(time.perf_counter())
        trainer.run(on_step=on_step)
    durations = [b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True)][args.warmup :]
    seconds = statistics.median(durations)
    images_per_second = args.batch / seconds
    result: dict[str, Any] = {
        "config": config_name, "stage": stage, "batch": args.batch, "crop": args.crop,
        "threads": torch.get_num_threads(), "step_seconds_median": seconds,
        "step_seconds_all": durations, "images_per_second": images_per_second,
        "peak_rss_bytes": peak[0], "peak_rss_increase_bytes": peak[0] - rss_before,
        "paper_schedule_hours": PAPER_EPOCHS[stage] * MSRS_TRAIN_PAIRS / images_per_second / 3600,
        "malloc_tuning": args.malloc_tuning, "torch": torch.__version__,
    }
    refconv = load_refconv() if args.ratio else None
    if refconv is not None:
        ref = refconv.reference_seconds(threads=args.threads)
        result.update(reference_seconds=ref, ratio=seconds / ref)
    return result


def measure_in_child(config_name: str, stage: int, args: argparse.Namespace) -> dict[str, Any]:
    options = ["--child", config_name, str(stage), "--threads", str(args.threads), "--runs",
               str(args.runs), "--warmup", str(args.warmup), "--batch", str(args.batch),
               "--crop", str(args.crop)]
    options += ["--no-malloc-tuning"] * (not args.malloc_tuning)
    options += ["--no-ratio"] * (not args.ratio)
    return run_child(__spec__.name, options, threads=args.threads,
                     label=f"{config_name} stage {stage}")


def markdown_table(results: list[dict[str, Any]]) -> str:
    has_ratio = any("ratio" in r for r in results)
    head = ["config", "stage", "batch × crop", "step (s, median)", "images/s", "peak RSS (MiB)",
            "RSS increase (MiB)", "paper schedule (h)"]
    if has_ratio:
        head.append("× refconv")
    rows = []
    for r in results:
        row = [
            r["config"], str(r["stage"]), f"{r['batch']} × {r['crop']}²",
            f"{r['step_seconds_median']:.3f}", f"{r['images_per_second']:.1f}",
            f"{r['peak_rss_bytes'] / 2**20:.0f}", f"{r['peak_rss_increase_bytes'] / 2**20:.0f}",
            f"{r['paper_schedule_hours']:.1f}",
        ]
        if has_ratio:
            row.append(f"{r['ratio']:.2f}" if "ratio" in r else "–")
        rows.append(row)
    return "\n".join(table_lines(head, rows))


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    from pomai.config import NAMED_CONFIGS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=sorted(NAMED_CONFIGS),
                        choices=sorted(NAMED_CONFIGS), metavar="NAME")
    parser.add_argument("--stages", nargs="+", type=int, choices=(1, 2), default=[1, 2])
    parser.add_argument("--runs", type=int, default=5, help="timed steps (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-malloc-tuning", dest="malloc_tuning", action="store_false")
    parser.add_argument("--no-ratio", dest="ratio", action="store_false",
                        help="skip the refconv calibration")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "STAGE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 1:
        parser.error("--runs and --warmup must be >= 1 (the first step includes set-up)")

    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args)))
        return []

    if args.runs < 5:
        print(f"note: --runs {args.runs} < 5: a smoke test, not a measurement", file=sys.stderr)
    if args.ratio and load_refconv() is None:
        note_missing_refconv()
    results = []
    for name in args.configs:
        for stage in args.stages:
            result = measure_in_child(name, stage, args)
            results.append(result)
            print(f"{name} stage {stage}: {result['step_seconds_median']:.3f} s/step, "
                  f"{result['images_per_second']:.1f} images/s", file=sys.stderr)
    print(markdown_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
