"""The ``pomai`` command line (also ``python -m pomai``)."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from pomai import __version__
    from pomai.training import cli as train_cli

    parser = argparse.ArgumentParser(prog="pomai", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pomai {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train PoMAI (two stages, resumable)")
    train_cli.add_arguments(train)
    train.set_defaults(handler=train_cli.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
