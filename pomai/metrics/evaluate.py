"""All nine fusion metrics of one fused image in one call, sharing the grey conversion."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ._validation import grey_triplet, require_min_size
from .information import _entropy, _mi
from .qabf import _qabf
from .scd import _scd
from .ssim import _ssim
from .statistics import _ag, _sd, _sf
from .vif import VIF_MIN_SIZE, _vif

__all__ = ["METRIC_NAMES", "compute_all"]

#: The metrics computed by :func:`compute_all`, in the order of the usual tables.
METRIC_NAMES: tuple[str, ...] = ("EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "SSIM")

_Args = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
# Each entry takes (f_u8, a_u8, b_u8, f, a, b): uint8 grey and the same as float64 on [0, 255].
_METRICS: dict[str, Callable[..., float]] = {
    "EN": lambda fu, au, bu, f, a, b: _entropy(fu),
    "SD": lambda fu, au, bu, f, a, b: _sd(f),
    "SF": lambda fu, au, bu, f, a, b: _sf(f),
    "AG": lambda fu, au, bu, f, a, b: _ag(f),
    "MI": lambda fu, au, bu, f, a, b: _mi(fu, au, bu),
    "SCD": lambda fu, au, bu, f, a, b: _scd(f, a, b),
    "VIF": lambda fu, au, bu, f, a, b: _vif(f, a, b),
    "Qabf": lambda fu, au, bu, f, a, b: _qabf(f, a, b),
    "SSIM": lambda fu, au, bu, f, a, b: _ssim(f, a, b),
}
_MIN_SIZE = {"SF": 2, "AG": 2, "VIF": VIF_MIN_SIZE}


def compute_all(
    fused: np.ndarray,
    ir: np.ndarray,
    vis: np.ndarray,
    metrics: Iterable[str] = METRIC_NAMES,
) -> dict[str, float]:
    """Compute fusion metrics of ``fused`` against the sources ``ir`` and ``vis``.

    Inputs are uint8 arrays, grey (H, W) or RGB (H, W, 3), all of one height and width; RGB is
    converted with MATLAB ``rgb2gray`` (:func:`pomai.metrics.rgb2gray`). Other dtypes raise
    ``ValueError``: convert a [0, 1] float result with ``np.round(x * 255).astype(np.uint8)``.
    The conventions are those of the field's MATLAB suite (see ``docs/metrics.md``).

    ``metrics`` selects a subset of :data:`METRIC_NAMES`; the result keeps that order.
    SF and AG need H, W >= 2 and VIF needs H, W >= 17; VIF also raises for a constant source
    and Qabf when both sources are all zero (0/0 in MATLAB).
    """
    names = tuple(metrics)
    unknown = [n for n in names if n not in _METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {list(METRIC_NAMES)}.")
    fu, au, bu = grey_triplet(fused, ir, vis)
    for name in names:
        if name in _MIN_SIZE:
            require_min_size(fu, _MIN_SIZE[name], _MIN_SIZE[name], name)
    args: _Args = (fu, au, bu, fu.astype(np.float64), au.astype(np.float64), bu.astype(np.float64))
    return {name: _METRICS[name](*args) for name in names}
