"""VIF: multi-scale pixel-domain visual information fidelity (Sheikh & Bovik, ``vifp_mscale``)."""

from __future__ import annotations

import numpy as np

from ._filters import filter2_valid, gaussian_kernel_1d
from ._validation import check_same_shape, grey_triplet, require_min_size
from .grey import as_grey_uint8

__all__ = ["VIF_MIN_SIZE", "vif", "vifp_mscale"]

_SIGMA_NSQ = 2.0
_EPS = 1e-10
_SCALES = 4
#: Smallest height and width for which the first (17x17 'valid') scale is not empty.
VIF_MIN_SIZE = 17


def _windows() -> list[np.ndarray]:
    # Scale s = 1..4: N = 2^(5-s) + 1 (17, 9, 5, 3), fspecial('gaussian', N, N/5).
    return [gaussian_kernel_1d(n, n / 5.0) for n in (2 ** (5 - s) + 1 for s in range(1, 5))]


_WINDOWS = _windows()


def _vifp_terms(refs: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numerators and denominators of vifp_mscale for each reference in ``refs`` (R, H, W)
    against one distorted image ``dist`` (H, W), float64 on [0, 255]."""
    n_ref = refs.shape[0]
    num = np.zeros(n_ref)
    den = np.zeros(n_ref)
    imgs = np.concatenate([refs, dist[None]], axis=0)  # (R + 1, H, W)
    for scale, w in enumerate(_WINDOWS, start=1):
        if scale > 1:
            imgs = filter2_valid(imgs, w, step=2)
        if imgs.shape[-2] < w.size or imgs.shape[-1] < w.size:
            break  # MATLAB: 'valid' output is empty; this and every later scale add 0
        ref, d = imgs[:n_ref], imgs[n_ref]
        # Local moments of all maps in one filtering pass: ref, dist, ref^2, dist^2, ref*dist.
        stack = np.concatenate([imgs, ref * ref, (d * d)[None], ref * d], axis=0)
        m = filter2_valid(stack, w)
        mu1, mu2 = m[:n_ref], m[n_ref]
        sigma1_sq = m[n_ref + 1 : 2 * n_ref + 1] - mu1 * mu1
        sigma2_sq = m[2 * n_ref + 1] - mu2 * mu2
        sigma12 = m[2 * n_ref + 2 :] - mu1 * mu2
        np.maximum(sigma1_sq, 0.0, out=sigma1_sq)
        np.maximum(sigma2_sq, 0.0, out=sigma2_sq)

        g = sigma12 / (sigma1_sq + _EPS)
        sv_sq = sigma2_sq - g * sigma12
        # MATLAB applies these in order; written as one pass of masks:
        # sigma1^2 < eps: g = 0, sv^2 = sigma2^2, sigma1^2 = 0; then sigma2^2 < eps: g = 0,
        # sv^2 = 0; then g < 0 (only possible where neither fired): sv^2 = sigma2^2, g = 0.
        low1 = sigma1_sq < _EPS
        low2 = np.broadcast_to(sigma2_sq < _EPS, low1.shape)
        neg = g < 0
        drop = low1 | low2 | neg
        sv_sq = np.where(low2, 0.0, np.where(low1 | neg, sigma2_sq, sv_sq))
        g = np.where(drop, 0.0, g)
        sigma1_sq = np.where(low1, 0.0, sigma1_sq)
        np.maximum(sv_sq, _EPS, out=sv_sq)

        num += np.log10(1.0 + g * g * sigma1_sq / (sv_sq + _SIGMA_NSQ)).sum(axis=(-2, -1))
        den += np.log10(1.0 + sigma1_sq / _SIGMA_NSQ).sum(axis=(-2, -1))
    return num, den


def _ratio(num: float, den: float, which: str) -> float:
    if den == 0.0:
        raise ValueError(
            f"VIF is undefined (0/0) because the reference {which} has no local variance at any "
            "scale (a constant image); MATLAB's vifp_mscale returns NaN here."
        )
    return float(num / den)


def _vif(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    num, den = _vifp_terms(np.stack([a, b]), f)
    return _ratio(num[0], den[0], "ir") + _ratio(num[1], den[1], "vis")


def vifp_mscale(ref: np.ndarray, dist: np.ndarray) -> float:
    """Multi-scale pixel-domain VIF of ``dist`` against ``ref`` (MATLAB ``vifp_mscale``).

    On the [0, 255] float scale with sigma_n^2 = 2, for scales s = 1..4 with window
    w_s = fspecial('gaussian', N, N/5), N = 2^(5-s) + 1:

    1. for s > 1 both images are filtered with w_s ('valid') and subsampled ``[::2, ::2]``;
    2. local moments mu1, mu2, sigma1^2, sigma2^2 (clipped at 0) and sigma12 are computed with
       w_s, 'valid';
    3. ``g = sigma12 / (sigma1^2 + 1e-10)``, ``sv^2 = sigma2^2 - g sigma12``; where
       sigma1^2 < 1e-10: g = 0, sv^2 = sigma2^2, sigma1^2 = 0; where sigma2^2 < 1e-10: g = 0,
       sv^2 = 0; where g < 0: sv^2 = sigma2^2, g = 0; then sv^2 = max(sv^2, 1e-10);
    4. ``num += sum log10(1 + g^2 sigma1^2 / (sv^2 + sigma_n^2))``,
       ``den += sum log10(1 + sigma1^2 / sigma_n^2)``.

    ``vifp = num / den``; ``vifp(x, x) = 1`` up to the 1e-10 regularisers. A scale whose 'valid'
    output is empty adds nothing (as in MATLAB). Needs H, W >= 17 and a non-constant ``ref``
    (``ValueError`` otherwise).
    """
    r = as_grey_uint8(ref, "ref")
    d = as_grey_uint8(dist, "dist")
    check_same_shape(ref=r, dist=d)
    require_min_size(r, VIF_MIN_SIZE, VIF_MIN_SIZE, "VIF")
    num, den = _vifp_terms(r[None].astype(np.float64), d.astype(np.float64))
    return _ratio(num[0], den[0], "ref")


def vif(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """VIF = vifp_mscale(IR, F) + vifp_mscale(VIS, F), a sum (see :func:`vifp_mscale`).

    Each term is about 0.3-0.6 for typical fusion results; F = IR = VIS gives 2.
    """
    f, a, b = grey_triplet(fused, ir, vis)
    require_min_size(f, VIF_MIN_SIZE, VIF_MIN_SIZE, "VIF")
    return _vif(f.astype(np.float64), a.astype(np.float64), b.astype(np.float64))
