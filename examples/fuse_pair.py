"""Fuse one infrared + visible pair with pomai and save the result.

    python examples/fuse_pair.py [--model NAME_OR_PATH] [IR VIS [OUT]]

Without IR and VIS it fuses the first MSRS sample pair of ../shared/data/msrs/samples. The
model is a released name (``pomai list``), a ``.safetensors`` file or a training run folder;
by default the default released model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pomai

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "msrs" / "samples"


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="released name, .safetensors or run folder")
    parser.add_argument("ir", nargs="?", type=Path, help="infrared image")
    parser.add_argument("vis", nargs="?", type=Path, help="visible image (grey or colour)")
    parser.add_argument("out", nargs="?", type=Path, default=Path("fused.png"))
    args = parser.parse_args(argv)
    if args.ir is None or args.vis is None:
        if not (SAMPLES / "ir").is_dir():
            parser.error(f"no sample pairs at {SAMPLES}: pass IR and VIS")
        first = sorted((SAMPLES / "ir").iterdir())[0]
        args.ir, args.vis = first, SAMPLES / "vi" / first.name

    fuser = pomai.load(args.model)  # device="auto": CUDA when available
    fused = fuser.fuse(args.ir, args.vis, tile="auto")  # a PIL image, colour if VIS is colour
    fused.save(args.out)
    print(f"fused {args.ir.name} with {fuser.source} -> {args.out}")
    return args.out


if __name__ == "__main__":
    main()
