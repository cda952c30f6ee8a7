"""Size and speed of the PoMAI network per named config (docs/architecture.md, "Cost").

    python -m benchmarks.bench_model                          # all configs, 3 sizes, 2 threads
    python -m benchmarks.bench_model --configs tiny small --sizes 128x128 640x480 --runs 7
    python -m benchmarks.bench_model --json /tmp/bench_model.json

For every (config, size) a fresh child process builds the network (seed 0, eval mode) and
reports:

- parameters;
- multiply-accumulates per output pixel: ``FlopCounterMode`` FLOPs / 2 / (H·W), counted on the
  ``meta`` device (no arithmetic, so any size is free). Convolutions and matrix products are
  counted; element-wise work (norms, activations, softmax) is not. PyTorch has no formula for
  the fused CPU attention kernel (``_scaled_dot_product_flash_attention_for_cpu``), so one is
  registered here; a start-up check verifies that the meta count equals the count of a real
  CPU forward with that formula, i.e. that NGMM's attention is in the total;
- forward latency: median of ``--runs`` (>= 5) timed forwards after ``--warmup`` untimed ones,
  ``torch.inference_mode``, ``--threads`` intra-op threads;
- peak memory: the child's resident-set high-water mark (``ru_maxrss``), which includes Python,
  torch and the weights, and its increase over the RSS just before the first forward;
- the latency as a ratio to the calibration workload ``../shared/bench/refconv.py``
  (``reference_seconds(threads)``), timed in the same child after the model (so it does not
  count towards the peak). Without that file the ratio is skipped with a message.

The forward is the stage-2 network (the full model) unless ``--stage 1``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import load_refconv, note_missing_refconv, run_child, table_lines

DEFAULT_SIZES = ("128x128", "640x480", "1024x768")  # W x H


def parse_size(text: str) -> tuple[int, int]:
    """``"640x480"`` (width x height) -> (height, width)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, got {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return h, w


def flop_mapping() -> dict[Any, Callable[..., int]]:
    """FLOP formulas PyTorch lacks: the fused CPU flash-attention kernel."""
    import torch
    from torch.utils.flop_counter import sdpa_flop_count

    def cpu_flash(query_shape: Any, key_shape: Any, value_shape: Any, *args: Any,
                  out_shape: Any = None, **kwargs: Any) -> int:
        return int(sdpa_flop_count(query_shape, key_shape, value_shape))

    return {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_flash}


def count_flops(model: Any, h: int, w: int, stage: int, device: str) -> dict[str, int]:
    """FLOPs of one forward at (1, 1, h, w), by aten op, as the network defines them.

    Counted with autograd on (no backward pass follows), so a CPU count takes the whole-image
    path of every layer, not CPU inference's blocks of rows (pomai.nn.cpu_inference), whose
    space-to-batch dilated convolution also convolves padding.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 1, h, w, device=device)
    with torch.enable_grad(), FlopCounterMode(display=False,
                                              custom_mapping=flop_mapping()) as counter:
        model(x, x, stage=stage)
    return {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}


def check_flop_counting(stage: int) -> None:
    """The meta-device count equals a real CPU count and includes the attention FLOPs."""
    import copy

    import torch

    from pomai.config import get_config
    from pomai.nn import PoMAI

    torch.manual_seed(0)
    model = PoMAI(get_config("tiny").replace(group_size=16)).eval()  # several NGMM groups
    real = count_flops(model, 40, 36, stage, "cpu")
    meta = count_flops(copy.deepcopy(model).to("meta"), 40, 36, stage, "meta")
    if sum(real.values()) != sum(meta.values()):
        raise RuntimeError(f"FLOP count differs on meta ({meta}) and CPU ({real})")
    if not real.get("aten._scaled_dot_product_flash_attention_for_cpu"):
        raise RuntimeError(f"NGMM attention is not counted: {real}")


def measure(config_name: str, h: int, w: int, args: argparse.Namespace) -> dict[str, Any]:
    """One (config, size) measurement; runs in a fresh child process."""
    import torch

    from pomai.allocator import keep_freed_memory
    from pomai.config import get_config
    from pomai.nn import PoMAI

    if args.malloc_tuning:
        keep_freed_memory()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = get_config(config_name)
    model = PoMAI(config).eval()
    params = sum(p.numel() for p in model.parameters())
    flops = count_flops(PoMAI(config).to("meta").eval(), h, w, args.stage, "meta")
    macs_per_pixel = sum(flops.values()) / 2 / (h * w)

    g = torch.Generator().manual_seed(0)
    ir, vis = torch.rand(1, 1, h, w, generator=g), torch.rand(1, 1, h, w, generator=g)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            start = time.perf_counter()
            model(ir, vis, stage=args.stage)
            if i >= args.warmup:
                times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    seconds = statistics.median(times)

    result: dict[str, Any] = {
        "config": config_name, "height": h, "width": w, "stage": args.stage,
        "threads": torch.get_num_threads(), "params": params,
        "macs_per_pixel": round(macs_per_pixel), "gmacs": round(macs_per_pixel * h * w / 1e9, 3),
        "flops_by_op": flops, "seconds_median": seconds, "seconds_all": times,
        "peak_rss_bytes": peak, "peak_rss_increase_bytes": peak - rss_before,
        "malloc_tuning": args.malloc_tuning, "torch": torch.__version__,
    }
    refconv = load_refconv() if args.ratio else None
    if refconv is not None:
        ref = refconv.reference_seconds(threads=args.threads)
        result.update(reference_seconds=ref, ratio=seconds / ref)
    return result


def measure_in_child(config_name: str, size: str, args: argparse.Namespace) -> dict[str, Any]:
    options = ["--child", config_name, size, "--threads", str(args.threads), "--runs",
               str(args.runs), "--warmup", str(args.warmup), "--stage", str(args.stage)]
    options += ["--malloc-tuning"] * args.malloc_tuning + ["--no-ratio"] * (not args.ratio)
    return run_child(__spec__.name, options, threads=args.threads,
                     label=f"{config_name} {size}")


def markdown_table(results: list[dict[str, Any]]) -> str:
    has_ratio = any("ratio" in r for r in results)
    head = ["config", "params", "size (W×H)", "MACs/pixel", "GMACs", "latency (s, median)",
            "peak RSS (MiB)", "RSS increase (MiB)"]
    if has_ratio:
        head.append("× refconv")
    rows = []
    for r in results:
        row = [
            r["config"], f"{r['params']:,}", f"{r['width']}×{r['height']}",
            f"{r['macs_per_pixel']:,}", f"{r['gmacs']:.2f}", f"{r['seconds_median']:.3f}",
            f"{r['peak_rss_bytes'] / 2**20:.0f}", f"{r['peak_rss_increase_bytes'] / 2**20:.0f}",
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
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), metavar="WxH")
    parser.add_argument("--runs", type=int, default=5, help="timed forwards (median; >= 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed forwards first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stage", type=int, choices=(1, 2), default=2)
    parser.add_argument("--malloc-tuning", action="store_true",
                        help="pomai.allocator.keep_freed_memory() in each child (as 'pomai train')")
    parser.add_argument("--no-ratio", dest="ratio", action="store_false",
                        help="skip the refconv calibration")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for size in args.sizes:
        parse_size(size)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be >= 1 and --warmup >= 0")

    if args.child:
        h, w = parse_size(args.child[1])
        print(json.dumps(measure(args.child[0], h, w, args)))
        return []

    if args.runs < 5:
        print(f"note: --runs {args.runs} < 5: a smoke test, not a measurement", file=sys.stderr)
    if args.ratio and load_refconv() is None:
        note_missing_refconv()
    check_flop_counting(args.stage)
    results = []
    for name in args.configs:
        for size in args.sizes:
            result = measure_in_child(name, size, args)
            results.append(result)
            print(f"{name} {size}: {result['seconds_median']:.3f} s, "
                  f"{result['peak_rss_bytes'] / 2**20:.0f} MiB peak", file=sys.stderr)
    print(markdown_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
