"""Optional dependencies: imported when a feature needs them, with one line naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from pomai.errors import MissingDependencyError


def require(module: str, feature: str, extra: str = "deploy") -> ModuleType:
    """``module`` imported, or a :class:`MissingDependencyError` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{feature} needs the Python package {module!r}, which is not installed: "
            f"pip install 'pomai[{extra}]'"
        ) from None
