"""``pomai analyze DIR``: the modality study of :mod:`pomai.analysis` on DIR/ir and DIR/vi."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pomai.commands.options import non_negative_int, positive_int
from pomai.errors import InputError
from pomai.folders import role_folders


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "analyze", help="infrared-visible modality study (paper Figure 1)",
        description="Infrared-visible modality analysis (paper Figure 1) of the pairs in DIR/ir "
        "and DIR/vi (or vis/, visible/), matched by file stem.",
    )
    parser.add_argument("dir", type=Path, help="folder with ir/ and vi/ (same file names)")
    parser.add_argument("--json", type=Path, help="write the full result as JSON here")
    parser.add_argument("--figure", type=Path, help="write the figure (PNG, PDF, ...) here")
    parser.add_argument("--k", type=positive_int, default=3,
                        help="number of clusters (default 3)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="K-means seed (default 0)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pomai.analysis import analyze_folder, format_summary, plot_analysis

    result = analyze_folder(*_pair_folders(args.dir), k=args.k, seed=args.seed)
    print(format_summary(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.figure:
        plot_analysis(result, args.figure)
    return 0


def _pair_folders(root: Path) -> tuple[Path, Path]:
    if not root.is_dir():
        raise InputError(f"{root} is not a folder: pass a folder holding ir/ and vi/.")
    found = role_folders(root)
    if found is None:
        raise InputError(f"{root} has no vi/, vis/ or visible/ folder beside an ir/ folder (nor "
                         "mri/ with ct/, pet/ or spect/): put the pairs there, with the same "
                         "file names in both.")
    return found
