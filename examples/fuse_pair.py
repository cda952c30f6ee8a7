"""Fuse one infrared + visible pair with pomai and save the result.

    python examples/fuse_pair.py [--model NAME_OR_PATH] [--sample NAME | IR VIS] [-o OUT]

Without IR and VIS it fuses a pair shipped with pomai (``pomai.samples()``; default
``street``, a town street at night). The model is a released name (``pomai list``), a
``.safetensors`` file or a training run folder; by default the default released model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pomai


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="released name, .safetensors or run folder")
    parser.add_argument("--sample", default="street", choices=pomai.samples(),
                        help="bundled pair to fuse when IR and VIS are not given")
    parser.add_argument("ir", nargs="?", type=Path, help="infrared image")
    parser.add_argument("vis", nargs="?", type=Path, help="visible image (grey or colour)")
    parser.add_argument("-o", "--out", type=Path, default=Path("fused.png"),
                        help="output image (default fused.png)")
    args = parser.parse_args(argv)
    if (args.ir is None) != (args.vis is None):
        parser.error("give both IR and VIS, or neither (then --sample is fused)")
    if args.ir is None:
        args.ir, args.vis = pomai.samples()[args.sample]

    fuser = pomai.load(args.model)  # device="auto": CUDA when available
    fused = fuser.fuse(args.ir, args.vis)  # a PIL image, colour if VIS is colour; any size
    fused.save(args.out)
    print(f"fused {args.ir.name} with {fuser.source} -> {args.out}")
    return args.out


if __name__ == "__main__":
    main()
