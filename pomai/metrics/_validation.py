"""Input checks shared by the metric functions."""

from __future__ import annotations

import numpy as np

from .grey import as_grey_uint8


def check_same_shape(**images: np.ndarray) -> None:
    """Raise ``ValueError`` naming every shape when the grey images differ in size."""
    shapes = {name: img.shape for name, img in images.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(
            f"images must have the same height and width, got {listed}. The metrics compare "
            "pixel-aligned images: register or resize the pair first."
        )


def grey_triplet(
    fused: np.ndarray, ir: np.ndarray, vis: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate (fused, ir, vis) and return them as same-sized 2-D uint8 grey arrays."""
    f = as_grey_uint8(fused, "fused")
    a = as_grey_uint8(ir, "ir")
    b = as_grey_uint8(vis, "vis")
    check_same_shape(fused=f, ir=a, vis=b)
    return f, a, b


def require_min_size(img: np.ndarray, rows: int, cols: int, metric: str) -> None:
    """Raise ``ValueError`` when ``img`` is smaller than rows x cols."""
    h, w = img.shape
    if h < rows or w < cols:
        raise ValueError(
            f"{metric} needs an image of at least {rows}x{cols} pixels (H x W), got {h}x{w}."
        )
