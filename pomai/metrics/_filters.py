"""Small vectorised 2-D filters shared by the metrics (numpy only, float64).

All filters here are separable with one symmetric odd-length 1-D kernel k: the 2-D window
``outer(k, k)`` is applied as a 1-D pass along the rows axis followed by one along the columns
axis. They act on the last two axes, so a stack of maps (..., H, W) is filtered in one call.
"""

from __future__ import annotations

from types import EllipsisType

import numpy as np


def gaussian_kernel_1d(size: int, sigma: float) -> np.ndarray:
    """1-D factor of MATLAB ``fspecial('gaussian', size, sigma)``, normalised to sum 1.

    ``fspecial`` builds ``exp(-(x^2 + y^2) / (2 sigma^2))`` on the centred integer grid, zeroes
    entries below ``eps * max`` and normalises. For the sizes used here (N <= 17 with
    sigma = N/5, and 11 with sigma = 1.5) no entry is below ``eps * max``, so the 2-D window is
    exactly ``outer(g, g)`` with this ``g``.
    """
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    if g.min() ** 2 < np.finfo(np.float64).eps:  # smallest 2-D entry (the corner) vs max = 1
        raise ValueError(f"fspecial would zero the corners of a {size}x{size} window")
    return g / g.sum()


def _correlate_axis(x: np.ndarray, k: np.ndarray, axis: int, step: int) -> np.ndarray:
    """'valid' 1-D correlation of ``x`` with the symmetric kernel ``k`` along ``axis`` (-1 or
    -2), keeping every ``step``-th output from the first."""
    n = k.size
    m = -(-(x.shape[axis] - n + 1) // step)  # ceil
    span = step * (m - 1) + 1

    def sl(i: int) -> tuple[slice | EllipsisType, ...]:
        s = slice(i, i + span, step)
        return (Ellipsis, s) if axis == -1 else (Ellipsis, s, slice(None))

    half = n // 2
    out = x[sl(half)] * k[half]
    tmp = np.empty_like(out)
    for i in range(half):  # k is symmetric: add the mirrored taps first, multiply once
        np.add(x[sl(i)], x[sl(n - 1 - i)], out=tmp)
        tmp *= k[i]
        out += tmp
    return out


def filter2_valid(x: np.ndarray, k: np.ndarray, step: int = 1, band: int = 32) -> np.ndarray:
    """MATLAB ``filter2(outer(k, k), x, 'valid')`` on the last two axes, for a symmetric odd
    kernel ``k`` (so correlation and convolution agree).

    With ``step = 2`` only every second row and column of the result is computed (starting at
    the first), i.e. ``filter2(...)[::2, ::2]`` without the wasted work. The work runs map by
    map over bands of ``band`` output rows so the intermediates stay in cache (about 5x faster
    than whole-array passes on a 640x480 stack).
    """
    n = k.size
    if k.ndim != 1 or n % 2 != 1 or not np.array_equal(k, k[::-1]):
        raise ValueError("filter2_valid needs a symmetric 1-D kernel of odd length")
    h, w = x.shape[-2:]
    rows = max(-(-(h - n + 1) // step), 0)
    cols = max(-(-(w - n + 1) // step), 0)
    out = np.empty(x.shape[:-2] + (rows, cols), dtype=np.float64)
    if rows == 0 or cols == 0:
        return out
    x_maps = x.reshape(-1, h, w)
    out_maps = out.reshape(-1, rows, cols)
    for x_map, out_map in zip(x_maps, out_maps, strict=True):
        for r0 in range(0, rows, band):
            r1 = min(r0 + band, rows)
            v = _correlate_axis(x_map[step * r0 : step * (r1 - 1) + n], k, -2, step)
            out_map[r0:r1] = _correlate_axis(v, k, -1, step)
    return out


def filter_same_replicate(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Correlation with ``outer(k, k)`` (odd length), 'same' size, replicate-padded borders."""
    r = k.size // 2
    pad = [(0, 0)] * (x.ndim - 2) + [(r, r), (r, r)]
    return filter2_valid(np.pad(x, pad, mode="edge"), k)
