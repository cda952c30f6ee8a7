"""The resumable training checkpoint: one safetensors file, no pickle.

Tensors (the model's state, the optimiser's per-parameter state, the torch RNG state) are
safetensors entries under the prefixes ``model.``, ``optimizer.`` and ``rng``; everything else
(settings, model config, scheduler state, the run's position and history, the optimiser's
non-tensor state) is one JSON document in the file's metadata. The file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from pomai.atomic import atomic_write_bytes

CHECKPOINT_NAME = "checkpoint.safetensors"
_STATE_KEY = "pomai_training_state"


def save_checkpoint(
    path: Path,
    *,
    model: dict[str, torch.Tensor],
    optimizer: dict[str, Any],
    rng: torch.Tensor,
    record: dict[str, Any],
) -> None:
    """Write ``model`` and ``optimizer`` state dicts, the RNG state and the JSON ``record``."""
    from safetensors.torch import save

    tensors = {f"model.{k}": v for k, v in model.items()}
    optimizer_tensors, optimizer_rest = _split_optimizer_state(optimizer)
    tensors.update(optimizer_tensors)
    tensors["rng"] = rng
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    document = {**record, "optimizer": optimizer_rest}
    atomic_write_bytes(save(tensors, metadata={_STATE_KEY: json.dumps(document)}), path)


def load_checkpoint(
    path: Path, device: torch.device
) -> tuple[dict[str, torch.Tensor], dict[str, Any], torch.Tensor, dict[str, Any]]:
    """``(model state, optimizer state, rng state, record)`` as :func:`save_checkpoint` got them.

    The model and optimiser tensors are on ``device``; the RNG state on the CPU.
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        if _STATE_KEY not in metadata:
            raise ValueError(f"{path} is not a pomai training checkpoint (no training state)")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    document = json.loads(metadata[_STATE_KEY])
    model = {k[len("model."):]: v.to(device) for k, v in tensors.items() if k.startswith("model.")}
    optimizer = _join_optimizer_state(
        {k: v.to(device) for k, v in tensors.items() if k.startswith("optimizer.")},
        document.pop("optimizer"),
    )
    return model, optimizer, tensors["rng"], document


def _split_optimizer_state(
    state_dict: dict[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimiser's state dict -> (its tensors by flat name, the JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    rest: dict[str, dict[str, Any]] = {}
    for index, values in state_dict["state"].items():
        rest[str(index)] = {}
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value
            else:
                rest[str(index)][name] = value
    return tensors, {"state": rest, "param_groups": state_dict["param_groups"]}


def _join_optimizer_state(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`_split_optimizer_state`."""
    state: dict[int, dict[str, Any]] = {int(i): dict(values) for i, values in rest["state"].items()}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": rest["param_groups"]}
