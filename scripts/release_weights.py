"""Write the weights manifest from finished training runs and measured metrics.

    python scripts/release_weights.py --export      # runs/<run>/model.safetensors -> package
    scripts/evaluate_release.sh                     # -> docs/results/eval/results.json
    python -m scripts.studies.tiling_gap --model pomai/weights/NAME.safetensors --pairs 10 \
        --json docs/results/tiling/NAME.json        # for each release
    python scripts/release_weights.py
    python scripts/make_golden.py                   # loads by name: after the manifest

Loading a release by name checks the manifest's sha256, so until this script has rewritten the
manifest only paths work (hence the paths above).

``--export`` copies each run's exported weights, byte for byte, into
pomai/weights/<name>.safetensors. runs/ keeps only a run's records, not its weights: retrain the
run first (``pomai train --from-config runs/<run>/settings.json --out runs/<run>``), or put the
exported file back at runs/<run>/model.safetensors. Without ``--export``: checks that each
bundled file is the file its run exported (sha256 in runs/<run>/manifest_entry.json), then
writes its entry, with the run's training record and the metrics ``pomai eval`` measured, into
pomai/weights_manifest.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pomai.atomic import atomic_write_bytes
from pomai.checkpoint import MANIFEST_ENTRY_NAME, WEIGHTS_NAME, sha256_of
from pomai.commands.weights import dataset_name
from pomai.manifest import BUNDLED_DIR, MANIFEST_PATH, SCHEMA_VERSION, read_manifest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
LICENCE = (
    "Apache-2.0 (the weights, like the code). Trained on MSRS, whose images carry their own "
    "terms: research use; check them before commercial use."
)
INPUT = {
    "infrared": "grey, 1 channel (3 identical channels accepted); uint16 stretched min-max "
                "per image",
    "visible": "BT.601 luminance Y; a colour image's Cb/Cr are re-attached to the fused Y",
    "range": "[0, 1] float (uint8 / 255; uint16 visible / 65535)",
    "output": "fused luminance stretched min-max per image (fuse()'s default, "
              "normalize='minmax'; what the metrics measure), then the visible chroma",
}
RELEASES: list[dict[str, Any]] = [
    {
        "name": "msrs",
        "aliases": ["msrs-tiny", "pomai-msrs"],
        "run": "runs/msrs-tiny-unfrozen-e50",
        "base": "runs/msrs-tiny",
        "description": "PoMAI, narrow `tiny` configuration (C = 16, 35,519 parameters), "
                       "infrared-visible, trained on MSRS, then fine-tuned with every weight "
                       "trained in stage 2. The default: fast on a CPU.",
        "hardware": "base run: steps 1-2060 on 2 CPU cores (11,567 s), steps 2061-3350 on one "
                    "H200 GPU; fine-tune on 2 CPU cores",
    },
    {
        "name": "msrs-paper",
        "aliases": ["msrs-c64", "pomai-msrs-paper"],
        "run": "runs/msrs-paper-unfrozen-e15",
        "base": "runs/msrs-paper",
        "description": "PoMAI at the paper's width (`paper`, C = 64, 846,291 parameters), "
                       "infrared-visible, trained on MSRS with half the paper's schedule, then "
                       "fine-tuned with every weight trained in stage 2.",
        "hardware": "one H200 GPU",
    },
]


def training_record(release: dict[str, Any], exported: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``training`` field: the base run's record, then the fine-tune's.

    A release is the run ``release["run"]``, which started (``--init``) from the weights the
    run ``release["base"]`` exported; steps and wall time count both.
    """
    base = json.loads((ROOT / release["base"] / MANIFEST_ENTRY_NAME).read_text())["training"]
    tune = exported["training"]
    b, t = base["settings"], tune["settings"]
    steps = base["steps"] + tune["steps"]
    wall_time = round(base["wall_time_s"] + tune["wall_time_s"], 1)
    tune_lr = f"{t['lr']:g}" + (f" halved every {t['lr_step_epochs']} epochs"
                                if t["epochs_stage2"] > t["lr_step_epochs"] else " constant")
    budget = (
        f"{steps} steps: {b['epochs_stage1']} + {b['epochs_stage2']} epochs at batch "
        f"{b['batch']} (the paper: 80 + 20), Adam {b['lr']:g} halved every "
        f"{b['lr_step_epochs']} epochs ({base['steps']} steps, {base['wall_time_s']:.0f} s), "
        f"then {t['epochs_stage2']} stage-2 epochs with every weight trained (ablation "
        f"{t['ablation']}, Adam {tune_lr}; {tune['steps']} steps, "
        f"{tune['wall_time_s']:.0f} s); {wall_time:.0f} s of training; {release['hardware']}"
    )

    def kept(settings: dict[str, Any]) -> dict[str, Any]:
        named = {k: dataset_name(v) if k in ("data", "val") and v else v
                 for k, v in settings.items()}
        if named.get("init"):
            named["init"] = run_name(named["init"])
        return {k: v for k, v in named.items() if k not in ("out", "progress", "threads")}

    return {"data": dataset_name(tune["data"]), "pairs": tune["pairs"], "steps": steps,
            "wall_time_s": wall_time, "budget": budget, "run": run_name(release["run"]),
            "settings": kept(t), "base_run": run_name(release["base"]),
            "base_settings": kept(b)}


def run_name(path: str) -> str:
    """``runs/NAME`` or ``runs/NAME/model.safetensors`` -> NAME, the run's record in runs/."""
    parts = Path(path).parts
    return parts[1] if len(parts) >= 2 and parts[0] == "runs" else path


def export(release: dict[str, Any]) -> Path:
    """Copy the run's exported weights into the package, byte for byte."""
    source = ROOT / release["run"] / WEIGHTS_NAME
    if not source.is_file():
        raise SystemExit(f"{source} is missing: train or re-export the run first")
    bundled = BUNDLED_DIR / f"{release['name']}.safetensors"
    atomic_write_bytes(source.read_bytes(), bundled)
    return bundled


def entry(release: dict[str, Any], means: dict[str, dict[str, float]],
          eval_command: str, tiling: dict[str, Any] | None) -> dict[str, Any]:
    run = ROOT / release["run"]
    exported = json.loads((run / MANIFEST_ENTRY_NAME).read_text())
    bundled = BUNDLED_DIR / f"{release['name']}.safetensors"
    if sha256_of(bundled) != exported["sha256"]:
        raise SystemExit(f"{bundled} is not the file {run} exported: run "
                         "`python scripts/release_weights.py --export` (needs "
                         f"{run / WEIGHTS_NAME})")
    rounded = {d: {m: round(v, 4) for m, v in ms.items()} for d, ms in means.items()}
    raw: dict[str, Any] = {
        "name": release["name"], "aliases": release["aliases"],
        "description": release["description"], "config": exported["config"],
        "inference_stage": exported["inference_stage"], "sha256": exported["sha256"],
        "size_bytes": exported["size_bytes"], "licence": LICENCE,
        "training": training_record(release, exported), "input": INPUT,
        "metrics": {"code": "pomai.metrics (MATLAB conventions, docs/metrics.md) on fuse()'s "
                            "output with its defaults, whole images",
                    "command": eval_command,
                    "means": rounded},
        "bundled": bundled.name,
    }
    if tiling is not None:
        raw["tiling"] = {"tile": tiling["tile"], "overlap": tiling["overlap"],
                         "border_px": tiling["border"], "statistics": tiling["statistics"],
                         "command": tiling["command"],
                         "gap": tiling["summary"]}
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval", type=Path, default=RESULTS / "eval" / "results.json",
                        help="results.json of scripts/evaluate_release.sh")
    parser.add_argument("--tiling", type=Path, default=RESULTS / "tiling",
                        help="folder of tiling_gap.py JSONs, <name>.json")
    parser.add_argument("--export", action="store_true",
                        help="copy each run's weights into pomai/weights/ and stop: evaluate "
                        "them before writing the manifest")
    args = parser.parse_args()
    if args.export:
        for release in RELEASES:
            print(f"exported {export(release).relative_to(ROOT)}")
        return
    results = json.loads(args.eval.read_text())
    entries = []
    for release in RELEASES:
        tiling = None
        if (args.tiling / f"{release['name']}.json").is_file():
            tiling = json.loads((args.tiling / f"{release['name']}.json").read_text())
            tiling["command"] = (f"python -m scripts.studies.tiling_gap --model "
                                 f"{release['name']} --pairs 10 --tile {tiling['tile']}")
        entries.append(entry(release, results["means"][release["name"]],
                             "scripts/evaluate_release.sh", tiling))
    document = {"schema_version": SCHEMA_VERSION, "default": "msrs", "models": entries}
    atomic_write_bytes((json.dumps(document, indent=2) + "\n").encode(), MANIFEST_PATH)
    read_manifest(MANIFEST_PATH)  # validate what was written
    print(f"wrote {MANIFEST_PATH.relative_to(ROOT)}: " + ", ".join(e["name"] for e in entries))


if __name__ == "__main__":
    main()
