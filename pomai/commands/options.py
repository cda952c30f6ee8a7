"""Option types and options shared by several sub-commands."""

from __future__ import annotations

import argparse
from typing import Any


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (a usage error names the bad value)."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
    return value


def tile(text: str) -> int | str | None:
    """An argparse type: ``auto``, ``none`` (None: the whole image) or a tile side in pixels."""
    if text in ("auto", "none"):
        return None if text == "none" else text
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected 'auto', 'none' or a positive tile side in pixels, got {text!r}"
        ) from None


def add_tile(parser: argparse.ArgumentParser) -> None:
    """``--tile``: as ``fuse()``'s ``tile`` (default ``auto``)."""
    parser.add_argument("--tile", type=tile, default="auto",
                        help="'auto' (default: the whole image when it fits in memory, which is "
                             "exact, else tiles that fit), 'none' (always the whole image) or a "
                             "tile side in pixels")


def add_threads(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: the CPU threads PyTorch uses (``torch.set_num_threads``)."""
    parser.add_argument(
        "--threads", type=positive_int, metavar="N",
        help="CPU threads for PyTorch (default: PyTorch's, one per core). On a machine whose "
             "cores are busy with other work, fewer threads are faster, often 1 "
             "(docs/api.md, 'Threads')",
    )


DTYPES = ("float32", "float16", "bfloat16")


def add_dtype(parser: argparse.ArgumentParser) -> None:
    """``--dtype NAME`` (and ``--half``, the same as ``--dtype float16``): the network's
    floating-point type, ``pomai.load``'s ``dtype``; read it with :func:`dtype_of`."""
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="the network's precision (default float32): bfloat16 on the CPU "
                             "or a GPU, float16 on a GPU only; bfloat16 costs a little quality "
                             "(docs/performance.md, 'bfloat16 on the CPU')")
    parser.add_argument("--half", dest="dtype", action="store_const", const="float16",
                        help="the same as --dtype float16")


def dtype_of(args: argparse.Namespace) -> Any:
    """The ``torch.dtype`` that :func:`add_dtype`'s options name."""
    import torch

    return getattr(torch, args.dtype)


def add_model_source(parser: argparse.ArgumentParser) -> None:
    """``--stage``, ``--revision``, ``--cache-dir``, ``--offline``: which weights to load, as
    ``pomai.load``'s arguments of the same names."""
    parser.add_argument("--stage", type=int, choices=(1, 2),
                        help="serve this stage instead of the model's (1 skips MICM)")
    parser.add_argument("--revision", help="Hub revision of the model")
    parser.add_argument("--cache-dir", help="Hub cache folder")
    parser.add_argument("--offline", action="store_true", help="never use the network")
