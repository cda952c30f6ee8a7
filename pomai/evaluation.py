"""Evaluate fusion methods on dataset folders, laid out like the paper's Table 1.

Every table has two floors computed on the fly: the pixel-wise average and the pixel-wise
maximum of the two sources. Sources are read as MATLAB grey (``pomai.metrics.read_grey``); a
model fuses those grey levels (visible luminance) and its output is post-processed as the field's
test scripts do (per-image min–max stretch to [0, 255], then rounding to uint8) unless
``postprocess="none"`` (clip and round only).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pomai.errors import InputError
from pomai.folders import images_by_stem
from pomai.metrics import METRIC_NAMES, compute_all, read_grey

Postprocess = Literal["minmax", "none"]
# Folder pairs recognised inside a dataset folder: (infrared role, visible role). Medical
# pairs follow the CDDFuse convention: MRI takes the infrared role, CT/PET/SPECT the visible one.
ROLE_FOLDERS = (("ir", "vi"), ("ir", "vis"), ("mri", "ct"), ("mri", "pet"), ("mri", "spect"))

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""A fusion method on uint8 grey arrays: ``(ir, vis) -> fused`` (H, W) uint8."""


@dataclass(frozen=True)
class Dataset:
    """Aligned pairs: ``name``, the infrared-role and visible-role folders."""

    name: str
    ir_dir: Path
    vis_dir: Path

    def pairs(self) -> list[tuple[str, Path, Path]]:
        """(stem, ir path, vis path) for every stem present in both folders, sorted."""
        ir = images_by_stem(self.ir_dir)
        vis = images_by_stem(self.vis_dir)
        return [(s, ir[s], vis[s]) for s in sorted(set(ir) & set(vis))]


def find_datasets(root: str | Path, name: str | None = None) -> list[Dataset]:
    """The datasets in ``root``: itself when it holds a known folder pair (``ir/`` + ``vi/``,
    ``mri/`` + ``ct/``, ...), else each sub-folder that does (e.g. harvard/MRI_CT)."""
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
    children = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
    for ir, vis in ROLE_FOLDERS:
        if ir in children and vis in children:
            return Dataset(name, children[ir], children[vis])
    return None


def average_fusion(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """Pixel-wise mean of the sources, rounded (half up) to uint8."""
    return np.floor((ir.astype(np.float64) + vis) / 2 + 0.5).astype(np.uint8)


def maximum_fusion(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """Pixel-wise maximum of the sources."""
    return np.maximum(ir, vis)


def to_uint8(fused: np.ndarray, postprocess: Postprocess) -> np.ndarray:
    """Float fused image in [0, 1] -> uint8, with the per-image min–max stretch or without."""
    fused = fused.astype(np.float64)
    if postprocess == "minmax":
        low, high = fused.min(), fused.max()
        fused = (fused - low) / (high - low) if high > low else np.zeros_like(fused)
    elif postprocess != "none":
        raise ValueError(f"postprocess must be 'minmax' or 'none', got {postprocess!r}")
    return np.floor(np.clip(fused, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def model_method(fuser: Any, postprocess: Postprocess = "minmax", tile: Any = None) -> Method:
    """A :data:`Method` from a :class:`pomai.fuser.Fuser`: fuse grey levels, post-process."""
    import torch

    def to_tensor(grey: np.ndarray) -> torch.Tensor:
        return torch.tensor(grey, dtype=torch.float32).div(255)[None, None]

    def fuse(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
        fused = fuser.fuse_luminance(to_tensor(ir), to_tensor(vis), tile=tile)
        return to_uint8(fused[0, 0].cpu().numpy(), postprocess)

    return fuse


def folder_method(folder: str | Path) -> Method:
    """Read already fused images from ``folder`` (matched by stem) instead of fusing."""
    images = images_by_stem(Path(folder))

    def read(ir: np.ndarray, vis: np.ndarray, stem: str = "") -> np.ndarray:
        if stem not in images:
            raise FileNotFoundError(f"no fused image for {stem!r} in {folder}")
        return read_grey(images[stem])

    read.needs_stem = True  # type: ignore[attr-defined]
    return read


@dataclass
class Results:
    """Per-image metric values: ``values[method][dataset][image] = {metric: value}``."""

    metrics: Sequence[str] = METRIC_NAMES
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

    @property
    def datasets(self) -> list[str]:
        seen: dict[str, None] = {}
        for per_dataset in self.values.values():
            seen.update(dict.fromkeys(per_dataset))
        return list(seen)

    def table(self) -> str:
        """Markdown: rows are methods; columns are datasets × metrics (paper Table 1)."""
        header = ["Method"] + [f"{d} {m}" for d in self.datasets for m in self.metrics]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for method in self.methods:
            cells = [method]
            for d in self.datasets:
                cells += [f"{v:.4g}" for v in self.mean(method, d).values()]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def tables_by_dataset(self) -> str:
        """Markdown, one table per dataset: rows are methods, columns are metrics."""
        parts = []
        for d in self.datasets:
            n = max(len(self.values[m].get(d, {})) for m in self.methods)
            lines = [f"**{d}** ({n} pairs)", "", "| Method | " + " | ".join(self.metrics) + " |",
                     "|" + "---|" * (len(self.metrics) + 1)]
            for method in self.methods:
                means = self.mean(method, d).values()
                lines.append(f"| {method} | " + " | ".join(f"{v:.4g}" for v in means) + " |")
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def to_csv(self) -> str:
        """One row per (method, dataset, image); image ``mean`` rows hold the dataset means."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["method", "dataset", "image", *self.metrics])
        for method, per_dataset in self.values.items():
            for dataset, images in per_dataset.items():
                for image, values in images.items():
                    writer.writerow([method, dataset, image, *(values[m] for m in self.metrics)])
                mean = self.mean(method, dataset)
                writer.writerow([method, dataset, "mean", *(mean[m] for m in self.metrics)])
        return out.getvalue()

    def to_json(self) -> str:
        means = {m: {d: self.mean(m, d) for d in self.values[m]} for m in self.methods}
        return json.dumps(
            {"metrics": list(self.metrics), "means": means, "per_image": self.values,
             "failures": self.failures},
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
    """Run every method on every pair and compute ``metrics``; a failing pair is recorded in
    ``Results.failures`` and skipped, never fatal. ``save_fused`` keeps the fused images."""
    from tqdm.auto import tqdm

    from pomai.atomic import atomic_write_image

    results = Results(metrics=tuple(metrics))
    for method in methods:
        results.values[method] = {}
    for dataset in datasets:
        pairs = dataset.pairs()
        for method in methods:
            results.values[method][dataset.name] = {}
        for stem, ir_path, vis_path in tqdm(pairs, desc=dataset.name, disable=not progress):
            try:
                ir, vis = read_grey(ir_path), read_grey(vis_path)
                if ir.shape != vis.shape:
                    raise ValueError(f"sizes differ: ir {ir.shape}, vis {vis.shape}")
            except (OSError, ValueError) as err:
                results.failures.append(f"{dataset.name}/{stem}: {err}")
                continue
            for name, method in methods.items():
                try:
                    if getattr(method, "needs_stem", False):
                        fused = method(ir, vis, stem)  # type: ignore[call-arg]
                    else:
                        fused = method(ir, vis)
                    if save_fused is not None:
                        atomic_write_image(fused, save_fused / name / dataset.name / f"{stem}.png")
                    values = compute_all(fused, ir, vis, metrics=metrics)
                except (OSError, ValueError, RuntimeError) as err:
                    results.failures.append(f"{name} on {dataset.name}/{stem}: {err}")
                    continue
                results.values[name][dataset.name][stem] = values
    return results


def baseline_methods() -> dict[str, Method]:
    return {"Average": average_fusion, "Maximum": maximum_fusion}
