"""The paper's two-stage training: data, loss, trainer (command line: :mod:`pomai.commands.train`).

Light to import (the command line's parser needs no torch): the names below load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Augment": "pomai.training.data",
    "PairedImages": "pomai.training.data",
    "find_pairs": "pomai.training.data",
    "FusionLoss": "pomai.training.loss",
    "Phase": "pomai.training.trainer",
    "Trainer": "pomai.training.trainer",
    "plan_phases": "pomai.training.trainer",
    "TrainSettings": "pomai.training.settings",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pomai.training' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
