"""Reproduce docs/analysis.md: the Figure 1 modality study on MSRS test128 (361 pairs).

    python -m scripts.studies.run_analysis                       # numbers + docs/figures/...png
    python -m scripts.studies.run_analysis --json /tmp/msrs.json # also the full per-pair result

The data is read from the development data folder (:func:`benchmarks.common.data_root`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, data_root
from pomai.analysis import analyze_folder, format_summary, plot_analysis
from pomai.metrics import read_grey


def _raw_gradient_p(result: dict, ir_dir: Path, vis_dir: Path) -> tuple[float, float]:
    """P statistic of the mean gradient magnitude without GCR's intensity normalisation."""
    diffs = []
    for pair in result["pairs"]:
        g = []
        for folder in (ir_dir, vis_dir):
            gy, gx = np.gradient(read_grey(folder / pair["name"]).astype(np.float64))
            g.append(float(np.sqrt(gx * gx + gy * gy).mean()))
        diffs.append(g[0] - g[1])
    d = np.array(diffs)
    return float(np.mean(d > 0)), float(np.mean(d < 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=data_root() / "msrs" / "test128")
    parser.add_argument(
        "--figure", type=Path, default=ROOT / "docs" / "figures" / "analysis_msrs_test128.png"
    )
    parser.add_argument("--json", type=Path, help="write the full result here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (args.data / "ir").is_dir():
        print(f"no data at {args.data}: set POMAI_SHARED_DATA or pass --data", file=sys.stderr)
        return 2

    result = analyze_folder(args.data / "ir", args.data / "vi", seed=args.seed)
    print(format_summary(result))
    up, down = _raw_gradient_p(result, args.data / "ir", args.data / "vi")
    print(
        f"\nmean gradient magnitude without normalisation: P(IR > VIS) {up:.3f}, "
        f"P(IR < VIS) {down:.3f}"
    )
    plot_analysis(result, args.figure)
    print(f"figure: {args.figure}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
