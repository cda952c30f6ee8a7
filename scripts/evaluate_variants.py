"""One checkpoint evaluated several ways on the same pairs: its stage-1 network (encoder →
NGMM/CAMN → decoder, MICM skipped: paper Eq. 12), its stage-2 network (through MICM, Eq. 13),
and in bfloat16 at the stage it is served at.

    python scripts/evaluate_variants.py --model msrs msrs=../shared/data/msrs/test \\
        tno=../shared/data/tno --out docs/results/variants/msrs

Answers two questions with the project's metrics (docs/models.md, docs/performance.md): which
stage should this checkpoint be served at, and what does the bfloat16 opt-in cost in quality.
The served variant's label ends in "(served)". Writes table.md, tables_by_dataset.md,
results.csv and results.json to ``--out`` (:meth:`pomai.evaluation.Results.save`). Stage 1 is
exact for checkpoints trained in two stages: stage 2 trains MICM alone with the encoder and
decoder frozen, so the stage-1 path is the network at the end of stage 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pomai.evaluation import Results, datasets_from_specs, evaluate, model_method
from pomai.fuser import Fuser, load
from pomai.metrics import METRIC_NAMES

VARIANTS = ("stage1", "stage2", "bfloat16")


def fusers(model: str, variants: list[str]) -> dict[str, Fuser]:
    """Label → Fuser for each requested variant of ``model`` (CPU)."""
    served = load(model, device="cpu")
    made = {}
    for variant in variants:
        if variant == "bfloat16":
            made[f"{model} bfloat16 (stage {served.stage})"] = load(model, device="cpu",
                                                                    dtype=torch.bfloat16)
            continue
        stage = int(variant[-1])
        label = f"{model} stage {stage}" + (" (served)" if stage == served.stage else "")
        made[label] = served if stage == served.stage else load(model, device="cpu", stage=stage)
    return made


def main(argv: list[str] | None = None) -> Results:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="+", metavar="[LABEL=]DIR",
                        help="dataset folder (as for pomai eval); LABEL names it in the tables")
    parser.add_argument("--model", default="msrs", help="released name, .safetensors or run dir")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--metrics", help="comma-separated subset of metrics (default: all)")
    parser.add_argument("--out", type=Path, help="write the tables and results here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    try:
        datasets = datasets_from_specs(args.datasets)
    except ValueError as err:
        parser.error(str(err))
    methods = {label: model_method(fuser) for label, fuser in
               fusers(args.model, args.variants).items()}
    metrics = tuple(args.metrics.split(",")) if args.metrics else METRIC_NAMES
    results = evaluate(methods, datasets, metrics=metrics, progress=not args.no_progress)
    print(results.tables_by_dataset())
    if args.out is not None:
        results.save(args.out)
    return results


if __name__ == "__main__":
    main()
