"""SSIM with MATLAB ``ssim`` defaults on the [0, 255] scale, summed over the two sources."""

from __future__ import annotations

import numpy as np

from ._filters import filter_same_replicate, gaussian_kernel_1d
from ._validation import check_same_shape, grey_triplet
from .grey import as_grey_uint8

__all__ = ["ssim", "ssim_pair"]

_WINDOW = gaussian_kernel_1d(11, 1.5)
# MATLAB ssim's DynamicRange defaults to 1 for double input, although the data is on [0, 255].
_C1 = (0.01 * 1.0) ** 2
_C2 = (0.03 * 1.0) ** 2


def _ssim_many(x: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Mean SSIM of ``x`` (H, W) against each of ``ys`` (R, H, W), float64 on [0, 255]."""
    n = ys.shape[0]
    stack = np.concatenate([x[None], ys, (x * x)[None], ys * ys, x * ys], axis=0)
    m = filter_same_replicate(stack, _WINDOW)
    mu_x, mu_y = m[0], m[1 : n + 1]
    ex2, ey2, exy = m[n + 1], m[n + 2 : 2 * n + 2], m[2 * n + 2 :]
    mu_x2 = mu_x * mu_x
    mu_y2 = mu_y * mu_y
    mu_xy = mu_x * mu_y
    num = (2.0 * mu_xy + _C1) * (2.0 * (exy - mu_xy) + _C2)
    den = (mu_x2 + mu_y2 + _C1) * ((ex2 - mu_x2) + (ey2 - mu_y2) + _C2)
    return (num / den).mean(axis=(-2, -1))


def _ssim(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float(_ssim_many(f, np.stack([a, b])).sum())


def ssim_pair(x: np.ndarray, y: np.ndarray) -> float:
    """MATLAB ``ssim(x, y)`` on the grey levels as float64 in [0, 255].

    Local statistics use an 11x11 gaussian window (sigma 1.5) with replicate padding;
    ``SSIM = mean over pixels of (2 mu_x mu_y + C1)(2 sigma_xy + C2) /
    ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))`` with ``sigma_x^2 = E[x^2] - mu_x^2``
    etc. MATLAB's dynamic range defaults to 1 for double input, so C1 = 1e-4 and C2 = 9e-4 even
    though the data span [0, 255]. Symmetric; ``ssim_pair(x, x) = 1``; any size >= 1x1.
    """
    xg = as_grey_uint8(x, "x")
    yg = as_grey_uint8(y, "y")
    check_same_shape(x=xg, y=yg)
    return float(_ssim_many(xg.astype(np.float64), yg[None].astype(np.float64))[0])


def ssim(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """SSIM = ssim(F, IR) + ssim(F, VIS), a sum with maximum 2 (see :func:`ssim_pair`)."""
    f, a, b = (x.astype(np.float64) for x in grey_triplet(fused, ir, vis))
    return _ssim(f, a, b)
