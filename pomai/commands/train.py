"""``pomai train``: the command line of :mod:`pomai.training` (two stages, resumable)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from pomai.commands.options import add_threads, non_negative_int, positive_int
from pomai.errors import UsageError
from pomai.training.settings import ABLATIONS, TrainSettings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train", help="train PoMAI (two stages, resumable)")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainSettings(data="", out="")
    parser.add_argument("--data", help="folder with ir/ and vi/ training pairs")
    parser.add_argument("--out", help="run folder: checkpoint, logs, exported weights")
    parser.add_argument("--config", help=f"named model config or a JSON file (default {d.config})")
    parser.add_argument("--stage", choices=("1", "2", "both"), help=f"default {d.stage}")
    parser.add_argument("--epochs", type=non_negative_int, help="stage-1 epochs (paper: 80)")
    parser.add_argument("--epochs-stage2", type=non_negative_int, help="stage-2 epochs (paper: 20)")
    parser.add_argument("--batch", type=positive_int, help=f"global batch size (default {d.batch})")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--lr-step-epochs", type=positive_int,
                        help="decay the learning rate this often")
    parser.add_argument("--lr-gamma", type=float, help=f"decay factor (default {d.lr_gamma})")
    parser.add_argument("--crop", type=positive_int)
    parser.add_argument("--flips", action="store_true", default=None)
    parser.add_argument("--zoom-prob", type=float)
    parser.add_argument("--zoom-max", type=float)
    parser.add_argument("--pairs-file", help="text file of pair stems (one per line) to train on")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--ablation", choices=ABLATIONS)
    parser.add_argument("--init", help="start from these weights (a released name, .safetensors "
                        "file or run folder), e.g. for stage 2")
    parser.add_argument("--init-partial", action="store_true", default=None,
                        help="take from --init only the weights this network has (same names "
                             "and shapes), e.g. the first blocks of a deeper model")
    parser.add_argument("--teacher", metavar="NAME_OR_PATH",
                        help="distil from this frozen model (a released name, .safetensors "
                             "file or run folder)")
    parser.add_argument("--distill-weight", type=float,
                        help=f"weight of the L1 distance to the teacher's output "
                             f"(default {d.distill_weight})")
    parser.add_argument("--clip-grad", type=float)
    parser.add_argument("--val", help="held-out folder with ir/ and vi/ for per-epoch metrics")
    parser.add_argument("--val-pairs", type=positive_int)
    parser.add_argument("--checkpoint-every", type=positive_int, help="steps between checkpoints")
    parser.add_argument("--max-steps", type=positive_int,
                        help="stop (resumably) at this global step")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ...")
    add_threads(parser)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument(
        "--from-config", metavar="FILE", help="JSON file of settings; flags override it"
    )


_FLAG_TO_FIELD = {"epochs": "epochs_stage1"}


def settings_from_args(args: argparse.Namespace) -> TrainSettings:
    """Settings from ``--from-config`` (if any) overridden by the flags given."""
    values: dict[str, Any] = {}
    fields = {f.name for f in dataclasses.fields(TrainSettings)}
    if args.from_config:
        values.update(_read_settings(Path(args.from_config), fields))
    for key, value in vars(args).items():
        field = _FLAG_TO_FIELD.get(key, key)
        if value is not None and field in fields:
            values[field] = value
    if args.no_progress:
        values["progress"] = False
    if args.resume and args.out:
        saved = Path(args.out) / "settings.json"
        if saved.is_file():
            # Continue as before unless a flag says otherwise.
            values = {**_read_settings(saved, fields), **values}
    missing = [k for k in ("data", "out") if not values.get(k)]
    if missing:
        raise UsageError(f"--{' and --'.join(missing)} required: pass the training data folder "
                         "(--data DIR with ir/ and vi/) and the run folder (--out DIR)")
    return TrainSettings(**values)


def _read_settings(path: Path, fields: set[str]) -> dict[str, Any]:
    """A JSON object of TrainSettings fields (``--from-config``, a run's settings.json)."""
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read training settings {path}: {err}. Pass a JSON file of "
                         "settings, such as a run's settings.json.") from None
    if not isinstance(values, dict):
        raise UsageError(f"training settings {path} must hold a JSON object of settings, not a "
                         f"{type(values).__name__}.")
    unknown = sorted(set(values) - fields)
    if unknown:
        raise UsageError(f"training settings {path} has unknown settings {unknown}: remove them "
                         f"(known: {', '.join(sorted(fields))}).")
    return values


def run(args: argparse.Namespace) -> int:
    from pomai.allocator import keep_freed_memory
    from pomai.atomic import atomic_write_bytes
    from pomai.training.trainer import Trainer

    keep_freed_memory()
    settings = settings_from_args(args)
    trainer = Trainer(settings, resume=args.resume)
    if trainer.rank == 0:
        text = json.dumps(settings.run_record(), indent=2, sort_keys=True)
        atomic_write_bytes(text.encode(), Path(settings.out) / "settings.json")
    weights = trainer.run()
    if weights is not None:
        print(f"exported {weights}")
    elif trainer.rank == 0:
        print(f"stopped at step {trainer.state.global_step}; continue with --resume")
    return 0
