"""``pomai fuse``: fuse one pair into a file, or two folders paired by file stem into a folder.

Each output is written atomically (a temporary file in the output folder, then a rename). An
output that would overwrite an input is refused before any work. A pair that cannot be fused,
for whatever reason, is reported in one line and skipped, and the summary always prints; the
exit status is 1 if any pair failed, 2 if nothing could start (bad model, bad arguments), 130
after Ctrl-C, else 0.

Under ``torchrun`` every process takes its own share of the pairs (:mod:`pomai.distributed`)
and rank 0 prints the summary of all of them; ``--skip-existing`` leaves finished outputs alone,
so a rerun fuses only what is missing.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pomai.atomic import atomic_write_image, image_format
from pomai.commands.options import add_dtype, add_threads, add_tile, dtype_of, positive_int
from pomai.errors import UsageError
from pomai.folders import pair_folders
from pomai.normalization import DEFAULT_NORMALIZE, NORMALIZE_MODES
from pomai.sample_pairs import SAMPLE_DESCRIPTIONS, samples

if TYPE_CHECKING:
    from pomai.distributed import Processes
    from pomai.fuser import Fuser

Job = tuple[Path, Path, Path]  # infrared, visible, output


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
    parser.add_argument("--overlap", type=float, default=0.25,
                        help="fraction of a tile shared with its neighbours, 0 to 0.75 "
                             "(default 0.25)")
    parser.add_argument("--tile-statistics", action="store_true",
                        help="each tile uses its own channel statistics: one pass over the "
                             "tiles instead of three, further from the whole-image result")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    add_dtype(parser)
    parser.add_argument("--stage", type=int, choices=(1, 2),
                        help="serve this stage instead of the model's (1 skips MICM)")
    parser.add_argument("--revision", help="Hub revision of the model")
    parser.add_argument("--cache-dir", help="Hub cache folder")
    parser.add_argument("--offline", action="store_true", help="never use the network")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--skip-existing", action="store_true",
                        help="leave outputs that already exist alone (to finish an interrupted "
                             "run); under torchrun each process checks its own share")
    parser.add_argument("--max-pixels", type=positive_int, metavar="N",
                        help="largest image decoded, in pixels (default 67108864, 8192×8192); "
                             "raise it for trusted larger images")
    add_threads(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:

    from pomai.distributed import join, leave
    from pomai.fuser import load
    from pomai.tiling import MIN_TILE, check_tiling

    if args.sample is not None:
        if args.ir is not None:
            raise UsageError("give either IR VIS or --sample NAME, not both")
        args.ir, args.vis = samples()[args.sample]
    elif args.vis is None:
        raise UsageError("give IR and VIS (two images or two folders), or --sample NAME "
                         f"({', '.join(SAMPLE_DESCRIPTIONS)})")
    processes = join(args.device)
    try:
        try:
            check_tiling(args.tile, args.overlap, "gaussian", MIN_TILE)
            jobs, failures = _plan(args.ir, args.vis, args.out)
            jobs = processes.share(jobs)
            if processes.rank > 0:
                failures = []  # pairing problems: rank 0 reports and counts them
            fuser = load(
                args.model, device=processes.device,
                dtype=dtype_of(args),
                stage=args.stage, revision=args.revision, cache_dir=args.cache_dir,
                offline=args.offline or None,
            )
        except (OSError, LookupError, ValueError) as err:
            print(f"pomai fuse: error: {err}", file=sys.stderr)
            return 2
        for problem in failures:
            print(f"skipped: {problem}", file=sys.stderr)
        with _pixel_limit(args.max_pixels):
            return _fuse_all(fuser, jobs, failures, args, processes)
    except KeyboardInterrupt:  # before the first pair: nothing written
        print("pomai fuse: interrupted", file=sys.stderr)
        return 130
    finally:
        leave()


def _fuse_all(fuser: Fuser, jobs: list[Job], failures: list[str], args: argparse.Namespace,
              processes: Processes) -> int:
    """Fuse every job; any failure of a pair is reported in one line and the next one runs.

    The first Ctrl-C lets the current pair finish, a second one abandons it (its output is
    written atomically, so nothing partial is left); either way the summary follows, exit 130.
    """
    from tqdm.auto import tqdm

    show = not args.no_progress and processes.rank == 0
    written = finished = existing = 0
    with _StopOnInterrupt() as stop:
        try:
            for ir, vis, out in tqdm(jobs, desc="fusing", unit="pair",
                                     disable=not show or len(jobs) < 2):
                if stop.requested:
                    break
                if args.skip_existing and out.exists():
                    existing += 1
                    finished += 1
                    continue
                try:
                    fused = fuser.fuse(ir, vis, normalize=args.normalize, tile=args.tile,
                                       overlap=args.overlap,
                                       image_statistics=not args.tile_statistics,
                                       progress=show and len(jobs) == 1)
                    atomic_write_image(fused, out)
                    written += 1
                except Exception as err:  # noqa: BLE001 (one bad pair never stops the run)
                    failures.append(f"{ir.name} + {vis.name}")
                    tqdm.write(f"skipped {ir.name} + {vis.name}: {_reason(err)}",
                               file=sys.stderr)
                finished += 1
        except KeyboardInterrupt:
            stop.requested = True
    written, existing, failed, unfinished, stopped = processes.sum(
        [written, existing, len(failures), len(jobs) - finished, stop.requested])
    if processes.rank == 0:
        print(f"wrote {written} fused image{'s' if written != 1 else ''} to {args.out}"
              + (f"; {existing} already there" if existing else "")
              + (f"; {failed} failed" if failed else "")
              + (f"; interrupted, {unfinished} not fused" if stopped else "")
              + (f" ({processes.world} processes)" if processes.world > 1 else ""))
    if stopped:
        return 130
    return 1 if failed else 0


def _reason(error: Exception) -> str:
    """One line: pomai's own messages as they are, anything else with its type."""
    from pomai.errors import PomaiError

    text = " ".join(str(error).split())
    if isinstance(error, (PomaiError, OSError, ValueError, MemoryError)) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _StopOnInterrupt:
    """While active, the first SIGINT (Ctrl-C) only sets :attr:`requested` and says so; the
    second raises KeyboardInterrupt as usual. Only the main thread can handle signals; elsewhere
    Ctrl-C keeps its default behaviour."""

    def __init__(self) -> None:
        self.requested = False
        self._installed = threading.current_thread() is threading.main_thread()
        self._previous: Any = signal.default_int_handler

    def __enter__(self) -> _StopOnInterrupt:
        if self._installed:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            # None: the previous handler was not set from Python; Python's default then.
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("\npomai fuse: stopping after the current pair (Ctrl-C again to stop now)",
              file=sys.stderr)


@contextmanager
def _pixel_limit(max_pixels: int | None) -> Iterator[None]:
    """pomai's decoding limit for this run; Pillow's own check is lifted meanwhile, since
    pomai's runs first (from the header) and Pillow's would only add a second, warning one."""
    from PIL import Image

    from pomai import io

    saved = io.MAX_IMAGE_PIXELS, Image.MAX_IMAGE_PIXELS
    if max_pixels is not None:
        io.MAX_IMAGE_PIXELS = max_pixels
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        io.MAX_IMAGE_PIXELS, Image.MAX_IMAGE_PIXELS = saved


def _plan(ir: Path, vis: Path, out: Path) -> tuple[list[Job], list[str]]:
    """(ir, vis, output) jobs, and problems with pairs that cannot be formed.

    Refused (ValueError) before any work: an output that would overwrite an input.
    """
    if ir.is_dir() != vis.is_dir():
        raise ValueError(f"{ir} and {vis} must both be files or both be folders")
    if not ir.is_dir():
        for path in (ir, vis):
            if not path.exists():
                raise ValueError(f"{path} does not exist")
        if out.is_dir():
            out = out / f"{vis.stem}.png"
        image_format(out)
        for path in (ir, vis):
            if out.resolve() == path.resolve() or (out.exists() and out.samefile(path)):
                raise ValueError(f"--out {out} is the input image {path}, which would be "
                                 "overwritten: choose another output file")
        return [(ir, vis, out)], []
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; with two input folders --out must be a folder")
    target = out.resolve()
    for folder in (ir, vis):
        if target == folder.resolve() or folder.resolve() in target.parents:
            raise ValueError(f"--out {out} is or is inside the input folder {folder}, where "
                             "fused images would overwrite or mix with the inputs: choose a "
                             "folder outside both input folders")
    found = pair_folders(ir, vis)
    problems = found.problems + [f"{path} has no partner with stem {path.stem!r} in the other "
                                 "folder" for path in found.unpaired]
    if not found.pairs:
        raise ValueError(f"no pairs: no image stem is in both {ir} and {vis}"
                         + (f" ({'; '.join(problems)})" if problems else ""))
    return [(ir_path, vis_path, out / f"{s}.png") for s, ir_path, vis_path in found.pairs], problems
