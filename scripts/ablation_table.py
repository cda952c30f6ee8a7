"""The ablation table (paper Table 2) from the validation metrics the ablation runs logged.

    python scripts/ablation_table.py [--runs runs] [--out docs/results/ablations]

Reads ``runs/ablation-<variant>/epochs.json`` (written by ``pomai train --val``: the nine
metrics on the held-out pairs after every epoch) and ``settings.json``; for every variant whose
run has finished, takes the metrics after its last epoch, and writes ``val_table.md`` and
``val_results.json`` into ``--out``. Unfinished runs are listed with their progress.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pomai.atomic import atomic_write_bytes
from pomai.metrics import METRIC_NAMES
from pomai.training.trainer import TrainSettings, plan_phases

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "none": "PoMAI",
    "no_ngmm": "I: w/o NGMM",
    "no_camn": "II: w/o CAMN",
    "no_micm": "III: w/o MICM",
    "joint": "IV: w/o two stages",
    "no_freeze": "V: w/o weight freezing",
}


def variant_row(run: Path) -> dict[str, Any]:
    """Progress and, when finished, the last epoch's validation metrics of one run."""
    settings = TrainSettings(**json.loads((run / "settings.json").read_text()))
    planned = sum(phase.epochs for phase in plan_phases(settings))
    log = run / "epochs.json"
    epochs = json.loads(log.read_text()) if log.is_file() else []
    row: dict[str, Any] = {"run": run.name, "epochs_done": len(epochs), "epochs": planned,
                           "finished": (run / "model.safetensors").is_file()}
    if epochs:
        last = epochs[-1]
        row["global_step"] = last["global_step"]
        row["metrics"] = {name: last[name] for name in METRIC_NAMES}
    return row


def markdown(rows: dict[str, dict[str, Any]], val: str, pairs: int) -> str:
    lines = [
        f"Validation metrics after the last epoch ({pairs} pairs of `{val}`, 128×128), "
        "by `python scripts/ablation_table.py`:",
        "",
        "| variant | `--ablation` | epochs | steps | " + " | ".join(METRIC_NAMES) + " |",
        "|---|---|---|---|" + "---|" * len(METRIC_NAMES),
    ]
    for variant, row in rows.items():
        if row["finished"]:
            values = " | ".join(f"{row['metrics'][m]:.3f}" for m in METRIC_NAMES)
        else:
            values = "not finished" + " |" * (len(METRIC_NAMES) - 1)
        lines.append(f"| {VARIANTS[variant]} | `{variant}` | {row['epochs_done']} / "
                     f"{row['epochs']} | {row.get('global_step', 0)} | {values} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "ablations")
    args = parser.parse_args(argv)
    rows, settings = {}, None
    for variant in VARIANTS:
        run = args.runs / f"ablation-{variant}"
        if (run / "settings.json").is_file():
            rows[variant] = variant_row(run)
            settings = settings or json.loads((run / "settings.json").read_text())
    if settings is None:
        raise SystemExit(f"no ablation runs under {args.runs}: run scripts/ablations.sh first")
    table = markdown(rows, settings["val"], settings["val_pairs"])
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"settings": settings, "variants": rows}
    atomic_write_bytes(table.encode(), args.out / "val_table.md")
    atomic_write_bytes((json.dumps(report, indent=1) + "\n").encode(),
                       args.out / "val_results.json")


if __name__ == "__main__":
    main()
