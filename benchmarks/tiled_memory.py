"""Peak memory and time of fusing one large pair, whole or tiled (docs/api.md, "Memory").

    python -m benchmarks.tiled_memory --model NAME_OR_PATH [--size 4096] [--tile auto]
        [--tile-statistics] [--device auto] [--pair IR VIS]

The pair (default: the first MSRS sample pair of :func:`benchmarks.common.data_root`) is
resized to ``size × size`` (bicubic) and fused once end to end, as a user would:
``fuser.fuse(ir, vis)`` on the PIL images, colour visible image in, colour fused image out
(tiles get the image's statistics unless ``--tile-statistics``). Peak memory: on CUDA
``torch.cuda.max_memory_allocated`` during the fusion; on the CPU the process's peak resident
set (``ru_maxrss``), which also counts the model, the inputs and Python itself. The increase
over a warmed-up model, per pixel of one window, is set against the ``tile="auto"`` estimate
(:func:`pomai.fuser.bytes_per_pixel`); use ``--tile none`` with a moderate size to calibrate it
(on the CPU, with ``MALLOC_MMAP_THRESHOLD_`` large so freed memory is reused, not unmapped).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image

import pomai
from benchmarks.common import data_root
from pomai.fuser import bytes_per_pixel
from pomai.tiling import auto_tile


def _default_pair() -> tuple[Path, Path]:
    samples = data_root() / "msrs" / "samples"
    first = sorted((samples / "ir").iterdir())[0]
    return first, samples / "vi" / first.name


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="released name, .safetensors or run dir")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--tile", default="auto", help="'auto', 'none' or a tile side")
    parser.add_argument("--tile-statistics", action="store_true",
                        help="one pass, each tile with its own statistics (fuse(..., "
                        "image_statistics=False))")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--pair", nargs=2, type=Path, metavar=("IR", "VIS"))
    args = parser.parse_args(argv)
    tile = None if args.tile == "none" else args.tile if args.tile == "auto" else int(args.tile)

    fuser = pomai.load(args.model, device=args.device)
    ir_path, vis_path = args.pair or _default_pair()
    images = [Image.open(p).resize((args.size, args.size), Image.BICUBIC) for p in
              (ir_path, vis_path)]
    chosen = tile
    if tile == "auto":
        chosen = auto_tile(args.size, args.size, 1, bytes_per_pixel(fuser.config, fuser.dtype),
                           fuser.device)
    warm = torch.rand(1, 1, 32, 32, device=fuser.device)
    fuser.fuse_luminance(warm, warm)
    baseline = _peak(fuser.device, reset=True)
    start = time.perf_counter()
    fuser.fuse(*images, tile=tile, image_statistics=not args.tile_statistics)
    peak = _peak(fuser.device)
    seconds = time.perf_counter() - start
    what = "CUDA max allocated" if fuser.device.type == "cuda" else "process peak RSS"
    pixels = (chosen if isinstance(chosen, int) else args.size) ** 2
    result = {"model": str(args.model), "size": args.size, "tile": args.tile,
              "tile_used": chosen, "image_statistics": not args.tile_statistics,
              "device": str(fuser.device), "seconds": round(seconds, 2),
              "peak_bytes": peak, "peak_kind": what, "peak_increase_bytes": peak - baseline,
              "bytes_per_pixel_measured": round((peak - baseline) / pixels),
              "bytes_per_pixel_estimate": bytes_per_pixel(fuser.config, fuser.dtype)}
    statistics = "tile statistics" if args.tile_statistics else "image statistics"
    print(f"{args.size}×{args.size}, tile {args.tile} (used: {chosen or 'whole image'}; "
          f"{statistics}), {fuser.device}: {seconds:.1f} s, {what} {peak / 2**30:.2f} GiB "
          f"(+{(peak - baseline) / 2**20:.0f} MiB over the warmed model: "
          f"{result['bytes_per_pixel_measured']} B per window pixel, estimate "
          f"{result['bytes_per_pixel_estimate']:.0f})")
    return result


def _peak(device: torch.device, reset: bool = False) -> int:
    """Peak bytes so far (CUDA: allocated by PyTorch; CPU: the process's peak RSS)."""
    if device.type != "cuda":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    torch.cuda.synchronize(device)
    if reset:
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device)
    return torch.cuda.max_memory_allocated(device)


if __name__ == "__main__":
    main()
