"""``pomai fuse-video``: fuse two aligned videos (infrared, visible) into one (pomai.video)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pomai.commands.options import (
    add_dtype,
    add_model_source,
    add_threads,
    add_tile,
    dtype_of,
    positive_int,
)
from pomai.normalization import DEFAULT_NORMALIZE, NORMALIZE_MODES


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "fuse-video", help="fuse an infrared video with a visible one",
        description="Fuse the infrared video IR with the visible video VIS (same frame size and "
        "frame count, frame i of one showing the scene of frame i of the other) into OUT, whose "
        "suffix picks the container (.mp4, .mkv, ...). The visible video's audio and metadata "
        "are kept. Needs pip install 'pomai[deploy]'.",
    )
    parser.add_argument("ir", type=Path, help="infrared video")
    parser.add_argument("vis", type=Path, help="visible video")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output video")
    parser.add_argument("--model", help="released name, .safetensors file, run folder or "
                        "hf-hub:owner/repo[@rev] (default: the default released model)")
    parser.add_argument("--batch-size", type=positive_int, default=8, metavar="N",
                        help="frames per network call (default 8)")
    parser.add_argument("--normalize", choices=NORMALIZE_MODES, default=DEFAULT_NORMALIZE,
                        help="per-frame min-max stretch of the fused luminance (default) or "
                             "none (the network's output as is, steadier from frame to frame)")
    add_tile(parser)
    parser.add_argument("--codec", help="video encoder (default libx264 where FFmpeg has it, "
                        "else mpeg4)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    add_dtype(parser)
    add_model_source(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_threads(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:

    from pomai.errors import UsageError
    from pomai.fuser import load
    from pomai.video import fuse_video

    for path in (args.ir, args.vis):
        if args.out.resolve() == path.resolve():
            raise UsageError(f"--out {args.out} is the input video {path}, which would be "
                             "overwritten: choose another output file")
    fuser = load(args.model, device=args.device, dtype=dtype_of(args),
                 stage=args.stage, revision=args.revision, cache_dir=args.cache_dir,
                 offline=args.offline or None)
    try:
        frames = fuse_video(fuser, args.ir, args.vis, args.out, batch_size=args.batch_size,
                            normalize=args.normalize, tile=args.tile, codec=args.codec,
                            progress=not args.no_progress)
    except KeyboardInterrupt:
        print("pomai fuse-video: interrupted; nothing written", file=sys.stderr)
        return 130
    print(f"wrote {frames} fused frame{'s' if frames != 1 else ''} to {args.out}")
    return 0
