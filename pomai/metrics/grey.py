"""Grey-level conversion and image reading with the MATLAB conventions of the metric suite.

Every fusion metric in :mod:`pomai.metrics` works on one grey channel. The field's MATLAB
evaluation code (EvalTang, "Evaluation-for-Image-Fusion") reads each PNG, converts a 3-channel
image with ``rgb2gray`` and keeps the uint8 grey levels; the float metrics use the same grey
levels as float64 on the [0, 255] scale. This module reproduces that step exactly.

It is the metrics' own reader, on purpose: fusion and training read images through
:mod:`pomai.io` (any bit depth, EXIF orientation, BT.601 luminance); the metrics, and the
modality study of :mod:`pomai.analysis`, measure what the MATLAB code measures.
"""

from __future__ import annotations

from os import PathLike

import numpy as np

#: MATLAB ``rgb2gray`` weights (the exact constants MATLAB uses, not the rounded 0.299/0.587/0.114).
RGB2GRAY_WEIGHTS: tuple[float, float, float] = (
    0.298936021293775,
    0.587043074451121,
    0.114020904255103,
)

__all__ = ["RGB2GRAY_WEIGHTS", "as_grey_uint8", "read_grey", "rgb2gray"]


def rgb2gray(rgb: np.ndarray) -> np.ndarray:
    """Convert a uint8 RGB image (H, W, 3) to uint8 grey exactly as MATLAB ``rgb2gray`` does.

    ``Y = round(0.298936021293775 R + 0.587043074451121 G + 0.114020904255103 B)``, computed in
    float64 and rounded half away from zero (MATLAB ``round``), which for these non-negative
    values is ``floor(x + 0.5)``.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(
            f"rgb2gray expects a uint8 array of shape (H, W, 3); got dtype {rgb.dtype} and "
            f"shape {rgb.shape}."
        )
    wr, wg, wb = RGB2GRAY_WEIGHTS
    c = rgb.astype(np.float64)
    y = wr * c[..., 0] + wg * c[..., 1] + wb * c[..., 2]
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)


def as_grey_uint8(img: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an image and return it as a 2-D uint8 grey array.

    Accepted: uint8 arrays of shape (H, W), (H, W, 1) or (H, W, 3) (RGB, converted with
    :func:`rgb2gray`), with H, W >= 1. Anything else raises ``ValueError`` saying what to do;
    ``name`` is used in the message.
    """
    if not isinstance(img, np.ndarray):
        raise ValueError(
            f"{name}: expected a numpy array, got {type(img).__name__}. "
            "Read files with pomai.metrics.read_grey(path) or pass np.asarray(image)."
        )
    if img.dtype != np.uint8:
        raise ValueError(
            f"{name}: expected dtype uint8 (grey levels 0..255, as the MATLAB metric suite reads "
            f"PNGs), got {img.dtype}. Convert a [0, 1] float image with "
            "np.clip(np.round(x * 255), 0, 255).astype(np.uint8) first."
        )
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 3 and img.shape[2] == 3:
        img = rgb2gray(img)
    if img.ndim != 2:
        raise ValueError(
            f"{name}: expected shape (H, W), (H, W, 1) or (H, W, 3), got {img.shape}. "
            "Drop an alpha channel or a batch dimension first."
        )
    if img.size == 0:
        raise ValueError(f"{name}: the image is empty (shape {img.shape}).")
    return img


def read_grey(path: str | PathLike[str]) -> np.ndarray:
    """Read an 8-bit image file as 2-D uint8 grey, like ``rgb2gray(imread(path))`` in MATLAB.

    Grey images are returned as stored; RGB (and palette) images go through :func:`rgb2gray`;
    an alpha channel is ignored, as MATLAB ``imread`` returns it separately. 16-bit and float
    images raise ``ValueError``: the metric conventions are defined on 8-bit grey levels.
    """
    from PIL import Image

    with Image.open(path) as im:
        mode = im.mode
        if mode in ("L", "RGB"):
            arr = np.asarray(im)
        elif mode in ("LA", "1"):
            arr = np.asarray(im.convert("L"))
        elif mode in ("RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
            arr = np.asarray(im.convert("RGB"))
        else:
            raise ValueError(
                f"{path}: image mode {mode!r} is not 8-bit grey or RGB. The metrics are defined on "
                "8-bit grey levels: convert the image to 8 bits first."
            )
    return as_grey_uint8(np.ascontiguousarray(arr), name=str(path))
