"""Evaluate fusion methods on dataset folders, laid out like the paper's Table 1.

A model is evaluated on exactly what a user gets: :meth:`pomai.fuser.Fuser.fuse` is called on
the source files with its defaults (BT.601 luminance of a colour visible image, the per-image
min–max stretch of the fused luminance, chroma re-attached, rounding to uint8), and the metrics
are computed on that image read as MATLAB grey, as they would be on its saved PNG. Sources are
read as MATLAB grey (``pomai.metrics.read_grey``) for the metrics.

Every table has two floors computed on the fly, the pixel-wise average and the pixel-wise
maximum of the two sources, and a mean-rank column: per dataset, each metric ranks the methods
(1 = best; every metric is better when higher; ties share the mean of their ranks), and a
method's mean rank is the mean of its ranks over the metrics.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pomai.errors import InputError
from pomai.folders import ROLE_FOLDERS, images_by_stem, pair_folders, role_folders
from pomai.metrics import METRIC_NAMES, as_grey_uint8, compute_all, read_grey
from pomai.normalization import DEFAULT_NORMALIZE, Normalize

RANK_COLUMN = "Rank"


@dataclass(frozen=True)
class Pair:
    """One pair of a dataset: its dataset's name, stem, source files and their MATLAB grey
    levels (H, W) uint8."""

    dataset: str
    stem: str
    ir_path: Path
    vis_path: Path
    ir: np.ndarray
    vis: np.ndarray


Method = Callable[[Pair], np.ndarray]
"""A fusion method: ``pair -> fused`` uint8 image, (H, W) grey or (H, W, 3) RGB."""


@dataclass(frozen=True)
class Dataset:
    """Aligned pairs: ``name``, the infrared-role and visible-role folders."""

    name: str
    ir_dir: Path
    vis_dir: Path

    def pairs(self) -> list[tuple[str, Path, Path]]:
        """(stem, ir path, vis path) for every stem present in both folders, sorted."""
        return pair_folders(self.ir_dir, self.vis_dir).pairs


def find_datasets(root: str | Path, name: str | None = None) -> list[Dataset]:
    """The datasets in ``root``: itself when it holds a known folder pair (``ir/`` + ``vi/``,
    ``mri/`` + ``ct/``, ...: :data:`pomai.folders.ROLE_FOLDERS`), else each sub-folder that does
    (e.g. harvard/MRI_CT)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"dataset folder {root} does not exist: check the path")
    found = _dataset_in(root, name or root.name)
    if found:
        return [found]
    datasets = [
        d
        for sub in sorted(p for p in root.iterdir() if p.is_dir())
        if (d := _dataset_in(sub, f"{name or root.name}/{sub.name}"))
    ]
    if not datasets:
        known = ", ".join(f"{a}/+{b}/" for a, b in ROLE_FOLDERS)
        raise InputError(f"no image pairs in {root}: expected sub-folders {known}")
    return datasets


def datasets_from_specs(specs: Iterable[str]) -> list[Dataset]:
    """The datasets of command-line specs ``DIR`` or ``LABEL=DIR`` (LABEL names it in tables)."""
    datasets = []
    for spec in specs:
        label, _, folder = spec.rpartition("=") if "=" in spec else ("", "", spec)
        datasets += find_datasets(folder, name=label or None)
    return datasets


def _dataset_in(folder: Path, name: str) -> Dataset | None:
    found = role_folders(folder)
    return None if found is None else Dataset(name, *found)


def average_fusion(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """Pixel-wise mean of the sources, rounded (half up) to uint8."""
    return np.floor((ir.astype(np.float64) + vis) / 2 + 0.5).astype(np.uint8)


def maximum_fusion(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """Pixel-wise maximum of the sources."""
    return np.maximum(ir, vis)


def baseline_methods() -> dict[str, Method]:
    """The two floors of every table, on the sources' grey levels."""
    return {"Average": lambda pair: average_fusion(pair.ir, pair.vis),
            "Maximum": lambda pair: maximum_fusion(pair.ir, pair.vis)}


def model_method(
    fuser: Any, normalize: Normalize = DEFAULT_NORMALIZE, tile: Any = "auto"
) -> Method:
    """A :data:`Method` from a :class:`pomai.fuser.Fuser`: ``fuse()`` on the source files."""

    def fuse(pair: Pair) -> np.ndarray:
        return np.asarray(fuser.fuse(pair.ir_path, pair.vis_path, normalize=normalize, tile=tile))

    return fuse


class FusedImages:
    """A method whose fused images already exist (e.g. a peer's results), matched by file stem.

    ``folders`` maps a dataset name to the folder of that dataset's fused images; the key None
    serves every dataset not named. A dataset with no folder is not evaluated for this method
    (it has no row in that dataset's table); a missing image is a failure of that pair.
    """

    def __init__(self, folders: Mapping[str | None, str | Path]) -> None:
        self.folders = {name: Path(folder) for name, folder in folders.items()}
        self._images = {name: images_by_stem(folder) for name, folder in self.folders.items()}

    def _key(self, dataset: str) -> str | None:
        return dataset if dataset in self.folders else None

    def covers(self, dataset: Dataset) -> bool:
        return self._key(dataset.name) in self.folders

    def __call__(self, pair: Pair) -> np.ndarray:
        key = self._key(pair.dataset)
        image = self._images[key].get(pair.stem)
        if image is None:
            raise FileNotFoundError(f"no fused image for {pair.stem!r} in {self.folders[key]}")
        return read_grey(image)


def mean_ranks(means: dict[str, dict[str, float]], metrics: Sequence[str]) -> dict[str, float]:
    """``{method: mean rank}`` from ``means[method][metric]`` (every metric: higher is better).

    Per metric, methods are ranked 1 (best) to n; tied methods share the mean of their ranks;
    a method's mean rank is the mean over ``metrics``.
    """
    methods = list(means)
    totals = dict.fromkeys(methods, 0.0)
    for metric in metrics:
        values = [means[m][metric] for m in methods]
        for method, value in zip(methods, values, strict=True):
            better = sum(v > value for v in values)
            tied = sum(v == value for v in values)
            totals[method] += better + (tied + 1) / 2
    return {m: totals[m] / len(metrics) for m in methods}


@dataclass
class Results:
    """Per-image metric values: ``values[method][dataset][image] = {metric: value}``.

    ``datasets`` in evaluation order; a method that was not evaluated on a dataset has no entry
    for it.
    """

    metrics: Sequence[str] = METRIC_NAMES
    datasets: list[str] = field(default_factory=list)
    values: dict[str, dict[str, dict[str, dict[str, float]]]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def mean(self, method: str, dataset: str) -> dict[str, float]:
        images = self.values.get(method, {}).get(dataset, {})
        return {
            m: float(np.mean([v[m] for v in images.values()])) if images else math.nan
            for m in self.metrics
        }

    @property
    def methods(self) -> list[str]:
        return list(self.values)

    def methods_on(self, dataset: str) -> list[str]:
        """The methods with at least one image measured on ``dataset``."""
        return [m for m in self.methods if self.values[m].get(dataset)]

    def mean_ranks(self, dataset: str) -> dict[str, float]:
        """``{method: mean rank over the metrics}`` among the methods measured on ``dataset``."""
        return mean_ranks({m: self.mean(m, dataset) for m in self.methods_on(dataset)},
                          self.metrics)

    def table(self) -> str:
        """Markdown: rows are methods; columns are datasets × (metrics, rank) (paper Table 1)."""
        columns = [*self.metrics, RANK_COLUMN]
        header = ["Method"] + [f"{d} {c}" for d in self.datasets for c in columns]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        ranks = {d: self.mean_ranks(d) for d in self.datasets}
        for method in self.methods:
            cells = [method]
            for d in self.datasets:
                if method in ranks[d]:
                    cells += [f"{v:.4g}" for v in self.mean(method, d).values()]
                    cells.append(f"{ranks[d][method]:.2f}")
                else:
                    cells += ["–"] * len(columns)
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def tables_by_dataset(self) -> str:
        """Markdown, one table per dataset: rows are methods, columns are metrics and rank."""
        parts = []
        for d in self.datasets:
            ranks = self.mean_ranks(d)
            n = max(len(self.values[m].get(d, {})) for m in self.methods)
            lines = [f"**{d}** ({n} pairs)", "",
                     "| Method | " + " | ".join([*self.metrics, RANK_COLUMN]) + " |",
                     "|" + "---|" * (len(self.metrics) + 2)]
            for method, rank in ranks.items():
                cells = [f"{v:.4g}" for v in self.mean(method, d).values()] + [f"{rank:.2f}"]
                lines.append(f"| {method} | " + " | ".join(cells) + " |")
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def to_csv(self) -> str:
        """One row per (method, dataset, image); image ``mean`` rows hold the dataset means and,
        in the last column, the method's mean rank on the dataset."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["method", "dataset", "image", *self.metrics, "mean_rank"])
        ranks = {d: self.mean_ranks(d) for d in self.datasets}
        for method, per_dataset in self.values.items():
            for dataset, images in per_dataset.items():
                for image, values in images.items():
                    writer.writerow([method, dataset, image,
                                     *(values[m] for m in self.metrics), ""])
                mean = self.mean(method, dataset)
                writer.writerow([method, dataset, "mean", *(mean[m] for m in self.metrics),
                                 ranks[dataset].get(method, "")])
        return out.getvalue()

    def to_json(self) -> str:
        means = {m: {d: self.mean(m, d) for d in self.values[m]} for m in self.methods}
        return json.dumps(
            {"metrics": list(self.metrics), "means": means,
             "mean_rank": {d: self.mean_ranks(d) for d in self.datasets},
             "per_image": self.values, "failures": self.failures},
            indent=1,
        )

    def save(self, folder: str | Path) -> None:
        """Write table.md, tables_by_dataset.md, results.csv and results.json (atomically)."""
        from pomai.atomic import atomic_write_bytes

        folder = Path(folder)
        atomic_write_bytes((self.table() + "\n").encode(), folder / "table.md")
        atomic_write_bytes((self.tables_by_dataset() + "\n").encode(),
                           folder / "tables_by_dataset.md")
        atomic_write_bytes(self.to_csv().encode(), folder / "results.csv")
        atomic_write_bytes(self.to_json().encode(), folder / "results.json")


def evaluate(
    methods: dict[str, Method],
    datasets: Iterable[Dataset],
    metrics: Sequence[str] = METRIC_NAMES,
    progress: bool = True,
    save_fused: Path | None = None,
) -> Results:
    """Run every method on every pair and compute ``metrics`` on its output read as MATLAB
    grey; a failing pair is recorded in ``Results.failures`` and skipped, never fatal.
    ``save_fused`` keeps each method's fused images (``<method>/<dataset>/<stem>.png``)."""
    from tqdm.auto import tqdm

    from pomai.atomic import atomic_write_image

    results = Results(metrics=tuple(metrics))
    for method in methods:
        results.values[method] = {}
    for dataset in datasets:
        results.datasets.append(dataset.name)
        active = {name: method for name, method in methods.items()
                  if not isinstance(method, FusedImages) or method.covers(dataset)}
        for name in active:
            results.values[name][dataset.name] = {}
        for stem, ir_path, vis_path in tqdm(dataset.pairs(), desc=dataset.name,
                                            disable=not progress):
            try:
                pair = Pair(dataset.name, stem, ir_path, vis_path, read_grey(ir_path),
                            read_grey(vis_path))
                if pair.ir.shape != pair.vis.shape:
                    raise ValueError(f"sizes differ: ir {pair.ir.shape}, vis {pair.vis.shape}")
            except (OSError, ValueError) as err:
                results.failures.append(f"{dataset.name}/{stem}: {err}")
                continue
            for name, method in active.items():
                try:
                    fused = method(pair)
                    if save_fused is not None:
                        atomic_write_image(fused, save_fused / name / dataset.name / f"{stem}.png")
                    grey = as_grey_uint8(fused, name=f"{name} on {dataset.name}/{stem}")
                    values = compute_all(grey, pair.ir, pair.vis, metrics=metrics)
                except (OSError, ValueError, RuntimeError) as err:
                    results.failures.append(f"{name} on {dataset.name}/{stem}: {err}")
                    continue
                results.values[name][dataset.name][stem] = values
    return results
