"""End-to-end ``Fuser.fuse()`` speed and memory, colour in and colour out (docs/performance.md).

    python -m benchmarks.bench_fuse                         # shipped checkpoints + config paper
    python -m benchmarks.bench_fuse --config tiny --config paper --allocator tuned
    python -m benchmarks.bench_fuse --model runs/x/model.safetensors --dtype float32 bfloat16
    python -m benchmarks.bench_fuse --device cuda           # ms/frame in float32 and float16
    python -m benchmarks.bench_fuse --json /tmp/bench_fuse.json
    python -m benchmarks.bench_fuse --model msrs --onnx --sizes 640x480 --tiled-sizes --batch 0

Models: every checkpoint of the weights manifest (``pomai.list_models()``), plus ``--model``
(a name, ``.safetensors`` file or run folder; repeatable) and ``--config NAME`` (repeatable):
a named config with its initial, untrained weights (seed 0). Speed does not depend on weight
values, so such rows are labelled "config NAME (untrained weights, speed only)". With neither
``--model`` nor ``--config``: the shipped checkpoints and config ``paper``.

Inputs: a uint8 H×W infrared numpy array and a uint8 H×W×3 visible one (the colour path: BT.601
luminance in, chroma re-attached, uint8 colour out). By default they are synthetic and
structured (blurred noise, a ramp and a blob, made at 1/8 scale and upscaled bicubically;
the network's cost does not depend on the content); ``--pair IR VIS`` uses two real images,
resized bicubically to each size instead. ``--tensor-inputs``: single frames are uint8 tensors
already on the measured device, (1, 1, H, W) and (1, 3, H, W), and so is the output (on CUDA:
a CUDA tensor in, a CUDA tensor out, the detection pipeline's case).

Measurements, each in a fresh child process (``--in-process`` runs them in this one: for
tests; peak memory then means nothing):

- single frames at ``--sizes`` whole-image and at ``--tiled-sizes`` with ``tile=--tile``
  (``"auto"`` is resolved with :func:`pomai.tiling.auto_tile` before the timing and the tile
  used is reported): median of ``--runs`` timed ``fuse()`` calls after ``--warmup`` untimed ones;
- batched throughput: ``--batch`` frames at ``--batch-size`` fused in one call (uint8 tensors
  (B, 1, H, W) infrared and (B, 3, H, W) visible) against the same frames in B single calls,
  frames per second of each;
- peak memory: the child's resident-set high-water mark (``ru_maxrss``: Python, torch, the
  weights and the inputs included) and its increase over the mark just before the first call;
  on CUDA also ``torch.cuda.max_memory_allocated``;
- MACs per frame: ``bench_model.count_flops`` on the ``meta`` device (convolutions and matrix
  products, NGMM's attention included), at the image size, or at the tile size times the
  number of windows when tiled; achieved GMAC/s = that / median time (end to end, so a lower
  bound on the network's own rate);
- on the CPU, every time as a ratio to the calibration workload ``../shared/bench/refconv.py``
  timed in the same child afterwards (same threads, same allocator setting), and the
  achieved GMAC/s as a fraction of the reference's; skipped with a message if it is absent.

Options: ``--threads`` (default 2; also OMP_NUM_THREADS of the children), ``--allocator tuned``
(:func:`pomai.allocator.keep_freed_memory` at the start of each child, before anything else
allocates; default: glibc as it is), ``--compile`` (``pomai.load(..., compile=True)``:
``torch.compile``, one graph per input shape; the first call's extra time over the median is
reported as compile time, and each child starts with an empty inductor cache, so it is what a
first run sees),
``--dtype`` (CPU: float32, bfloat16; CUDA: float32, float16, bfloat16; default float32 on the
CPU and float32 + float16 on CUDA), ``--device`` (default: cpu, and cuda when available).
``--profile DIR`` profiles one more call of each measurement after its timing and its peak
memory (torch.profiler): operators by self time, overall and by input shape
(``DIR/<measurement>.txt``), and a Chrome trace (``.trace.json``, for chrome://tracing or
Perfetto).
``--onnx`` adds, for every model and ``--sizes``, a CPU row "NAME · ONNX Runtime": the model
exported with ``pomai.export_onnx`` (not timed) and run in ONNX Runtime (``--threads`` intra-op
threads) inside the numpy colour pipeline of examples/onnx_fuse.py, which does what
``fuse()`` does around the network; its ratio to refconv is measured as for the other rows.
A measurement whose child fails (an error, out of memory) is listed under "Failed" and the
run goes on.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.bench_model import check_flop_counting, count_flops, parse_size
from benchmarks.common import (
    ChildFailed,
    load_example,
    load_refconv,
    mib,
    note_missing_refconv,
    run_child,
    structured,
    table_lines,
)

DEFAULT_SIZES = ("640x480", "1280x1024")  # W x H, whole image
DEFAULT_TILED_SIZES = ("4096x4096",)
DEFAULT_BATCH_SIZE = "640x480"
UNTRAINED = "untrained weights, speed only"
# Set by apply_allocator() in this process (children: first thing they do).
ALLOCATOR_APPLIED: dict[str, bool] = {"tuned": False}


def apply_allocator(name: str) -> None:
    """``"tuned"``: :func:`pomai.allocator.keep_freed_memory` (call before torch allocates)."""
    if name == "tuned" and not ALLOCATOR_APPLIED["tuned"]:
        from pomai.allocator import keep_freed_memory

        ALLOCATOR_APPLIED["tuned"] = keep_freed_memory()


def parse_tile(text: str) -> int | str | None:
    if text in ("auto", "none"):
        return None if text == "none" else "auto"
    try:
        value = int(text)
    except ValueError:
        message = f"tile must be auto, none or an int, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"tile must be positive, got {text!r}")
    return value


# -- inputs -------------------------------------------------------------------------------------


def synthetic_frame(h: int, w: int, seed: int) -> tuple[Any, Any]:
    """uint8 (h, w) infrared and (h, w, 3) visible images, made at 1/8 scale and upscaled."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = (max(8, -(-h // 8)), max(8, -(-w // 8)))

    def upscale(image: Any) -> Any:
        grey = Image.fromarray((image * 255).round().astype(np.uint8))
        return np.asarray(grey.resize((w, h), Image.BICUBIC))

    ir = upscale(structured(*small, rng))
    vis = np.stack([upscale(structured(*small, rng)) for _ in range(3)], axis=-1)
    return ir, vis


def real_frame(h: int, w: int, pair: list[str]) -> tuple[Any, Any]:
    """The ``--pair`` images as uint8 (h, w) infrared and (h, w, 3) visible, resized bicubic."""
    import numpy as np
    from PIL import Image

    with Image.open(pair[0]) as ir, Image.open(pair[1]) as vis:
        return (np.asarray(ir.convert("L").resize((w, h), Image.BICUBIC)),
                np.asarray(vis.convert("RGB").resize((w, h), Image.BICUBIC)))


# -- one measurement ----------------------------------------------------------------------------


def build_fuser(task: dict[str, Any]) -> Any:
    """The task's Fuser: a released name / local checkpoint, or a config's initial weights."""
    import torch

    import pomai
    from pomai.config import get_config
    from pomai.fuser import Fuser
    from pomai.nn import PoMAI

    dtype = getattr(torch, task["dtype"])
    if task["model_kind"] == "config":
        torch.manual_seed(0)
        model = PoMAI(get_config(task["model"]))
        return Fuser(model, stage=2, device=task["device"], dtype=dtype,
                     source=f"config {task['model']} ({UNTRAINED})",
                     compile=task.get("compile", False))
    return pomai.load(task["model"], device=task["device"], dtype=dtype,
                      compile=task.get("compile", False))


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _timed(fn: Callable[[], Any], warmup: int, runs: int, sync: Callable[[], None]
           ) -> tuple[float, list[float]]:
    """(duration of the first call, durations of the ``runs`` calls after ``warmup``)."""
    durations = []
    for _ in range(warmup + runs):
        start = time.perf_counter()
        fn()
        sync()
        durations.append(time.perf_counter() - start)
    return durations[0], durations[warmup:]


def measure(task: dict[str, Any]) -> dict[str, Any]:
    """One (model, device, dtype, size, mode) measurement, described by ``task`` (see
    :func:`build_tasks`); runs in a fresh child process unless ``--in-process``."""
    import numpy as np
    import torch

    from pomai.fuser import bytes_per_pixel
    from pomai.nn import PoMAI
    from pomai.tiling import auto_tile, window_starts

    torch.set_num_threads(task["threads"])
    fuser = build_fuser(task)
    device, config = fuser.device, fuser.config
    h, w, mode = task["height"], task["width"], task["mode"]
    frames = task["batch"] if mode == "batch" else 1
    tile = task["tile"]
    if tile == "auto":
        tile = auto_tile(h, w, 1, bytes_per_pixel(config, fuser.dtype), device)
    if tile is None:
        windows, (th, tw) = 1, (h, w)
    else:
        windows = len(window_starts(h, tile, task["overlap"])) * len(
            window_starts(w, tile, task["overlap"]))
        th, tw = min(tile, h), min(tile, w)
    flops = count_flops(PoMAI(config).to("meta").eval(), th, tw, fuser.stage, "meta")
    macs_window = sum(flops.values()) / 2
    macs_frame = macs_window * windows

    make = (lambda i: real_frame(h, w, task["pair"])) if task["pair"] else (
        lambda i: synthetic_frame(h, w, i))

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    result: dict[str, Any] = {}
    call: Callable[[], Any]
    if mode == "single":
        ir, vis = make(0)
        if task["tensor_inputs"]:  # uint8 tensors (1, 1, H, W) and (1, 3, H, W) on the device
            ir = torch.from_numpy(ir)[None, None].to(device)
            vis = torch.from_numpy(vis).permute(2, 0, 1)[None].contiguous().to(device)

        def call() -> Any:
            return fuser.fuse(ir, vis, tile=tile, overlap=task["overlap"])

        if task.get("runtime") == "onnxruntime":
            call = onnx_runtime_call(fuser, ir, vis, task["threads"])
        rss_before = _maxrss()  # after an export: the increase is the runtime's own

        first, times = _timed(call, task["warmup"], task["runs"], sync)
    else:
        pairs = [make(i) for i in range(frames)]
        ir_b = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
        vis_b = torch.from_numpy(np.stack([p[1] for p in pairs])).permute(0, 3, 1, 2).contiguous()
        del pairs
        rss_before = _maxrss()
        singles_first, singles = _timed(
            lambda: [fuser.fuse(ir_b[i : i + 1], vis_b[i : i + 1]) for i in range(frames)],
            task["warmup"], task["runs"], sync)
        singles_median = statistics.median(singles)
        result.update(
            singles_seconds_median=singles_median, singles_seconds_all=singles,
            singles_frames_per_second=frames / singles_median,
            singles_peak_rss_bytes=_maxrss(),
            singles_compile_seconds=singles_first - singles_median if task["compile"] else None,
        )

        def call() -> Any:
            return fuser.fuse(ir_b, vis_b)

        first, times = _timed(call, task["warmup"], task["runs"], sync)
    peak = _maxrss()
    seconds = statistics.median(times)
    per_frame = seconds / frames
    result.update(
        label=task["label"], model_kind=task["model_kind"], model=task["model"],
        width_channels=config.width, stage=fuser.stage, device=str(device),
        dtype=task["dtype"], mode=mode, height=h, width=w, batch=frames,
        tile_requested=task["tile"], tile=tile, windows=windows, overlap=task["overlap"],
        threads=torch.get_num_threads(), allocator=task["allocator"],
        allocator_applied=ALLOCATOR_APPLIED["tuned"], compile=task["compile"],
        compile_seconds=first - seconds if task["compile"] else None,
        runs=task["runs"], warmup=task["warmup"], seconds_median=seconds, seconds_all=times,
        seconds_per_frame=per_frame, frames_per_second=1 / per_frame,
        macs_per_pixel=round(macs_window / (th * tw)), gmacs_per_frame=macs_frame / 1e9,
        gmacs_per_second=macs_frame / 1e9 / per_frame,
        peak_rss_bytes=peak, peak_rss_increase_bytes=peak - rss_before,
        cuda_peak_bytes=torch.cuda.max_memory_allocated(device) if device.type == "cuda"
        else None,
        input=("pair " + " ".join(task["pair"]) if task["pair"] else "synthetic")
        + (", uint8 tensors on the device" if task["tensor_inputs"] and mode == "single" else ""),
        fresh_process=not task["in_process"], torch=torch.__version__,
    )
    if task.get("profile"):
        result["profile"] = profile_call(call, sync, Path(task["profile"]), task, device.type)
    refconv = load_refconv() if task["ratio"] and device.type == "cpu" else None
    if refconv is not None:
        ref = refconv.reference_seconds(threads=task["threads"])
        ref_gmacs = refconv.MACS / ref / 1e9
        result.update(reference_seconds=ref, reference_gmacs_per_second=ref_gmacs,
                      ratio=per_frame / ref,
                      gmacs_fraction_of_reference=result["gmacs_per_second"] / ref_gmacs)
        if mode == "batch":
            result["singles_ratio"] = result["singles_seconds_median"] / frames / ref
    return result


def onnx_runtime_call(fuser: Any, ir: Any, vis: Any, threads: int) -> Callable[[], Any]:
    """``fuse(ir, vis)`` as an ONNX Runtime deployment runs it: the exported network inside
    examples/onnx_fuse.py's numpy colour pipeline."""
    import onnxruntime as ort

    import pomai

    pipeline = load_example("onnx_fuse")
    with tempfile.TemporaryDirectory(prefix="pomai-bench-onnx-") as folder:
        pomai.export_onnx(fuser, Path(folder) / "model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(Path(folder) / "model.onnx"), options,
                                       providers=["CPUExecutionProvider"])
    return lambda: pipeline.fuse(session, ir, vis)


def profile_call(call: Callable[[], Any], sync: Callable[[], None], folder: Path,
                 task: dict[str, Any], device_type: str) -> str:
    """One more (untimed) call under torch.profiler; writes the operator tables (by self time,
    and by self time and input shape) and a Chrome trace; returns the table's path."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if device_type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities, record_shapes=True) as prof:
        call()
        sync()
    events = prof.key_averages()
    sort = "self_cpu_time_total"
    if device_type == "cuda":  # torch < 2.4 names the device time after CUDA
        sort = ("self_device_time_total" if events and hasattr(events[0], "self_device_time_total")
                else "self_cuda_time_total")
    stem = re.sub(r"[^A-Za-z0-9.]+", "_", describe(task)).strip("_")
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / f"{stem}.txt"
    table.write_text(
        f"{describe(task)}: one fuse() call, threads {task['threads']}\n\n"
        + events.table(sort_by=sort, row_limit=30) + "\n\nBy input shape:\n\n"
        + prof.key_averages(group_by_input_shape=True).table(sort_by=sort, row_limit=30))
    prof.export_chrome_trace(str(folder / f"{stem}.trace.json"))
    return str(table)


# -- driver -------------------------------------------------------------------------------------


def measure_in_child(task: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pomai-bench-inductor-") as cache:
        # An empty inductor cache: the compile time a first run sees.
        env = {"TORCHINDUCTOR_CACHE_DIR": cache} if task["compile"] else None
        return run_child(__spec__.name, ["--child", json.dumps(task)], threads=task["threads"],
                         label=describe(task), env=env)


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """``measure(task)`` in this process (``in_process``) or in a fresh child."""
    if task["in_process"]:
        apply_allocator(task["allocator"])
        return measure(task)
    return measure_in_child(task)


def failure(task: dict[str, Any], err: ChildFailed) -> dict[str, Any]:
    """A result entry for a failed measurement: the task, the exit status, the error's end."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "Killed" in line]
    return {**task, "tile_requested": task["tile"], "returncode": err.returncode,
            "error": (errors or lines or ["(no output)"])[-1]}


def describe(task: dict[str, Any]) -> str:
    size = f"{task['width']}x{task['height']}"
    what = f"batch {task['batch']} × {size}" if task["mode"] == "batch" else size
    tile = f", tile {task['tile']}" if task["tile"] is not None else ""
    return f"{task['label']} {task['device']} {task['dtype']} {what}{tile}"


def model_specs(args: argparse.Namespace) -> list[dict[str, str]]:
    """(kind, name, label) of every model to measure, in order."""
    from pomai.manifest import list_models

    chosen = bool(args.model or args.config)
    specs = []
    if args.shipped or not chosen:
        specs += [{"model_kind": "checkpoint", "model": n, "label": n} for n in list_models()]
    specs += [{"model_kind": "path", "model": m, "label": m} for m in args.model]
    specs += [config_spec(name) for name in (args.config if chosen else ["paper"])]
    return specs


def dtypes_for(device: str, requested: list[str] | None) -> list[str]:
    if requested is None:
        return ["float32", "float16"] if device == "cuda" else ["float32"]
    return [d for d in requested if device == "cuda" or d != "float16"]


def common_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The task fields shared by every measurement of one invocation."""
    return {
        "threads": args.threads, "allocator": args.allocator,
        "compile": getattr(args, "compile", False), "ratio": args.ratio, "warmup": args.warmup,
        "overlap": args.overlap, "pair": [str(p) for p in args.pair] if args.pair else None,
        "in_process": args.in_process, "tensor_inputs": args.tensor_inputs,
        "profile": str(args.profile.resolve()) if getattr(args, "profile", None) else None,
    }


def new_task(common: dict[str, Any], spec: dict[str, str], *, device: str, dtype: str,
             mode: str, size: tuple[int, int], tile: int | str | None, runs: int,
             batch: int = 1) -> dict[str, Any]:
    """One measurement for :func:`measure`, as a JSON-able dict."""
    return {**common, **spec, "device": device, "dtype": dtype, "mode": mode,
            "height": size[0], "width": size[1], "tile": tile, "runs": runs, "batch": batch}


def config_spec(name: str) -> dict[str, str]:
    return {"model_kind": "config", "model": name, "label": f"config {name} ({UNTRAINED})"}


def build_tasks(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every measurement the arguments ask for, in order."""
    common = common_settings(args)
    tasks = []
    for spec in model_specs(args):
        for device in args.device:
            for dtype in dtypes_for(device, args.dtype):
                kw = {"device": device, "dtype": dtype}
                tasks += [new_task(common, spec, **kw, mode="single", size=parse_size(size),
                                   tile=None, runs=args.runs) for size in args.sizes]
                tasks += [new_task(common, spec, **kw, mode="single", size=parse_size(size),
                                   tile=args.tile, runs=args.tiled_runs or args.runs)
                          for size in args.tiled_sizes]
                if args.batch > 0:
                    tasks.append(new_task(common, spec, **kw, mode="batch",
                                          size=parse_size(args.batch_size), tile=None,
                                          runs=args.runs, batch=args.batch))
        if args.onnx:
            onnx_spec = {**spec, "label": f"{spec['label']} · ONNX Runtime",
                         "runtime": "onnxruntime"}
            tasks += [new_task(common, onnx_spec, device="cpu", dtype="float32", mode="single",
                               size=parse_size(size), tile=None, runs=args.runs)
                      for size in args.sizes]
    return tasks


# -- report -------------------------------------------------------------------------------------


def _time(seconds: float, device: str) -> str:
    return f"{seconds * 1e3:.1f} ms" if device.startswith("cuda") else f"{seconds:.3f} s"


def _tile(r: dict[str, Any]) -> str:
    if r["tile_requested"] is None:
        return "whole"
    used = "whole" if r["tile"] is None else f"{r['tile']} ({r['windows']} windows)"
    return f"auto → {used}" if r["tile_requested"] == "auto" else used


def markdown_table(results: list[dict[str, Any]]) -> str:
    """The single-frame table, the batched-throughput table and a settings line."""
    lines: list[str] = []
    failed = [r for r in results if "error" in r]
    results = [r for r in results if "error" not in r]
    singles = [r for r in results if r["mode"] == "single"]
    batches = [r for r in results if r["mode"] == "batch"]
    has_ratio = any("ratio" in r for r in results)
    has_cuda = any(r["cuda_peak_bytes"] is not None for r in results)
    has_compile = any(r["compile"] for r in results)
    if singles:
        head = ["model", "device", "dtype", "size (W×H)", "tile", "runs", "time/frame (median)",
                "GMACs/frame", "GMAC/s", "peak RSS (MiB)", "RSS increase (MiB)"]
        head += ["CUDA peak (MiB)"] * has_cuda + ["compile (s)"] * has_compile
        head += ["× refconv", "GMAC/s ÷ refconv's"] * has_ratio
        rows = []
        for r in singles:
            row = [r["label"], r["device"], r["dtype"], f"{r['width']}×{r['height']}", _tile(r),
                   str(r["runs"]), _time(r["seconds_per_frame"], r["device"]),
                   f"{r['gmacs_per_frame']:.2f}", f"{r['gmacs_per_second']:.1f}",
                   mib(r["peak_rss_bytes"]), mib(r["peak_rss_increase_bytes"])]
            row += [mib(r["cuda_peak_bytes"])] * has_cuda
            row += [f"{r['compile_seconds']:.1f}" if r["compile"] else "–"] * has_compile
            if has_ratio:
                row += ([f"{r['ratio']:.3f}", f"{r['gmacs_fraction_of_reference']:.2f}"]
                        if "ratio" in r else ["–", "–"])
            rows.append(row)
        lines += ["Single frames (`fuse(ir, vis)`, uint8 numpy in, uint8 colour out):", "",
                  *table_lines(head, rows), ""]
    if batches:
        head = ["model", "device", "dtype", "frames × size", "runs", "one batched call (frames/s)",
                "single calls (frames/s)", "speed-up", "peak RSS singles (MiB)",
                "peak RSS batched (MiB)"]
        head += ["CUDA peak (MiB)"] * has_cuda
        head += ["× refconv per frame (batched / single)"] * has_ratio
        rows = []
        for r in batches:
            row = [r["label"], r["device"], r["dtype"],
                   f"{r['batch']} × {r['width']}×{r['height']}", str(r["runs"]),
                   f"{r['frames_per_second']:.2f}", f"{r['singles_frames_per_second']:.2f}",
                   f"{r['frames_per_second'] / r['singles_frames_per_second']:.2f}×",
                   mib(r["singles_peak_rss_bytes"]), mib(r["peak_rss_bytes"])]
            row += [mib(r["cuda_peak_bytes"])] * has_cuda
            if has_ratio:
                row += ([f"{r['ratio']:.3f} / {r['singles_ratio']:.3f}"] if "ratio" in r
                        else ["–"])
            rows.append(row)
        lines += ["Batched throughput (uint8 tensors (B, 1, H, W) and (B, 3, H, W) in one "
                  "`fuse` call, against B calls of one frame):", "", *table_lines(head, rows), ""]
    if results:
        r = results[0]
        allocator = "tuned (keep_freed_memory)" if r["allocator"] == "tuned" else "glibc default"
        if r["allocator"] == "tuned" and not r["allocator_applied"]:
            allocator += " — NOT applied (not glibc/Linux)"
        lines.append(
            f"Threads {r['threads']}, allocator {allocator}, input {r['input']}, torch "
            f"{r['torch']}" + ("" if r["fresh_process"] else
                               "; measured in one process (--in-process): peak RSS is not "
                               "per measurement") + ".")
    if failed:
        lines += ["", "Failed:", ""]
        lines += [f"- {describe(r)}: exit {r['returncode']}: {r['error']}" for r in failed]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    from pomai.config import NAMED_CONFIGS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", default=[], metavar="NAME_OR_PATH",
                        help="a released name, .safetensors file or run folder (repeatable)")
    parser.add_argument("--config", action="append", default=[], metavar="NAME",
                        choices=sorted(NAMED_CONFIGS),
                        help="a named config with untrained weights, speed only (repeatable)")
    parser.add_argument("--shipped", action="store_true",
                        help="also every shipped checkpoint when --model/--config are given")
    parser.add_argument("--sizes", nargs="*", default=list(DEFAULT_SIZES), metavar="WxH",
                        help="whole-image sizes")
    parser.add_argument("--tiled-sizes", nargs="*", default=list(DEFAULT_TILED_SIZES),
                        metavar="WxH", help="sizes fused with tile=--tile")
    parser.add_argument("--tile", type=parse_tile, default="auto",
                        help="tile for --tiled-sizes: auto (default), none or a side")
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--batch", type=int, default=8, help="frames per batched call; 0: skip")
    parser.add_argument("--batch-size", default=DEFAULT_BATCH_SIZE, metavar="WxH")
    parser.add_argument("--runs", type=int, default=5, help="timed calls (median; >= 5)")
    parser.add_argument("--tiled-runs", type=int, help="timed calls for --tiled-sizes "
                        "(default: --runs)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls first (>= 1)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--allocator", choices=("default", "tuned"), default="default",
                        help="tuned: pomai.allocator.keep_freed_memory() at child start")
    parser.add_argument("--compile", action="store_true", help="pomai.load(..., compile=True)")
    parser.add_argument("--dtype", nargs="+", choices=("float32", "bfloat16", "float16"),
                        help="default: float32 on the CPU, float32 and float16 on CUDA")
    parser.add_argument("--device", nargs="+", choices=("cpu", "cuda"),
                        help="default: cpu, and cuda when available")
    parser.add_argument("--pair", nargs=2, type=Path, metavar=("IR", "VIS"),
                        help="real images (resized) instead of synthetic ones")
    parser.add_argument("--tensor-inputs", action="store_true",
                        help="single frames as uint8 tensors already on the device (a CUDA "
                             "tensor in, a CUDA tensor out) instead of numpy arrays")
    parser.add_argument("--onnx", action="store_true",
                        help="also time each model exported to ONNX in ONNX Runtime (CPU)")
    parser.add_argument("--no-ratio", dest="ratio", action="store_false",
                        help="skip the refconv calibration")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="after the timing, profile one more call of each measurement "
                        "(torch.profiler): operator tables and a Chrome trace in DIR")
    parser.add_argument("--in-process", action="store_true",
                        help="no child processes (tests; peak RSS is then not per measurement)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # before anything else allocates
        task = json.loads(argv[1])
        apply_allocator(task["allocator"])
        print(json.dumps(measure(task)))
        return []

    parser = build_parser()
    args = parser.parse_args(argv)
    for size in [*args.sizes, *args.tiled_sizes, args.batch_size]:
        try:
            parse_size(size)
        except argparse.ArgumentTypeError as err:
            parser.error(str(err))
    if args.runs < 1 or args.warmup < 1 or (args.tiled_runs or 1) < 1 or args.batch < 0:
        parser.error("--runs, --tiled-runs and --warmup must be >= 1, --batch >= 0")
    if args.tiled_sizes and args.tile is None:
        parser.error("--tiled-sizes need --tile auto or a side (or pass --tiled-sizes alone)")
    import torch

    cuda = torch.cuda.is_available()
    args.device = args.device or (["cpu", "cuda"] if cuda else ["cpu"])
    if "cuda" in args.device and not cuda:
        parser.error("--device cuda: CUDA is not available")

    if min(args.runs, args.tiled_runs or args.runs) < 5:
        print("note: fewer than 5 timed runs: a smoke test, not a measurement", file=sys.stderr)
    if args.ratio and load_refconv() is None:
        note_missing_refconv()
    if args.in_process and args.allocator == "tuned":
        print("note: --in-process --allocator tuned tunes this process, after start-up",
              file=sys.stderr)
    check_flop_counting(2)
    tasks = build_tasks(args)
    if not tasks:
        parser.error("nothing to measure: no shipped checkpoint, --model or --config")
    results = []
    for task in tasks:
        try:
            result = run_task(task)
        except ChildFailed as err:  # record it and go on: one failure must not lose a long run
            print(err, file=sys.stderr)
            results.append(failure(task, err))
            continue
        results.append(result)
        print(f"{describe(task)}: {result['seconds_per_frame']:.3f} s/frame, "
              f"{result['peak_rss_bytes'] / 2**20:.0f} MiB peak RSS", file=sys.stderr)
    print(markdown_table(results))
    if args.json:
        from pomai.atomic import atomic_write_bytes

        atomic_write_bytes(json.dumps(results, indent=1).encode(), args.json)
    return results


if __name__ == "__main__":
    main()
