"""The README's results table, from the measurements of scripts/evaluate_release.sh.

    python scripts/readme_table.py [--eval docs/results/eval/results.json] [--write]

Prints the table (SD, SF, AG, VIF, Qabf and the mean rank over all nine metrics of each released
model, SeAFusion where measured, and the pixel-average and pixel-maximum baselines, on four of the
test sets); ``--write`` replaces the table in README.md, between its marker comments.
tests/test_scripts_readme_table.py checks that README.md holds what this prints.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pomai.atomic import atomic_write_bytes

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "msrs": "MSRS (20 pairs, 640×480)",
    "tno": "TNO (25 pairs)",
    "roadscene": "RoadScene (50 pairs)",
    "mri-pet": "Harvard MRI-PET (42 pairs)",
}
METRICS = {"SD": 2, "SF": 2, "AG": 2, "VIF": 3, "Qabf": 3}  # name: decimals
OTHERS = {"SeAFusion": "SeAFusion", "Average": "pixel average", "Maximum": "pixel maximum"}
BEGIN, END = "<!-- results table: scripts/readme_table.py -->", "<!-- end of results table -->"


def table(results: dict[str, Any]) -> str:
    """Markdown table from results.json's ``means[method][dataset][metric]`` and
    ``mean_rank[dataset][method]``; a method not measured on a dataset has no row there."""
    means, ranks = results["means"], results["mean_rank"]
    models = [m for m in means if m not in OTHERS]
    lines = ["| dataset | method | " + " | ".join(METRICS) + " | mean rank (9 metrics) |",
             "|---|---|" + "---|" * (len(METRICS) + 1)]
    for dataset, title in DATASETS.items():
        rows = [(m, f"`{m}`") for m in models] + list(OTHERS.items())
        rows = [(method, label) for method, label in rows if dataset in means.get(method, {})]
        for i, (method, label) in enumerate(rows):
            values = means[method][dataset]
            cells = [f"{values[name]:.{decimals}f}" for name, decimals in METRICS.items()]
            cells.append(f"{ranks[dataset][method]:.2f}")
            first = f"| {title} |" if i == 0 else "| |"
            lines.append(f"{first} {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def replace_table(readme: str, new_table: str) -> str:
    """README text with the part between the markers replaced by ``new_table``."""
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"README.md lacks the markers {BEGIN!r} and {END!r}")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{new_table}{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval", type=Path,
                        default=ROOT / "docs" / "results" / "eval" / "results.json")
    parser.add_argument("--write", action="store_true", help="replace the table in README.md")
    args = parser.parse_args()
    results: dict[str, Any] = json.loads(args.eval.read_text())
    text = table(results)
    if args.write:
        readme = ROOT / "README.md"
        atomic_write_bytes(replace_table(readme.read_text(), text).encode(), readme)
    print(text, end="")


if __name__ == "__main__":
    main()
