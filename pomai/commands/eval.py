"""``pomai eval``: a Table-1-style table of fusion metrics over dataset folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pomai.commands.options import add_dtype, add_threads, add_tile, dtype_of
from pomai.errors import UsageError
from pomai.normalization import DEFAULT_NORMALIZE, NORMALIZE_MODES


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval",
        help="fuse dataset folders and print the metrics table (with average/maximum baselines)",
    )
    parser.add_argument(
        "datasets", nargs="+", metavar="DIR",
        help="dataset folder with ir/+vi/ (or mri/+ct|pet|spect/), or a folder of such folders; "
             "LABEL=DIR names it in the table",
    )
    parser.add_argument("--model", action="append", default=[], metavar="[LABEL=]NAME_OR_PATH",
                        help="a model to evaluate (repeatable); a file or run folder is labelled "
                             "by its name (a run's model.safetensors by the run folder)")
    parser.add_argument("--fused", action="append", default=[], metavar="LABEL[:DATASET]=DIR",
                        help="already fused images of a method (e.g. a peer's results), matched "
                             "by file stem; LABEL:DATASET=DIR gives the folder of one dataset "
                             "(repeat it per dataset); a dataset without a folder is left out "
                             "for that method")
    parser.add_argument("--normalize", choices=NORMALIZE_MODES, default=DEFAULT_NORMALIZE,
                        help="what fuse() does to the fused luminance: per-image min-max "
                             "stretch (default, as fuse() does by default) or nothing")
    add_tile(parser)
    parser.add_argument("--device", default="auto")
    add_dtype(parser)
    parser.add_argument("--metrics", default=None, help="comma-separated subset of metrics")
    parser.add_argument("--out", type=Path, help="write table.md, results.csv and results.json")
    parser.add_argument("--save-fused", action="store_true", help="also keep fused PNGs in --out")
    parser.add_argument("--by-dataset", action="store_true",
                        help="print one table per dataset instead of the paper's wide layout")
    parser.add_argument("--no-progress", action="store_true")
    add_threads(parser)
    parser.set_defaults(handler=run)


def model_label(name: str) -> str:
    """The table label of ``--model NAME``: a released name as is, a path by its file or run."""
    path = Path(name)
    if not path.exists():
        return name
    if path.is_file() and path.stem == "model":
        return path.resolve().parent.name
    return path.stem if path.is_file() else path.resolve().name


def run(args: argparse.Namespace) -> int:
    from pomai.evaluation import (
        FusedImages,
        baseline_methods,
        datasets_from_specs,
        evaluate,
        model_method,
    )
    from pomai.fuser import load
    from pomai.metrics import METRIC_NAMES

    datasets = datasets_from_specs(args.datasets)
    methods = {}

    def add(label: str, method: Any) -> None:
        if label in methods:
            raise UsageError(f"two methods are labelled {label!r}; name them with LABEL=..., "
                             "e.g. --model tiny=runs/a/model.safetensors")
        methods[label] = method

    for spec in args.model:
        label, _, name = spec.rpartition("=") if "=" in spec else ("", "", spec)
        add(label or model_label(name), model_method(
            load(name, device=args.device, dtype=dtype_of(args)), args.normalize,
            tile=args.tile,
        ))
    dataset_names = {d.name for d in datasets}
    fused_folders: dict[str, dict[str | None, Path]] = {}
    for spec in args.fused:
        target, _, folder = spec.partition("=")
        label, _, dataset = target.partition(":")
        if not label or not folder:
            raise UsageError(f"--fused expects LABEL=DIR or LABEL:DATASET=DIR, got {spec!r}")
        if dataset and dataset not in dataset_names:
            raise UsageError(f"--fused {target}: no dataset is labelled {dataset!r} (the "
                             f"datasets are {', '.join(sorted(dataset_names))})")
        if not Path(folder).is_dir():
            raise UsageError(f"--fused {target}: folder {folder} does not exist")
        fused_folders.setdefault(label, {})[dataset or None] = Path(folder)
    for label, folders in fused_folders.items():
        add(label, FusedImages(folders))
    for label, method in baseline_methods().items():
        add(label, method)
    metrics = tuple(args.metrics.split(",")) if args.metrics else METRIC_NAMES
    unknown = sorted(set(metrics) - set(METRIC_NAMES))
    if unknown:
        raise UsageError(f"unknown metric(s) {unknown} in --metrics; choose from "
                         f"{','.join(METRIC_NAMES)}")
    results = evaluate(
        methods, datasets, metrics=metrics, progress=not args.no_progress,
        save_fused=args.out / "fused" if args.out and args.save_fused else None,
    )
    print(results.tables_by_dataset() if args.by_dataset else results.table())
    for failure in results.failures:
        print(f"skipped: {failure}", file=sys.stderr)
    if args.out:
        results.save(args.out)
    return 1 if results.failures else 0
