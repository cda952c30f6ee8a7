"""The ``pomai`` command line (also ``python -m pomai``).

Each sub-command lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``handler(args) -> int`` runs it; heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "pomai.commands.fuse",
    "pomai.commands.weights",
    "pomai.training.cli",
    "pomai.commands.analyze",
    "pomai.commands.eval",
)


def build_parser() -> argparse.ArgumentParser:
    from pomai import __version__

    parser = argparse.ArgumentParser(prog="pomai", description="PoMAI image fusion")
    parser.add_argument("--version", action="version", version=f"pomai {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
