"""Does the training scale cost quality at test scale? The same MSRS scenes at two resolutions.

The MSRS training pairs here are whole 640×480 frames downscaled to 128×128, while the test
pairs are full resolution. This fuses the 20 full-resolution test scenes at 640×480 and the same
20 scenes from msrs/test128 at 128×128, and reports each model metric relative to the
pixel-maximum baseline at the same scale, so the two scales can be compared:

    python -m scripts.studies.scale_gap --model msrs [--data DATA/msrs]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.common import data_root
from pomai.evaluation import Dataset, baseline_methods, evaluate, model_method
from pomai.fuser import load
from pomai.metrics import METRIC_NAMES


def common_scenes(full: Path, small: Path, link_root: Path) -> list[Dataset]:
    """The scenes present at both scales, as two datasets of symlinks under ``link_root``."""
    names = {p.name for p in (full / "ir").iterdir()} & {p.name for p in (small / "ir").iterdir()}
    datasets = []
    for label, source in (("640×480", full), ("128×128", small)):
        for modality in ("ir", "vi"):
            folder = link_root / label / modality
            folder.mkdir(parents=True)
            for name in names:
                (folder / name).symlink_to((source / modality / name).resolve())
        datasets.append(Dataset(label, link_root / label / "ir", link_root / label / "vi"))
    return datasets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", type=Path, default=data_root() / "msrs", help="the msrs folder")
    args = parser.parse_args(argv)
    fuser = load(args.model, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        datasets = common_scenes(args.data / "test", args.data / "test128", Path(tmp))
        results = evaluate({"model": model_method(fuser), "Maximum": baseline_methods()["Maximum"]},
                           datasets,
                           progress=False)
    print(results.tables_by_dataset())
    print("\nmodel / Maximum at each scale (1.0 = as good as the pixel maximum):\n")
    print("| scale | " + " | ".join(METRIC_NAMES) + " |")
    print("|" + "---|" * (len(METRIC_NAMES) + 1))
    for d in results.datasets:
        model, floor = results.mean("model", d), results.mean("Maximum", d)
        cells = [f"{model[m] / floor[m]:.3f}" if floor[m] else "—" for m in METRIC_NAMES]
        print(f"| {d} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
