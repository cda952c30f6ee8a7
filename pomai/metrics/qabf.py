"""Qabf: the Xydeas-Petrovic gradient-based edge-transfer metric (Q^{AB/F})."""

from __future__ import annotations

import numpy as np

from ._validation import grey_triplet

__all__ = ["qabf"]

_TG, _KG, _DG = 0.9994, -15.0, 0.5
_TA, _KA, _DA = 0.9879, -22.0, 0.8


def _sobel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge strength g and plain-atan orientation alpha of float image(s) (..., H, W).

    ``sx = conv2(x, [-1 0 1; -2 0 2; -1 0 1], 'same')`` and
    ``sy = conv2(x, [1 2 1; 0 0 0; -1 -2 -1], 'same')``: true convolution (flipped kernel) with
    zero padding, computed separably and exactly (integer-valued inputs).
    """
    p = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)])
    # Vertical [1 2 1] smoothing and difference, then the horizontal factors.
    v_smooth = p[..., :-2, :] + 2.0 * p[..., 1:-1, :] + p[..., 2:, :]
    v_diff = p[..., 2:, :] - p[..., :-2, :]
    sx = v_smooth[..., :, :-2] - v_smooth[..., :, 2:]
    sy = v_diff[..., :, :-2] + 2.0 * v_diff[..., :, 1:-1] + v_diff[..., :, 2:]
    g = np.sqrt(sx * sx + sy * sy)
    zero = sx == 0
    alpha = np.arctan(sy / np.where(zero, 1.0, sx))
    alpha[zero] = np.pi / 2
    return g, alpha


def _transfer(g_x: np.ndarray, a_x: np.ndarray, g_f: np.ndarray, a_f: np.ndarray) -> np.ndarray:
    """Q_XF = Q_g * Q_a, the edge preservation of source X in F, per pixel."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(g_x > g_f, g_f / g_x, g_x / g_f)
    ratio = np.where(g_x == g_f, g_f, ratio)  # the original code's quirk: G = g_F when equal
    angle = 1.0 - np.abs(a_x - a_f) / (np.pi / 2)
    q_g = _TG / (1.0 + np.exp(_KG * (ratio - _DG)))
    q_a = _TA / (1.0 + np.exp(_KA * (angle - _DA)))
    return q_g * q_a


def _qabf(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    g, alpha = _sobel(np.stack([f, a, b]))
    g_f, g_a, g_b = g
    a_f, a_a, a_b = alpha
    den = np.sum(g_a + g_b)
    if den == 0.0:
        raise ValueError(
            "Qabf is undefined (0/0): neither source image has any edge (both are all zero, or "
            "the images are 1x1); MATLAB's analysis_Qabf returns NaN here."
        )
    num = np.sum(_transfer(g_a, a_a, g_f, a_f) * g_a + _transfer(g_b, a_b, g_f, a_f) * g_b)
    return float(num / den)


def qabf(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """Qabf (Xydeas & Petrovic, 2000) as in the MATLAB suite's ``analysis_Qabf``, L = 1.

    For each image X on the [0, 255] scale: Sobel responses sx, sy (zero-padded 'same' true
    convolution, so the border gets edges), ``g_X = sqrt(sx^2 + sy^2)`` and
    ``alpha_X = atan(sy / sx)`` (plain atan in (-pi/2, pi/2); pi/2 where sx = 0). For a source X
    and the fused F:

    - ``G_XF = g_F / g_X`` if g_X > g_F, ``g_F`` if g_X == g_F (the original code's quirk),
      ``g_X / g_F`` otherwise;
    - ``A_XF = 1 - |alpha_X - alpha_F| / (pi/2)``;
    - ``Q_XF = 0.9994 / (1 + exp(-15 (G_XF - 0.5))) * 0.9879 / (1 + exp(-22 (A_XF - 0.8)))``.

    ``Qabf = sum(Q_AF g_A + Q_BF g_B) / sum(g_A + g_B)``. Symmetric in the two sources.
    F = IR = VIS gives about 0.9994 * 0.9879 / (1 + e^-4.4) = 0.9753. Raises ``ValueError`` when
    neither source has an edge (all-zero sources or 1x1 images: 0/0).
    """
    f, a, b = (x.astype(np.float64) for x in grey_triplet(fused, ir, vis))
    return _qabf(f, a, b)
