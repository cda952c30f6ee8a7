"""``pomai analyze DIR``: the modality study of :mod:`pomai.analysis`."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    # No option prefix: every argument, --help included, goes to pomai.analysis.main's parser.
    parser = commands.add_parser(
        "analyze", add_help=False, prefix_chars="\0",
        help="infrared-visible modality study (paper Figure 1)",
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pomai.analysis import main

    return main(args.rest)
