"""The torch device pomai runs on: ``"auto"``, or a named device checked before any work."""

from __future__ import annotations

import torch

from pomai.errors import DeviceUnavailableError


def pick_device(device: str | torch.device) -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; otherwise the named device, checked.

    Raises :class:`~pomai.errors.DeviceUnavailableError` for a name torch does not know
    (``"gpu"``) and for a device this machine or this PyTorch build lacks (``"cuda"`` on a
    CPU-only build or without a driver, ``"cuda:3"`` with two GPUs, ``"mps"`` off Apple).
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise DeviceUnavailableError(
            f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N' (N counts from 0)."
        ) from None
    if chosen.type == "cpu":
        return chosen
    backend = torch.backends.mps if chosen.type == "mps" else getattr(torch, chosen.type, None)
    is_available = getattr(backend, "is_available", None)
    if not callable(is_available) or not is_available():
        raise DeviceUnavailableError(f"device {str(device)!r} is not available: "
                                     f"{_why_unavailable(chosen.type)}")
    count = getattr(backend, "device_count", None)
    if chosen.index is not None and callable(count) and chosen.index >= count():
        raise DeviceUnavailableError(
            f"device {str(device)!r} is not available: this machine has {count()} "
            f"{chosen.type} device(s), numbered from 0; use one of them, or 'auto'."
        )
    return chosen


def _why_unavailable(kind: str) -> str:
    if kind != "cuda":
        return (f"this machine or PyTorch {torch.__version__} has no {kind} device; use 'cpu' or "
                "'auto'.")
    if torch.version.cuda is None:
        return (f"PyTorch {torch.__version__} is a CPU-only build. Use 'cpu' or 'auto', or "
                "install a CUDA build of PyTorch (README, 'Install').")
    return (f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}) finds no usable GPU (no "
            "NVIDIA driver, or CUDA_VISIBLE_DEVICES hides them). Use 'cpu' or 'auto'.")
