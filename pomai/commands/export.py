"""``pomai export``: write a model's network as an ONNX graph for other runtimes."""

from __future__ import annotations

import argparse
from pathlib import Path

from pomai.commands.options import add_model_source


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export", help="export a model's network to ONNX",
        description="Write the network of NAME_OR_PATH as an ONNX graph: infrared and visible "
        "luminance (B, 1, H, W) in [0, 1] in, the fused luminance out, without fuse()'s "
        "min-max stretch; batch, height and width dynamic (docs/deploy.md). Needs "
        "pip install 'pomai[deploy]'.",
    )
    parser.add_argument("model", nargs="?", metavar="NAME_OR_PATH",
                        help="released name, .safetensors file, run folder or "
                             "hf-hub:owner/repo[@rev] (default: the default released model)")
    parser.add_argument("--format", choices=("onnx",), default="onnx",
                        help="output format (onnx, the default and only one)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output .onnx file")
    add_model_source(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pomai.errors import UsageError
    from pomai.export import export_onnx

    if args.out.is_dir():
        raise UsageError(f"--out {args.out} is a folder: name the .onnx file to write")
    export_onnx(args.model, args.out, stage=args.stage, revision=args.revision,
                cache_dir=args.cache_dir, offline=args.offline or None)
    print(f"wrote {args.out}")
    return 0
