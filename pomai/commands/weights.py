"""``pomai list | info NAME | download NAME | verify``: the released weights."""

from __future__ import annotations

import argparse
import json
from pathlib import Path, PurePosixPath
from typing import Any


def register(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser("list", help="list the released models")
    listing.set_defaults(handler=run_list)

    info = commands.add_parser("info", help="describe a released model or a weights file")
    info.add_argument("name", help="released name / alias, .safetensors file or run folder")
    info.add_argument("--cache-dir", help="Hub cache folder")
    info.set_defaults(handler=run_info)

    download = commands.add_parser("download", help="download and verify a model's weights")
    download.add_argument("name", help="released name / alias or hf-hub:owner/repo[@rev]")
    download.add_argument("--revision", help="Hub revision instead of the pinned one")
    download.add_argument("--cache-dir", help="Hub cache folder")
    download.set_defaults(handler=run_download)

    verify = commands.add_parser(
        "verify", help="check bundled and cached weights (sha256, metadata against the manifest)")
    verify.add_argument("--cache-dir", help="Hub cache folder")
    verify.set_defaults(handler=run_verify)


# Dataset folder names as the datasets' authors write them.
DATASET_NAMES = {"msrs": "MSRS", "tno": "TNO", "roadscene": "RoadScene", "harvard": "Harvard"}
# Training-record fields that name local folders of the machine that trained.
_RUN_FOLDERS = ("run", "base_run")
_DATA_FIELDS = ("data", "val")


def run_list(args: argparse.Namespace) -> int:
    from pomai.manifest import read_manifest

    m = read_manifest()
    if not m.entries:
        print("No released weights in this pomai version yet. Fuse with your own checkpoint: "
              "pomai fuse IR VIS -o OUT --model PATH/model.safetensors")
        return 0
    for entry in m.entries:
        aliases = f" (aliases: {', '.join(entry.aliases)})" if entry.aliases else ""
        default = " [default]" if entry.name == m.default else ""
        print(f"{entry.name}{default}{aliases}: {entry.description}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from pomai.checkpoint import read_metadata, sha256_of
    from pomai.hub import cached_path, resolve
    from pomai.manifest import read_manifest

    entry = read_manifest().find(args.name)
    if entry is not None:
        info = entry.to_json()
        if entry.hub is None:
            info["hub"] = "none (bundled with the package)"
        info["training"] = public_training_record(entry.training)
        bundled = entry.bundled_path is not None and entry.bundled_path.is_file()
        cached = cached_path(entry, args.cache_dir)
        info["available"] = (
            "bundled" if bundled else f"cached at {cached}" if cached
            else "missing from the package: reinstall pomai" if entry.hub is None
            else "not downloaded ('pomai download " + entry.name + "')"
        )
    else:
        weights = resolve(args.name, offline=True)
        config, stage = read_metadata(weights.path)
        info = {"file": str(weights.path), "sha256": sha256_of(weights.path),
                "size_bytes": weights.path.stat().st_size, "inference_stage": stage,
                "config": config.to_dict()}
    print(json.dumps(info, indent=2))
    return 0


def public_training_record(training: dict[str, Any]) -> dict[str, Any]:
    """A manifest training record as users see it: datasets by name, no local folders.

    The recorded settings keep the paths of the machine that trained (``data``, ``val``, the
    run folders, ``init``); ``pomai info`` shows the dataset names instead ("MSRS train" for
    ``.../data/msrs/train``) and leaves the run folders out.
    """
    public: dict[str, Any] = {}
    for key, value in training.items():
        if key in _RUN_FOLDERS:
            continue
        if isinstance(value, dict):
            value = public_training_record(value)
        elif key in _DATA_FIELDS and isinstance(value, str):
            value = dataset_name(value)
        elif key == "init" and isinstance(value, str):
            value = "the weights of the base run (base_settings)"
        public[key] = value
    return public


def dataset_name(path: str) -> str:
    """The dataset a data folder holds: ``../data/msrs/train`` -> ``MSRS train``."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    rest = parts[parts.index("data") + 1:] if "data" in parts[:-1] else parts[-2:]
    rest = [p for p in rest if p not in ("..", ".", "/")]
    if not rest:
        return path
    return " ".join([DATASET_NAMES.get(rest[0].lower(), rest[0]), *rest[1:]])


def run_download(args: argparse.Namespace) -> int:
    from pomai.checkpoint import verify
    from pomai.hub import resolve

    weights = resolve(args.name, revision=args.revision, cache_dir=args.cache_dir, offline=False)
    verify(weights)
    entry = weights.entry
    if entry is not None and entry.bundled_path is not None and weights.path == entry.bundled_path:
        print(f"{entry.name} is bundled with the package, nothing to download: {weights.path} "
              "(sha256 verified)")
    else:
        print(f"{weights.source}: {weights.path} (sha256 verified)")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from pomai.checkpoint import ResolvedWeights, check_weights
    from pomai.errors import CheckpointMismatchError, ChecksumMismatchError
    from pomai.hub import cached_path
    from pomai.manifest import read_manifest

    entries = read_manifest().entries
    if not entries:
        print("No released weights in this pomai version yet: nothing to verify.")
        return 0
    bad = 0
    for entry in entries:
        files: list[tuple[str, Path | None]] = []
        if entry.bundled_path is not None:
            files.append(("bundled", entry.bundled_path))
        if entry.hub is not None:
            files.append(("cached", cached_path(entry, args.cache_dir)))
        for where, path in files:
            if path is None or not path.is_file():
                # Without a Hub repository the bundled file is the only copy: a broken install.
                missing = entry.hub is None
                bad += missing
                print(f"{entry.name} {where}: " + ("MISSING (reinstall pomai)" if missing
                                                   else "not present"))
                continue
            try:  # the same checks as loading: sha256, then metadata against the entry
                check_weights(ResolvedWeights(path, entry.sha256, entry, f"{entry.name} {where}"))
            except ChecksumMismatchError:
                bad += 1
                print(f"{entry.name} {where}: MISMATCH {path} (delete it and run 'pomai "
                      f"download {entry.name}')")
            except CheckpointMismatchError as err:
                bad += 1
                print(f"{entry.name} {where}: INVALID {path}: {err}")
            else:
                print(f"{entry.name} {where}: OK {path}")
    return 1 if bad else 0
