"""``pomai fuse``: fuse one pair into a file, or two folders paired by file stem into a folder.

Each output is written atomically (a temporary file in the output folder, then a rename). A pair
that cannot be fused is reported and skipped; the exit status is 1 if any pair failed, 2 if
nothing could start (bad model, bad arguments), else 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pomai.atomic import atomic_write_image, image_format
from pomai.commands.options import add_threads, add_tile
from pomai.errors import UsageError
from pomai.folders import images_by_stem
from pomai.normalization import DEFAULT_NORMALIZE, NORMALIZE_MODES
from pomai.sample_pairs import SAMPLE_DESCRIPTIONS, samples


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "fuse",
        help="fuse an infrared + visible pair, or two folders of pairs",
        description="Fuse IR with VIS into OUT. IR and VIS are two image files (OUT is the "
        "output file; its suffix picks the format) or two folders whose images pair by file "
        "stem (OUT is a folder of PNGs). --sample NAME fuses a pair shipped with pomai instead.",
    )
    parser.add_argument("ir", type=Path, nargs="?", help="infrared image, or folder of them")
    parser.add_argument("vis", type=Path, nargs="?", help="visible image, or folder of them")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output file or folder")
    parser.add_argument(
        "--sample", choices=SAMPLE_DESCRIPTIONS, metavar="NAME",
        help="fuse a pair shipped with pomai instead of IR VIS: "
             + "; ".join(f"{name}: {text}" for name, text in SAMPLE_DESCRIPTIONS.items()),
    )
    parser.add_argument("--model", help="released name, .safetensors file, run folder or "
                        "hf-hub:owner/repo[@rev] (default: the default released model)")
    parser.add_argument("--normalize", choices=NORMALIZE_MODES, default=DEFAULT_NORMALIZE,
                        help="per-image min-max stretch of the fused luminance (default; what "
                             "the results tables measure) or none (the network's output as is)")
    add_tile(parser)
    parser.add_argument("--overlap", type=float, default=0.25, help="tile overlap fraction")
    parser.add_argument("--tile-statistics", action="store_true",
                        help="each tile uses its own channel statistics: one pass over the "
                             "tiles instead of three, further from the whole-image result")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--half", action="store_true", help="float16 (CUDA only)")
    parser.add_argument("--stage", type=int, choices=(1, 2),
                        help="serve this stage instead of the model's (1 skips MICM)")
    parser.add_argument("--revision", help="Hub revision of the model")
    parser.add_argument("--cache-dir", help="Hub cache folder")
    parser.add_argument("--offline", action="store_true", help="never use the network")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_threads(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from pomai.fuser import load

    if args.sample is not None:
        if args.ir is not None:
            raise UsageError("give either IR VIS or --sample NAME, not both")
        args.ir, args.vis = samples()[args.sample]
    elif args.vis is None:
        raise UsageError("give IR and VIS (two images or two folders), or --sample NAME "
                         f"({', '.join(SAMPLE_DESCRIPTIONS)})")

    try:
        jobs, failures = _plan(args.ir, args.vis, args.out)
        fuser = load(
            args.model, device=args.device, dtype=torch.float16 if args.half else None,
            stage=args.stage, revision=args.revision, cache_dir=args.cache_dir,
            offline=args.offline or None,
        )
    except (OSError, LookupError, ValueError) as err:
        print(f"pomai fuse: error: {err}", file=sys.stderr)
        return 2
    for problem in failures:
        print(f"skipped: {problem}", file=sys.stderr)
    from tqdm.auto import tqdm

    show = not args.no_progress
    written = 0
    for ir, vis, out in tqdm(jobs, desc="fusing", unit="pair", disable=not show or len(jobs) < 2):
        try:
            fused = fuser.fuse(ir, vis, normalize=args.normalize, tile=args.tile,
                               overlap=args.overlap,
                               image_statistics=not args.tile_statistics,
                               progress=show and len(jobs) == 1)
            atomic_write_image(fused, out)
            written += 1
        except (OSError, ValueError, MemoryError) as err:
            failures.append(f"{ir.name} + {vis.name}")
            tqdm.write(f"skipped {ir.name} + {vis.name}: {err}", file=sys.stderr)
    print(f"wrote {written} fused image{'s' if written != 1 else ''} to {args.out}"
          + (f"; {len(failures)} failed" if failures else ""))
    return 1 if failures else 0


def _plan(ir: Path, vis: Path, out: Path) -> tuple[list[tuple[Path, Path, Path]], list[str]]:
    """(ir, vis, output) jobs, and problems with pairs that cannot be formed."""
    if ir.is_dir() != vis.is_dir():
        raise ValueError(f"{ir} and {vis} must both be files or both be folders")
    if not ir.is_dir():
        for path in (ir, vis):
            if not path.exists():
                raise ValueError(f"{path} does not exist")
        if out.is_dir():
            out = out / f"{vis.stem}.png"
        image_format(out)
        return [(ir, vis, out)], []
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; with two input folders --out must be a folder")
    ir_files, vis_files = images_by_stem(ir), images_by_stem(vis)
    stems = sorted(set(ir_files) & set(vis_files))
    problems = [f"{path} has no partner with stem {path.stem!r} in the other folder"
                for stem in sorted(set(ir_files) ^ set(vis_files))
                for path in [ir_files.get(stem) or vis_files[stem]]]
    if not stems:
        raise ValueError(f"no pairs: no image stem is in both {ir} and {vis}")
    return [(ir_files[s], vis_files[s], out / f"{s}.png") for s in stems], problems
