"""pomai: infrared-visible and medical image fusion with PoMAI.

``import pomai`` is light: torch and the network load on first use of an attribute.
"""

from __future__ import annotations

import importlib
from typing import Any

from pomai import errors
from pomai.errors import *  # noqa: F403 (the error family, listed once in pomai.errors.__all__)

__version__ = "0.1.0.dev0"

_LAZY = {
    "PoMAIConfig": "pomai.config",
    "get_config": "pomai.config",
    "PoMAI": "pomai.nn",
    "load": "pomai.fuser",
    "Fuser": "pomai.fuser",
    "list_models": "pomai.manifest",
    "samples": "pomai.sample_pairs",
    "SamplePair": "pomai.sample_pairs",
    "export_onnx": "pomai.export",
}


__all__ = [*errors.__all__, *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pomai' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
