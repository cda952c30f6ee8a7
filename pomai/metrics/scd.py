"""SCD: the sum of the correlations of differences (Aslantas & Bendes, 2015)."""

from __future__ import annotations

import numpy as np

from ._validation import grey_triplet

__all__ = ["corr2", "scd"]


def _corr2(x: np.ndarray, y: np.ndarray) -> float:
    xc = x - x.mean()
    yc = y - y.mean()
    den = np.sqrt(np.sum(xc * xc) * np.sum(yc * yc))
    if den == 0.0:
        return 0.0
    return float(np.sum(xc * yc) / den)


def corr2(x: np.ndarray, y: np.ndarray) -> float:
    """MATLAB ``corr2``: Pearson correlation over all pixels of two same-sized float arrays.

    ``r = sum((x - mean x)(y - mean y)) / sqrt(sum((x - mean x)^2) sum((y - mean y)^2))``.
    Where either array is constant, MATLAB returns NaN; here the correlation is defined as 0
    (a constant difference image carries nothing that can correlate with a source).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"corr2 needs two non-empty arrays of one shape: {x.shape}, {y.shape}.")
    return _corr2(x, y)


def _scd(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return _corr2(f - b, a) + _corr2(f - a, b)


def scd(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """SCD = corr2(F - B, A) + corr2(F - A, B), A = IR, B = VIS, on the [0, 255] scale.

    ``corr2`` is the Pearson correlation over all pixels (:func:`corr2`); a term whose operand is
    constant (e.g. F equal to one source, or a constant source) counts as 0 instead of MATLAB's
    NaN. Symmetric in the two sources; range [-2, 2].
    """
    f, a, b = (x.astype(np.float64) for x in grey_triplet(fused, ir, vis))
    return _scd(f, a, b)
