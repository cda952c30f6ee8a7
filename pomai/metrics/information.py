"""Information-theoretic metrics on uint8 grey levels: entropy (EN) and mutual information (MI)."""

from __future__ import annotations

import numpy as np

from ._validation import check_same_shape, grey_triplet
from .grey import as_grey_uint8

__all__ = ["entropy", "mutual_information", "mutual_information_pair"]


def _entropy_of_counts(counts: np.ndarray) -> float:
    """Shannon entropy in bits of a histogram given as counts: -sum_{p>0} p log2 p."""
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


def _entropy(x: np.ndarray) -> float:
    return _entropy_of_counts(np.bincount(x.ravel(), minlength=256))


def _joint_entropy(x: np.ndarray, f: np.ndarray) -> float:
    # MATLAB indexes its 256x256 histogram with uint8(x) + 1, which saturates at 255: grey levels
    # 254 and 255 land in the same bin, on both axes.
    xi = np.minimum(x, 254).astype(np.intp)
    fi = np.minimum(f, 254).astype(np.intp)
    return _entropy_of_counts(np.bincount((xi * 255 + fi).ravel(), minlength=255 * 255))


def _mi_pair(x: np.ndarray, f: np.ndarray, h_f: float) -> float:
    """MI(X, F) given H(F), which both sources share."""
    return _entropy(x) + h_f - _joint_entropy(x, f)


def _mi(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    h_f = _entropy(f)
    return _mi_pair(a, f, h_f) + _mi_pair(b, f, h_f)


def entropy(img: np.ndarray) -> float:
    """EN: Shannon entropy (bits) of the 256-bin grey-level histogram of a uint8 image.

    ``EN = -sum_{k: p_k > 0} p_k log2 p_k`` with ``p_k = #{pixels == k} / (H W)``, k = 0..255
    (MATLAB ``entropy``). A constant image has EN = 0; the maximum is 8.
    """
    return _entropy(as_grey_uint8(img, "img"))


def mutual_information_pair(x: np.ndarray, f: np.ndarray) -> float:
    """MI(X, F) = H(X) + H(F) - H(X, F) in bits, with the MATLAB suite's histogram quirk.

    H(X) and H(F) are 256-bin entropies (as :func:`entropy`). H(X, F) is the entropy of the
    joint histogram of the uint8 pairs in which grey levels 254 and 255 share one bin on both
    axes (the MATLAB code indexes with ``uint8(x) + 1``, which saturates). Hence
    MI(X, X) = EN(X) exactly when X does not contain both 254 and 255, and slightly more
    otherwise.
    """
    x = as_grey_uint8(x, "x")
    f = as_grey_uint8(f, "f")
    check_same_shape(x=x, f=f)
    return _mi_pair(x, f, _entropy(f))


def mutual_information(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """MI = MI(IR, F) + MI(VIS, F) in bits (see :func:`mutual_information_pair`)."""
    return _mi(*grey_triplet(fused, ir, vis))
