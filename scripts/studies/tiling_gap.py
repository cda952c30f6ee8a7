"""Measure how far tiled fusion is from whole-image fusion, on real pairs (docs/api.md, "Tiling
gap per shipped checkpoint").

    python -m scripts.studies.tiling_gap --model NAME_OR_PATH [--tile 256] [--overlap 0.25]
        [--pairs 20] [--border 16] [--data DIR ...] [--tile-statistics] [--json OUT.json]

PoMAI has global operations (MDTA channel attention, NGMM hashing and MICM channel attention
over all pixels), so a tile sees different statistics than the whole image. By default tiled
fusion gives every tile the whole image's MDTA and MICM statistics (two passes over the tiles,
pomai.nn.image_statistics); ``--tile-statistics`` measures the one-pass mode in which each tile
uses its own. NGMM's hashing groups pixels within a tile either way. For each pair this
fuses the luminance whole and tiled and reports, per data folder: PSNR of tiled against whole
(peak 1), the largest absolute difference, and the mean absolute error within ``--border`` px of
an inner tile edge (a seam) against the error elsewhere. The target is PSNR >= 40 dB and a
border error <= 1.5x the interior error. Data folders default to MSRS test and TNO in the
development data folder (:func:`benchmarks.common.data_root`).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import torch

import pomai
from benchmarks.common import data_root
from pomai.io import prepare_pair
from pomai.tiling import window_starts
from pomai.training.data import find_pairs


def seam_mask(height: int, width: int, tile: int, overlap: float, border: int) -> torch.Tensor:
    """(H, W) bool: pixels within ``border`` px of an inner tile edge (not the image edge)."""
    masks = []
    for length in (height, width):
        size = min(tile, length)
        starts = window_starts(length, tile, overlap)
        edges = [*starts[1:], *(s + size for s in starts[:-1])]
        near = torch.zeros(length, dtype=torch.bool)
        for edge in edges:
            near[max(0, edge - border) : edge + border] = True
        masks.append(near)
    return masks[0][:, None] | masks[1][None, :]


def measure_pair(fuser: Any, ir: Path, vis: Path, tile: int, overlap: float, border: int,
                 image_statistics: bool = True) -> dict[str, Any]:
    pair = prepare_pair(ir, vis).to(fuser.device)
    whole = fuser.fuse_luminance(pair.ir, pair.vis_y)[0, 0].cpu()
    tiled = fuser.fuse_luminance(pair.ir, pair.vis_y, tile=tile, overlap=overlap,
                                 image_statistics=image_statistics)[0, 0].cpu()
    error = (tiled - whole).abs()
    mse = float(error.square().mean())
    near = seam_mask(*whole.shape, tile, overlap, border)
    return {
        "pair": ir.name,
        "size": list(whole.shape),
        "tiled": max(whole.shape) > tile,
        "psnr_db": 10 * math.log10(1 / mse) if mse > 0 else math.inf,
        "max_abs_diff": float(error.max()),
        "mae_border": float(error[near].mean()) if near.any() else None,
        "mae_interior": float(error[~near].mean()) if (~near).any() else None,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Dataset figures; the PSNR ones over the pairs that really are tiled (a pair that fits in
    one tile is fused whole, exactly, and would only lift the mean)."""
    tiled = [r for r in rows if r["tiled"]]

    def mean(key: str, among: list[dict[str, Any]]) -> float | None:
        values = [r[key] for r in among if r[key] is not None]
        return sum(values) / len(values) if values else None

    border, interior = mean("mae_border", rows), mean("mae_interior", rows)
    return {
        "pairs": len(rows),
        "tiled_pairs": len(tiled),
        "psnr_db_mean": mean("psnr_db", tiled),
        "psnr_db_min": min((r["psnr_db"] for r in tiled), default=None),
        "below_40_db": sum(r["psnr_db"] < 40 for r in tiled),
        "max_abs_diff": max(r["max_abs_diff"] for r in rows),
        "mae_border": border,
        "mae_interior": interior,
        "border_over_interior": border / interior if border and interior else None,
    }


def markdown(model: str, tile: int, overlap: float, border: int, statistics: str,
             results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"Model `{model}`, tile {tile}, overlap {overlap}, border {border} px, {statistics} "
        "statistics (`python -m scripts.studies.tiling_gap`).",
        "",
        "| data | pairs (tiled) | PSNR mean / min over tiled pairs (dB) | tiled pairs < 40 dB | "
        "max abs diff | MAE border | MAE interior | border / interior |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in results.items():
        ratio = s["border_over_interior"]
        lines.append(
            f"| {name} | {s['pairs']} ({s['tiled_pairs']}) | {_fmt_db(s['psnr_db_mean'])} / "
            f"{_fmt_db(s['psnr_db_min'])} | {s['below_40_db']} | {s['max_abs_diff']:.4f} | "
            f"{_fmt(s['mae_border'])} | {_fmt(s['mae_interior'])} | "
            f"{'n/a' if ratio is None else f'{ratio:.2f}'} |"
        )
    return "\n".join(lines)


def _fmt_db(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2e}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="released name, .safetensors or run dir")
    parser.add_argument("--data", nargs="+", type=Path,
                        default=[data_root() / "msrs" / "test", data_root() / "tno"],
                        help="folders with ir/ and vi/")
    parser.add_argument("--pairs", type=int, default=20, help="pairs per folder (first N)")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--border", type=int, default=16, help="px either side of a seam")
    parser.add_argument("--tile-statistics", action="store_true",
                        help="each tile uses its own channel statistics (one pass), instead of "
                             "the whole image's (two passes, the default)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, help="write per-pair rows and summaries here")
    args = parser.parse_args(argv)

    fuser = pomai.load(args.model, device=args.device)
    results, rows_by_data = {}, {}
    for folder in args.data:
        pairs = find_pairs(folder)[: args.pairs]
        rows = [measure_pair(fuser, ir, vis, args.tile, args.overlap, args.border,
                             image_statistics=not args.tile_statistics)
                for ir, vis in pairs]
        shared = data_root().resolve()
        name = (str(folder.resolve().relative_to(shared)) if folder.resolve().is_relative_to(shared)
                else f"{folder.parent.name}/{folder.name}")
        results[name], rows_by_data[name] = summarise(rows), rows
    statistics = "tile" if args.tile_statistics else "image"
    print(markdown(str(args.model), args.tile, args.overlap, args.border, statistics, results))
    report = {"model": str(args.model), "tile": args.tile, "overlap": args.overlap,
              "border": args.border, "statistics": statistics, "device": str(fuser.device),
              "summary": results, "pairs": rows_by_data}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
