"""Time and peak memory of ``Fuser.fuse()`` against image side, per config (docs/performance.md).

    python -m benchmarks.bench_scaling                      # tiny, small, paper; 256 … 4096
    python -m benchmarks.bench_scaling --configs tiny --sides 256 512 1024 --allocator tuned
    python -m benchmarks.bench_scaling --configs tiny --sides 2048 --series tiled --merge

Every point is one :func:`benchmarks.bench_fuse.measure` in a fresh child process: a named
config with its initial (untrained) weights (speed does not depend on weight values), a synthetic
square uint8 pair (colour visible image), median of ``--runs`` ``fuse()`` calls after
``--warmup``, peak resident memory (``ru_maxrss``) and its increase over the mark before the
first call, and the ratio to ``../shared/bench/refconv.py`` timed in the same child.

Two series per config:

- **whole image** (``tile=None``) at every side whose estimated peak
  (:func:`pomai.fuser.bytes_per_pixel` × pixels, an estimate that errs high) fits in
  ``--memory-fraction`` of the available memory, and no larger side once one has failed;
- **tiled** (``tile=--tile``) at every side larger than the tile.

``--series`` picks one of them; ``--merge`` adds the points measured to those already in
``--json`` (a point measured again replaces the old one), so a table whose large points take
hours can be built in several sittings under the same settings.

Written: ``--json`` (default docs/figures/scaling.json), a log-log plot ``--plot`` (default
docs/figures/scaling.png; matplotlib, Agg backend) and a Markdown table. Check: the slope of
log(peak RSS increase) against log(pixels) fitted over the whole-image points of each config
is printed; at most 1 (+ ``SLOPE_TOLERANCE`` for noise) means memory grows at most linearly
with pixels.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from benchmarks.bench_fuse import (
    common_settings,
    config_spec,
    failure,
    new_task,
    run_task,
)
from benchmarks.bench_model import check_flop_counting
from benchmarks.common import (
    ROOT,
    ChildFailed,
    load_refconv,
    note_missing_refconv,
    table_lines,
)

DEFAULT_SIDES = (256, 512, 1024, 2048, 4096)
SLOPE_TOLERANCE = 0.1


def log_slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) against log(x); None with fewer than 2 usable points."""
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len({x for x, _ in points}) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    return (sum((x - mx) * (y - my) for x, y in points)
            / sum((x - mx) ** 2 for x, _ in points))


def memory_slopes(results: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per config: slope of log(peak RSS increase) vs log(pixels) over the whole-image points."""
    slopes: dict[str, float | None] = {}
    for config in dict.fromkeys(r["model"] for r in results):
        whole = [r for r in results if r["model"] == config and r["series"] == "whole"
                 and "seconds_median" in r]
        slopes[config] = log_slope([r["height"] * r["width"] for r in whole],
                                   [r["peak_rss_increase_bytes"] for r in whole])
    return slopes


def slope_report(slopes: dict[str, float | None]) -> list[str]:
    lines = []
    for config, slope in slopes.items():
        if slope is None:
            lines.append(f"- {config}: fewer than 2 whole-image points, no slope")
        else:
            verdict = ("at most linear in pixels" if slope <= 1 + SLOPE_TOLERANCE
                       else "FASTER than linear in pixels")
            lines.append(f"- {config}: peak RSS increase ∝ pixels^{slope:.2f} ({verdict})")
    return lines


def markdown_table(results: list[dict[str, Any]]) -> str:
    has_ratio = any("ratio" in r for r in results)
    head = ["config", "side", "series", "time (s, median)", "peak RSS (MiB)",
            "RSS increase (MiB)", "increase per pixel (B)"] + ["× refconv"] * has_ratio
    rows = []
    for r in results:
        side = f"{r['width']}²" if r["width"] == r["height"] else f"{r['width']}×{r['height']}"
        series = "whole" if r["series"] == "whole" else f"tiled {r['tile_requested']}"
        if "seconds_median" not in r:
            row = [r["model"], side, series, r.get("skipped") or f"failed: {r.get('error')}"]
            row += ["–"] * (len(head) - len(row))
        else:
            row = [r["model"], side, series, f"{r['seconds_median']:.3f}",
                   f"{r['peak_rss_bytes'] / 2**20:.0f}",
                   f"{r['peak_rss_increase_bytes'] / 2**20:.0f}",
                   f"{r['peak_rss_increase_bytes'] / (r['height'] * r['width']):.0f}"]
            row += [f"{r['ratio']:.3f}" if "ratio" in r else "–"] * has_ratio
        rows.append(row)
    return "\n".join(table_lines(head, rows))


def merge_results(old: list[dict[str, Any]], new: list[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """``old`` with ``new`` added, a point of ``new`` replacing the same point of ``old``.

    A point is (config, series, height, width); sorted by config (first seen), side, series.
    """
    def key(r: dict[str, Any]) -> tuple[str, str, int, int]:
        return r["model"], r["series"], r["height"], r["width"]

    points = {key(r): r for r in old} | {key(r): r for r in new}
    configs = list(dict.fromkeys(r["model"] for r in [*old, *new]))
    return sorted(points.values(), key=lambda r: (configs.index(r["model"]), r["width"],
                                                  r["height"], r["series"] != "whole"))


def plot(results: list[dict[str, Any]], path: Path, title: str) -> None:
    """Log-log time and peak-RSS-increase against side, one line per (config, series)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in results if "seconds_median" in r]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    configs = list(dict.fromkeys(r["model"] for r in done))
    for i, config in enumerate(configs):
        for series, style in (("whole", "o-"), ("tiled", "s--")):
            points = sorted((r["width"], r) for r in done
                            if r["model"] == config and r["series"] == series)
            if not points:
                continue
            sides = [s for s, _ in points]
            label = f"{config}, {series}" + (
                f" {points[0][1]['tile_requested']}" if series == "tiled" else "")
            colour = colours[i % len(colours)]
            ax_t.plot(sides, [r["seconds_median"] for _, r in points], style, color=colour,
                      label=label)
            ax_m.plot(sides, [r["peak_rss_increase_bytes"] / 2**20 for _, r in points], style,
                      color=colour, label=label)
    for ax, ylabel in ((ax_t, "time per fuse() (s, median)"),
                       (ax_m, "peak RSS increase (MiB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("image side (pixels)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    whole = [r for r in done if r["series"] == "whole" and r["peak_rss_increase_bytes"] > 0]
    if whole:  # a guide: memory proportional to pixels through the largest whole-image point
        top = max(whole, key=lambda r: r["peak_rss_increase_bytes"])
        xs = sorted({r["width"] for r in done})
        scale = top["peak_rss_increase_bytes"] / 2**20 / top["width"] ** 2
        ax_m.plot(xs, [scale * x * x for x in xs], ":", color="grey", label="∝ pixels")
        ax_m.legend(fontsize=8)
    sides = sorted({r["width"] for r in done})
    if sides:
        ax_t.set_xticks(sides, [str(s) for s in sides])
        ax_m.set_xticks(sides, [str(s) for s in sides])
    ax_t.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    from pomai.config import NAMED_CONFIGS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "small", "paper"],
                        choices=sorted(NAMED_CONFIGS), metavar="NAME")
    parser.add_argument("--sides", nargs="+", type=int, default=list(DEFAULT_SIDES))
    parser.add_argument("--tile", type=int, default=512, help="tile of the tiled series")
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--series", nargs="+", choices=("whole", "tiled"),
                        default=["whole", "tiled"], help="which series to measure")
    parser.add_argument("--runs", type=int, default=3, help="timed calls per point (median)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--allocator", choices=("default", "tuned"), default="default")
    parser.add_argument("--memory-fraction", type=float, default=0.5,
                        help="whole image only where the estimated peak fits in this fraction "
                        "of the available memory")
    parser.add_argument("--no-ratio", dest="ratio", action="store_false")
    parser.add_argument("--in-process", action="store_true",
                        help="no child processes (tests; peak RSS is then not per point)")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "figures" / "scaling.json")
    parser.add_argument("--merge", action="store_true",
                        help="add to the points already in --json instead of replacing them")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "figures" / "scaling.png")
    parser.add_argument("--no-plot", dest="plot", action="store_const", const=None)
    args = parser.parse_args(argv)
    args.pair = None
    if args.runs < 1 or args.warmup < 1 or args.tile < 1 or min(args.sides) < 1:
        parser.error("--runs, --warmup, --tile and --sides must be >= 1")
    if args.runs < 3:
        print(f"note: --runs {args.runs}: a smoke test, not a measurement", file=sys.stderr)
    if args.merge and not (args.json and args.json.is_file()):
        parser.error(f"--merge: no earlier results in {args.json}; run once without --merge")
    if args.ratio and load_refconv() is None:
        note_missing_refconv()

    import torch

    from pomai.atomic import atomic_write_bytes
    from pomai.config import get_config
    from pomai.fuser import bytes_per_pixel
    from pomai.tiling import free_memory

    settings = (f"threads {args.threads}, allocator {args.allocator}, "
                f"torch {torch.__version__}, synthetic colour pairs")
    earlier: list[dict[str, Any]] = []
    if args.merge:
        saved = json.loads(args.json.read_text())
        if saved["settings"] != settings:
            parser.error(f"--merge: {args.json} was measured with \"{saved['settings']}\", "
                         f"this run would be \"{settings}\"; use the same --threads and "
                         "--allocator, or another --json")
        earlier = saved["results"]
    check_flop_counting(2)
    budget = args.memory_fraction * free_memory(torch.device("cpu"))
    common = common_settings(args)
    results: list[dict[str, Any]] = []
    for name in args.configs:
        spec = config_spec(name)
        whole_failed = False
        for side in sorted(args.sides):
            estimate = bytes_per_pixel(get_config(name)) * side * side
            series: list[tuple[str, int | None]] = []
            if "whole" in args.series:
                series.append(("whole", None))
            if "tiled" in args.series and side > args.tile:
                series.append(("tiled", args.tile))
            for kind, tile in series:
                task = new_task(common, spec, device="cpu", dtype="float32", mode="single",
                                size=(side, side), tile=tile, runs=args.runs)
                entry = {"model": name, "series": kind, "height": side, "width": side,
                         "tile_requested": tile}
                if kind == "whole" and (whole_failed or estimate > budget):
                    entry["skipped"] = (
                        "not run: a smaller side failed" if whole_failed else
                        f"not run: estimate {estimate / 2**30:.1f} GiB > "
                        f"{budget / 2**30:.1f} GiB budget")
                    results.append(entry)
                    continue
                try:
                    result = run_task(task)
                except ChildFailed as err:
                    print(err, file=sys.stderr)
                    whole_failed = whole_failed or kind == "whole"
                    results.append({**entry, **failure(task, err), "model": name,
                                    "series": kind})
                    continue
                results.append({**result, "model": name, "series": kind})
                print(f"{name} {side}² {kind}: {result['seconds_median']:.3f} s, "
                      f"{result['peak_rss_bytes'] / 2**20:.0f} MiB peak RSS", file=sys.stderr)

    results = merge_results(earlier, results)
    slopes = memory_slopes(results)
    print(markdown_table(results))
    print("\nPeak memory against pixels, whole image (log-log slope):")
    print("\n".join(slope_report(slopes)))
    done = [r for r in results if "seconds_median" in r]
    if args.json:  # atomically: with --merge it holds every earlier point
        text = json.dumps({"settings": settings, "memory_slopes": slopes, "results": results},
                          indent=1)
        atomic_write_bytes(text.encode(), args.json)
    if args.plot and done:
        plot(results, args.plot, f"pomai fuse() scaling, CPU float32, {settings}")
        print(f"plot: {args.plot}", file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
