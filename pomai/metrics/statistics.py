"""Single-image statistics of the fused image on the float [0, 255] scale: SD, SF and AG."""

from __future__ import annotations

import numpy as np

from ._validation import require_min_size
from .grey import as_grey_uint8

__all__ = ["average_gradient", "spatial_frequency", "standard_deviation"]


def _sd(f: np.ndarray) -> float:
    return float(np.std(f))


def _sf(f: np.ndarray) -> float:
    rf2 = np.mean(np.square(np.diff(f, axis=0)))
    cf2 = np.mean(np.square(np.diff(f, axis=1)))
    return float(np.sqrt(rf2 + cf2))


def _ag(f: np.ndarray) -> float:
    h, w = f.shape
    gy, gx = np.gradient(f)  # MATLAB gradient: central inside, one-sided at the borders
    return float(np.sum(np.sqrt((gx * gx + gy * gy) / 2.0)) / ((h - 1) * (w - 1)))


def standard_deviation(img: np.ndarray) -> float:
    """SD: population standard deviation of the grey levels on the [0, 255] scale.

    ``SD = sqrt(1/(H W) * sum_{i,j} (F[i,j] - mean(F))^2)``. Constant image: 0.
    """
    return _sd(as_grey_uint8(img, "img").astype(np.float64))


def spatial_frequency(img: np.ndarray) -> float:
    """SF: spatial frequency on the [0, 255] scale (MATLAB ``diff``).

    ``RF^2 = mean over (H-1) x W of (F[i+1,j] - F[i,j])^2``,
    ``CF^2 = mean over H x (W-1) of (F[i,j+1] - F[i,j])^2``, ``SF = sqrt(RF^2 + CF^2)``.
    Needs H, W >= 2 (``ValueError`` otherwise). Constant image: 0.
    """
    f = as_grey_uint8(img, "img")
    require_min_size(f, 2, 2, "SF")
    return _sf(f.astype(np.float64))


def average_gradient(img: np.ndarray) -> float:
    """AG: average gradient on the [0, 255] scale, with the MATLAB suite's denominator.

    ``(gx, gy)`` are MATLAB ``gradient`` with unit spacing (``(f[k+1] - f[k-1]) / 2`` inside,
    ``f[1] - f[0]`` and ``f[-1] - f[-2]`` at the borders), and
    ``AG = sum over all H x W pixels of sqrt((gx^2 + gy^2) / 2) / ((H - 1)(W - 1))``.
    Needs H, W >= 2 (``ValueError`` otherwise). Constant image: 0.
    """
    f = as_grey_uint8(img, "img")
    require_min_size(f, 2, 2, "AG")
    return _ag(f.astype(np.float64))
