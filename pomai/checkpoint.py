"""The weights file format: writing, checking and strictly loading a PoMAI checkpoint.

A checkpoint is one safetensors file: the network's state dict, with the network config
(``pomai_config``, JSON) and the stage it serves (``inference_stage``, ``"1"`` or ``"2"``) in
its metadata. A training run exports it as ``model.safetensors`` next to
``manifest_entry.json``, which records its sha256, size and how it was trained. Loading is
safetensors-only (no pickle) and strict; everything that can be checked before allocating
(sha256, metadata, the manifest entry) is checked first.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pomai.atomic import atomic_write_bytes
from pomai.config import PoMAIConfig
from pomai.errors import CheckpointMismatchError, ChecksumMismatchError
from pomai.manifest import SHA256_PATTERN, WeightsEntry

WEIGHTS_NAME = "model.safetensors"
MANIFEST_ENTRY_NAME = "manifest_entry.json"
CONFIG_KEY = "pomai_config"
STAGE_KEY = "inference_stage"


@dataclass(frozen=True)
class ResolvedWeights:
    """A local weights file and what it must match: sha256 (None: the user's own file)."""

    path: Path
    sha256: str | None
    entry: WeightsEntry | None
    source: str


def sha256_of(path: str | os.PathLike) -> str:
    """The sha256 of a file, as 64 lower-case hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export_weights(
    model: Any, out: Path, *, inference_stage: int, training: dict[str, Any]
) -> Path:
    """Write ``out/model.safetensors`` (weights + config metadata) and its
    ``manifest_entry.json`` with the ``training`` record; returns the weights file."""
    from safetensors.torch import save

    metadata = {
        "format": "pt",
        CONFIG_KEY: model.config.to_json(),
        STAGE_KEY: str(inference_stage),
    }
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    path = out / WEIGHTS_NAME
    atomic_write_bytes(save(state, metadata=metadata), path)
    entry = {
        "config": model.config.to_dict(),
        "inference_stage": inference_stage,
        "filename": WEIGHTS_NAME,
        "sha256": sha256_of(path),
        "size_bytes": path.stat().st_size,
        "training": training,
    }
    atomic_write_bytes(json.dumps(entry, indent=2).encode(), out / MANIFEST_ENTRY_NAME)
    return path


def recorded_sha256(folder: Path, weights_name: str) -> str | None:
    """The sha256 a run folder's ``manifest_entry.json`` records for ``weights_name``; None
    without that file or when it records another file."""
    entry_file = folder / MANIFEST_ENTRY_NAME
    if not entry_file.is_file():
        return None

    def malformed(problem: str) -> CheckpointMismatchError:
        return CheckpointMismatchError(
            f"{entry_file} is malformed: {problem}. It is written by 'pomai train'; restore it "
            "or delete it (the weights are then loaded without a recorded checksum)."
        )

    try:
        recorded = json.loads(entry_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise malformed(f"not readable JSON ({err})") from None
    if not isinstance(recorded, dict):
        raise malformed(f"it holds a JSON {type(recorded).__name__}, not an object")
    if not isinstance(recorded.get("filename"), (str, type(None))):
        raise malformed(f"field 'filename' is {recorded['filename']!r}, not a file name")
    if recorded.get("filename") != weights_name:
        return None
    sha256 = recorded.get("sha256")
    if not isinstance(sha256, str) or not SHA256_PATTERN.fullmatch(sha256):
        raise malformed(f"field 'sha256' is {sha256!r}, not 64 lower-case hex digits")
    return sha256


def verify(weights: ResolvedWeights) -> None:
    """Raise ChecksumMismatchError unless the file's sha256 is the expected one (if any)."""
    if weights.sha256 is None:
        return
    actual = sha256_of(weights.path)
    if actual != weights.sha256:
        raise ChecksumMismatchError(
            f"weights {weights.source} at {weights.path} have sha256 {actual}, expected "
            f"{weights.sha256}: the file is corrupt, incomplete or was replaced, and was not "
            "loaded. Delete it and download it again ('pomai download NAME', or "
            "hf_hub_download(..., force_download=True)); re-export it if it is your own run."
        )


def read_metadata(path: Path) -> tuple[PoMAIConfig, int]:
    """The network config and inference stage stored in a pomai safetensors file."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise CheckpointMismatchError(
            f"{path} is not a readable safetensors file ({err}): it is corrupt or truncated; "
            "download or export it again."
        ) from None
    missing = [k for k in (CONFIG_KEY, STAGE_KEY) if k not in metadata]
    if missing:
        raise CheckpointMismatchError(
            f"{path} is not a pomai checkpoint: its metadata lacks {missing}. pomai writes "
            "these when it exports weights (pomai train); other files cannot be loaded."
        )
    # The metadata is untrusted: the config is checked field by field (types, ranges, size of
    # the network) before anything is built from it.
    try:
        config = PoMAIConfig.from_json(metadata[CONFIG_KEY])
    except (TypeError, ValueError) as err:
        raise CheckpointMismatchError(
            f"{path}: metadata field '{CONFIG_KEY}' is invalid ({err}); the file was edited or "
            "not written by pomai: re-export it."
        ) from None
    if metadata[STAGE_KEY] not in ("1", "2"):
        raise CheckpointMismatchError(
            f"{path}: metadata field '{STAGE_KEY}' must be '1' or '2', got "
            f"{metadata[STAGE_KEY]!r}; the file was edited or not written by pomai: "
            "re-export it."
        )
    return config, int(metadata[STAGE_KEY])


def check_weights(weights: ResolvedWeights) -> tuple[PoMAIConfig, int]:
    """Everything checked before loading, nothing allocated: the sha256 (if one is expected),
    the metadata (config and stage) and, for a manifest model, its entry. Returns the config
    and inference stage."""
    verify(weights)
    config, stage = read_metadata(weights.path)
    if weights.entry is not None:
        _check_against_entry(weights, config, stage)
    return config, stage


def load_model(weights: ResolvedWeights) -> tuple[Any, int]:
    """Verify, read and strictly load ``weights``: (PoMAI model on CPU, inference stage)."""
    from safetensors.torch import load_file

    from pomai.nn.pomai import PoMAI

    config, stage = check_weights(weights)
    state = load_file(weights.path)
    model = PoMAI(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    reshaped = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    if missing or unexpected or reshaped:
        details = [f"{label} keys {_short(keys)}" for label, keys in
                   (("missing", missing), ("unexpected", unexpected)) if keys]
        details += [f"{k} has shape {got[k]}, the network expects {expected[k]}"
                    for k in reshaped[:5]]
        raise CheckpointMismatchError(
            f"weights {weights.source} do not fit the network their config describes: "
            + "; ".join(details)
            + ". The file was written by a different pomai version or edited; re-export it."
        )
    model.load_state_dict(state, strict=True)
    return model, stage


def _check_against_entry(weights: ResolvedWeights, config: PoMAIConfig, stage: int) -> None:
    entry = weights.entry
    assert entry is not None
    listed = PoMAIConfig.from_dict(entry.config)
    diffs = [f"{k}: manifest {v!r}, file {getattr(config, k)!r}"
             for k, v in listed.to_dict().items() if getattr(config, k) != v]
    if stage != entry.inference_stage:
        diffs.append(f"inference_stage: manifest {entry.inference_stage}, file {stage}")
    if diffs:
        raise CheckpointMismatchError(
            f"weights {weights.source} do not match their manifest entry ({'; '.join(diffs)}). "
            "The manifest or the file is wrong: report it, or load the file by path."
        )


def _short(keys: list[str]) -> str:
    return ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
