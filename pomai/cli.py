"""The ``pomai`` command line (also ``python -m pomai``).

Each sub-command lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``handler(args) -> int`` runs it. Heavy imports (torch, the network) happen inside the
handlers, so ``pomai --help`` starts in a fraction of a second.

Errors end a command with one line on stderr, ``pomai COMMAND: error: MESSAGE``, naming the
problem and the fix, never a traceback: bad arguments (argparse), every error pomai raises on
purpose (:class:`pomai.errors.PomaiError`) and failed file operations (``OSError``). Exit status:

* 0: done;
* 1: the work started and failed, in whole or in part (pairs skipped, out of memory, a checksum
  mismatch, a file that could not be written);
* 2: the command could not start with what it was given (a bad option value, a missing or empty
  folder, an unreadable input, an unknown model, an unavailable device).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from pomai.errors import ChecksumMismatchError, ManifestError, PomaiError, TileOutOfMemoryError

COMMAND_MODULES = (
    "pomai.commands.fuse",
    "pomai.commands.fuse_video",
    "pomai.commands.weights",
    "pomai.commands.train",
    "pomai.commands.analyze",
    "pomai.commands.eval",
    "pomai.commands.export",
)
# PomaiErrors that mean "the work failed" (exit 1); every other one means "could not start" (2).
FAILED_WORK = (TileOutOfMemoryError, ChecksumMismatchError, ManifestError)


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line: the problem and where help is."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from pomai import __version__

    parser = CommandParser(prog="pomai", description="PoMAI image fusion")
    parser.add_argument("--version", action="version", version=f"pomai {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = f"pomai {args.command}"
    try:
        if getattr(args, "threads", None):
            import torch

            torch.set_num_threads(args.threads)
        return args.handler(args)
    except PomaiError as err:
        return _fail(command, err, 1 if isinstance(err, FAILED_WORK) else 2)
    except BrokenPipeError:  # the reader went away (pomai list | head -1): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as err:
        return _fail(command, err, 1)


def _fail(command: str, err: BaseException, status: int) -> int:
    print(f"{command}: error: {err}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
