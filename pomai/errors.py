"""The errors pomai raises on purpose, one family: catch :class:`PomaiError` for all of them.

Each error also derives from the standard exception a caller would expect for its kind of
problem (``InputError`` is a ``ValueError``, ``ChecksumMismatchError`` an ``OSError``, ...), so
code written against the standard bases keeps working. Every message names the problem and
the fix in one line.
"""

from __future__ import annotations

__all__ = [
    "CheckpointMismatchError",
    "ChecksumMismatchError",
    "DeviceUnavailableError",
    "InputError",
    "ManifestError",
    "MissingDependencyError",
    "PomaiError",
    "TileOutOfMemoryError",
    "UnknownModelError",
    "UsageError",
    "WeightsUnavailableError",
]


class PomaiError(Exception):
    """Base of every error pomai raises on purpose."""


class InputError(PomaiError, ValueError):
    """An image, or a folder of images, that pomai cannot use; the message says what is wrong
    and how to fix it."""


class UsageError(PomaiError, ValueError):
    """An argument, option value or setting pomai cannot work with (a value out of range, two
    settings that contradict each other, a run that cannot resume as asked)."""


class DeviceUnavailableError(PomaiError, RuntimeError):
    """A device that is not in this machine or this PyTorch build (``cuda`` without CUDA, an
    unknown device name)."""


class UnknownModelError(PomaiError, LookupError):
    """A name that is neither a file, an ``hf-hub:`` reference nor a manifest name."""

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return str(self.args[0])


class WeightsUnavailableError(PomaiError, OSError):
    """The weights are not cached and cannot be downloaded (offline, no network, not on Hub)."""


class ChecksumMismatchError(PomaiError, OSError):
    """A weights file whose sha256 differs from the expected one; it was not loaded."""


class CheckpointMismatchError(PomaiError, ValueError):
    """A checkpoint whose config, metadata or tensors do not match what pomai expects."""


class ManifestError(PomaiError, ValueError):
    """A weights manifest that does not follow the schema."""


class TileOutOfMemoryError(PomaiError, MemoryError):
    """Out of memory with the requested (or the smallest automatic) tile; says what to try."""


class MissingDependencyError(PomaiError, ImportError):
    """A feature whose optional Python package is not installed; the message names the extra
    that installs it (``pip install 'pomai[deploy]'``)."""
