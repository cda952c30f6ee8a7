"""Fusion inputs and outputs: user images in as normalised tensors, results out in the user's kind.

Accepted for either image:

* a file path (anything Pillow reads: PNG, JPEG, TIFF, BMP, ...): a regular file of one frame
  and at most :data:`MAX_IMAGE_PIXELS` pixels, read in display orientation (its EXIF
  orientation applied, as viewers show it);
* a PIL image;
* a numpy array (H, W), (H, W, 1) or (H, W, 3), channels last, of dtype uint8, uint16 (either
  byte order) or floating point with values in [0, 1];
* a torch tensor (C, H, W) or (B, C, H, W), C = 1 or 3, of dtype uint8, uint16 or floating point
  in [0, 1], on any device (detached: the result never requires grad).

Value rules (docs/api.md):

* uint8 is divided by 255; float is used as it is.
* uint16 **infrared** is stretched per image, ``(x - min) / (max - min)`` (a constant image gives
  0), because raw thermal counts fill a narrow part of the 16-bit range; uint16 **visible** is
  divided by 65535, so the result can be written back in the same scale. The stretch uses the
  whole image, never a tile.
* Infrared stored as three channels is accepted when the channels are identical (to within
  2/255, which JPEG round trips need); three different channels (a false-colour palette) are an
  error, because their luminance is not the thermal signal.
* A colour visible image is fused on its BT.601 luminance Y and its Cb/Cr are re-attached, so the
  result is colour; a grey visible image gives a grey result.
* Files and PIL images: an alpha channel is dropped and palette / CMYK images are converted to
  RGB, as Pillow's ``convert`` does.

The result has the visible input's kind: file path or PIL image -> PIL image (mode L, RGB,
I;16 or F following the visible image); numpy -> numpy of the same dtype and layout; tensor ->
tensor of the same dtype, rank and device.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from pomai.color import rgb_to_luma, rgb_to_ycbcr, ycbcr_to_rgb
from pomai.errors import InputError

Role = Literal["infrared", "visible"]
ImageInput = Any  # str | os.PathLike | PIL.Image.Image | np.ndarray | torch.Tensor

# Largest channel difference still treated as "three identical channels" (JPEG round trips).
IDENTICAL_CHANNELS_TOLERANCE = 2 / 255
# Float inputs may overshoot [0, 1] by rounding error this small; they are clamped.
RANGE_TOLERANCE = 1e-6
# Largest image file decoded, in pixels (8192 × 8192), checked from the header before decoding.
# Below Pillow's own warning threshold (89.5 million), so Pillow never warns about an image
# pomai accepts; tiled fusion then holds about 2 GiB of full-resolution buffers. Raise it for
# trusted larger images (the command line's --max-pixels); it is read at every call.
MAX_IMAGE_PIXELS = 2**26

_PIL_TO_RGB = {"P", "PA", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}


@dataclass(frozen=True)
class OutputKind:
    """How to hand a fused result back: the visible input's container, dtype and layout."""

    container: Literal["pil", "numpy", "torch"]
    dtype: Any  # numpy dtype for "pil" / "numpy", torch dtype for "torch"
    colour: bool
    channel_axis: bool  # numpy: (H, W, 1) rather than (H, W)
    batched: bool  # torch: (B, C, H, W) rather than (C, H, W)
    device: torch.device | None = None


@dataclass(frozen=True)
class FusionPair:
    """A validated pair, ready for the network.

    ``ir`` and ``vis_y``: (B, 1, H, W) float32 in [0, 1]; ``vis_chroma``: (B, 2, H, W) Cb/Cr of
    a colour visible image, else None; ``kind``: how to return the result.
    """

    ir: torch.Tensor
    vis_y: torch.Tensor
    vis_chroma: torch.Tensor | None
    kind: OutputKind

    def to(self, device: torch.device) -> FusionPair:
        chroma = None if self.vis_chroma is None else self.vis_chroma.to(device)
        return FusionPair(self.ir.to(device), self.vis_y.to(device), chroma, self.kind)


def read_image(path: str | os.PathLike, role: Role = "visible") -> Image.Image:
    """Open and decode a single-frame image file in display orientation (EXIF applied).

    Refused with an :class:`InputError` naming the file and the fix: a missing path, a folder,
    anything that is not a regular file (a FIFO or a device would block or never end), an image
    over :data:`MAX_IMAGE_PIXELS` (checked from the header, before decoding), a file with
    several frames, and anything Pillow cannot decode.
    """
    name = os.fspath(path)
    with _open_regular_file(name, role) as file:
        try:
            with Image.open(file) as image:
                _check_pixel_count(image.size, name, role)
                _check_single_frame(image, name, role)
                image.load()
                return ImageOps.exif_transpose(image)
        except InputError:
            raise
        except Image.DecompressionBombError as err:
            raise InputError(
                f"{role} image {name!r} is larger than Pillow's decompression-bomb limit ({err}): "
                "if you trust the file, raise PIL.Image.MAX_IMAGE_PIXELS and "
                "pomai.io.MAX_IMAGE_PIXELS (command line: --max-pixels)."
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as err:
            raise InputError(
                f"cannot read {role} image {name!r}: {err}. The file is not an image "
                "Pillow can decode, or it is truncated or corrupt: re-export or re-copy it "
                "(PNG, JPEG, TIFF and BMP are supported)."
            ) from None


@contextmanager
def _open_regular_file(name: str, role: Role) -> Iterator[BinaryIO]:
    """The file ``name`` opened for reading, refused unless it is a regular file.

    It is opened without blocking and checked with ``fstat`` on the open descriptor, so a FIFO
    (which would wait for a writer) or a device (which may never end) is refused before any
    read, and the path cannot change kind between the check and the read.
    """
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        broken = " is a symbolic link to a missing file" if os.path.islink(name) else (
            " does not exist")
        raise InputError(f"{role} image {name!r}{broken}: check the path.") from None
    except OSError as err:
        raise InputError(
            f"cannot open {role} image {name!r}: {err.strerror or err}. Check the path and its "
            "permissions (a symbolic link loop also ends here)."
        ) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise InputError(
                f"{role} image {name!r} is a folder; pass an image file (the command line "
                "'pomai fuse' takes two folders)."
            )
        raise InputError(
            f"{role} image {name!r} is not a regular file (a FIFO, socket or device), which "
            "could block or never end: save the image to a file and pass that."
        )
    with os.fdopen(fd, "rb") as file:
        yield file


def _check_pixel_count(size: tuple[int, int], name: str, role: Role) -> None:
    width, height = size
    if width * height > MAX_IMAGE_PIXELS:
        raise InputError(
            f"{role} image {name!r} is {width}×{height} = {width * height} pixels (W×H), over "
            f"pomai's decoding limit of {MAX_IMAGE_PIXELS}: it may be a decompression bomb. If "
            "you trust it, raise pomai.io.MAX_IMAGE_PIXELS (command line: --max-pixels)."
        )


def _check_single_frame(image: Image.Image, name: str, role: Role) -> None:
    """Refuse animations and multi-page files; an MPO's extra frames (previews, depth maps of
    the primary picture, which some cameras store in their JPEGs) are ignored."""
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and image.format != "MPO":
        raise InputError(
            f"{role} image {name!r} has {frames} frames ({image.format}: an animation or a "
            "multi-page file); pomai fuses single images: save the frame you want as its own "
            "file first (e.g. with Pillow: im.seek(i); im.save('frame.png'))."
        )


def prepare_pair(ir: ImageInput, vis: ImageInput) -> FusionPair:
    """Validate and normalise an (infrared, visible) pair for fusion (see the module docs)."""
    ir_tensor, _ = _to_float(ir, "infrared")
    vis_tensor, kind = _to_float(vis, "visible")
    ir_tensor = _infrared_channel(ir_tensor)
    if ir_tensor.shape[-2:] != vis_tensor.shape[-2:]:
        rotated = ir_tensor.shape[-2:] == vis_tensor.shape[-2:][::-1]
        raise InputError(
            "infrared and visible images differ in size: infrared is "
            f"{_hw(ir_tensor)} and visible is {_hw(vis_tensor)} (H×W). "
            + ("The sizes are transposed, so one image is rotated by 90°: image files are read "
               "in display orientation (their EXIF orientation applied); rotate the other "
               "image to match. " if rotated else "")
            + "PoMAI fuses pixel-aligned pairs of one size; registering (aligning) the two "
            "cameras is out of scope for pomai: register, crop or resize the images to one "
            "size first."
        )
    if ir_tensor.shape[0] != vis_tensor.shape[0]:
        raise InputError(
            f"infrared batch has {ir_tensor.shape[0]} images but visible batch has "
            f"{vis_tensor.shape[0]}: pass the same number of images in each."
        )
    ir_tensor = ir_tensor.to(vis_tensor.device)
    if vis_tensor.shape[1] == 3:
        ycbcr = rgb_to_ycbcr(vis_tensor)
        return FusionPair(ir_tensor, ycbcr[:, :1], ycbcr[:, 1:], kind)
    return FusionPair(ir_tensor, vis_tensor, None, kind)


def restore(fused_y: torch.Tensor, pair: FusionPair) -> Any:
    """The fused luminance (B, 1, H, W) in [0, 1], returned in the visible input's kind.

    A colour visible image gets its Cb/Cr back (BT.601), giving RGB.
    """
    image = fused_y.clamp(0.0, 1.0)
    if pair.vis_chroma is not None:
        image = ycbcr_to_rgb(torch.cat([image, pair.vis_chroma.to(image)], dim=1))
    kind = pair.kind
    if kind.container == "torch":
        out = _from_unit(image.to(kind.device), kind.dtype)
        return out if kind.batched else out[0]
    array = image[0].permute(1, 2, 0).float().cpu().numpy()
    array = _array_from_unit(array, np.dtype(kind.dtype))
    if not kind.colour and not kind.channel_axis:
        array = array[..., 0]
    if kind.container == "numpy":
        return array
    return Image.fromarray(array)


# -- conversion of one input --------------------------------------------------------------------


def _to_float(image: ImageInput, role: Role) -> tuple[torch.Tensor, OutputKind]:
    """(B, C, H, W) float32 in [0, 1] on the input's device, and the input's kind."""
    if isinstance(image, (str, os.PathLike)):
        image = read_image(image, role)
    if isinstance(image, Image.Image):
        array = _pil_array(image, role)
        tensor, kind = _from_numpy(array, role)
        return tensor, OutputKind("pil", kind.dtype, kind.colour, False, False)
    if isinstance(image, np.ndarray):
        return _from_numpy(image, role)
    if isinstance(image, torch.Tensor):
        return _from_torch(image, role)
    raise InputError(
        f"{role} input of type {type(image).__name__} is not supported: pass a file path, a PIL "
        "image, a numpy array (H, W[, C]) or a torch tensor ([B,] C, H, W)."
    )


def _pil_array(image: Image.Image, role: Role) -> np.ndarray:
    mode = image.mode
    if mode in _PIL_TO_RGB:
        image = image.convert("RGB")
    elif mode in ("1", "LA"):
        image = image.convert("L")
    elif mode == "I":
        array = np.asarray(image)
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise InputError(
                f"{role} image has 32-bit integer values outside 0..65535, which pomai does not "
                "read: save it as 8- or 16-bit, or pass a float array scaled to [0, 1]."
            )
        return array.astype(np.uint16)
    if image.mode not in ("L", "RGB", "F") and not image.mode.startswith("I;16"):
        raise InputError(
            f"{role} image has Pillow mode {image.mode!r}, which pomai does not read: convert "
            "it to 'L' (grey) or 'RGB' first."
        )
    array = np.asarray(image)
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def _from_numpy(array: np.ndarray, role: Role) -> tuple[torch.Tensor, OutputKind]:
    dtype = _check_dtype(array.dtype, role)
    # Channels-first only when the last axis is too long to be channels: (3, W, 4) is a
    # three-row RGBA image, not three channels of width 4.
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] > 4:
        raise InputError(
            f"{role} array has shape {array.shape}, which looks channels-first; numpy images are "
            "channels-last (H, W, C): use array.transpose(1, 2, 0)."
        )
    if array.ndim == 2:
        hwc = array[..., None]
    elif array.ndim == 3 and array.shape[2] in (1, 3):
        hwc = array
    else:
        raise InputError(
            f"{role} array has shape {array.shape}; pomai takes (H, W), (H, W, 1) or (H, W, 3)"
            + (": drop the alpha channel with array[..., :3]" if array.ndim == 3
               and array.shape[2] == 4 else ".")
        )
    raw = torch.from_numpy(np.ascontiguousarray(hwc).astype(np.float32)).permute(2, 0, 1)[None]
    kind = OutputKind("numpy", dtype, hwc.shape[2] == 3, array.ndim == 3, False)
    name = str(dtype.newbyteorder("=")) if dtype.kind == "u" else str(dtype)
    return _normalise(raw, name, role), kind


def _from_torch(tensor: torch.Tensor, role: Role) -> tuple[torch.Tensor, OutputKind]:
    tensor = tensor.detach()  # fusion is inference: no graph, and a result without gradient
    if tensor.ndim not in (3, 4):
        hint = " (add a channel axis with t[None])" if tensor.ndim == 2 else ""
        raise InputError(
            f"{role} tensor has shape {tuple(tensor.shape)}; pomai takes (C, H, W) or "
            f"(B, C, H, W) with C = 1 or 3{hint}."
        )
    batched = tensor.ndim == 4
    bchw = tensor if batched else tensor[None]
    if bchw.shape[1] not in (1, 3):
        hint = (" It looks channels-last: use t.permute(2, 0, 1)."
                if bchw.shape[-1] in (1, 3) else "")
        raise InputError(
            f"{role} tensor has {bchw.shape[1]} channels (shape {tuple(tensor.shape)}); pomai "
            f"takes 1 (grey) or 3 (RGB) channels in (C, H, W) or (B, C, H, W) layout.{hint}"
        )
    if tensor.dtype == torch.uint8:
        name = "uint8"
    elif tensor.dtype == torch.uint16:
        name = "uint16"
    elif tensor.is_floating_point():
        name = "float"
    else:
        raise InputError(
            f"{role} tensor has dtype {tensor.dtype}; pomai takes uint8, uint16 or a floating "
            "point tensor in [0, 1]: convert it, e.g. t.float() / 255 for 8-bit values."
        )
    kind = OutputKind("torch", tensor.dtype, bchw.shape[1] == 3, False, batched, tensor.device)
    raw = bchw.to(torch.int32) if name == "uint16" else bchw
    return _normalise(raw.float(), name, role), kind


def _check_dtype(dtype: np.dtype, role: Role) -> np.dtype:
    """The accepted dtype, in either byte order (``>u2`` is 16-bit too)."""
    if (dtype.kind == "u" and dtype.itemsize in (1, 2)) or np.issubdtype(dtype, np.floating):
        return np.dtype(dtype)
    raise InputError(
        f"{role} array has dtype {dtype}; pomai takes uint8, uint16 or floating point in [0, 1]: "
        "convert it, e.g. (a / a.max()).astype(np.float32) or a.astype(np.uint16)."
    )


def _normalise(raw: torch.Tensor, dtype: str, role: Role) -> torch.Tensor:
    """(B, C, H, W) raw values as float32 -> [0, 1] by the module's value rules."""
    if raw.shape[-1] == 0 or raw.shape[-2] == 0 or raw.shape[0] == 0:
        raise InputError(
            f"{role} image is empty (shape {tuple(raw.shape)}, B×C×H×W): pass an image with at "
            "least one pixel."
        )
    if dtype == "uint8":
        return raw / 255.0
    if dtype == "uint16":
        if role == "visible":
            return raw / 65535.0
        flat = raw.flatten(1)
        low = flat.amin(dim=1).view(-1, 1, 1, 1)
        span = (flat.amax(dim=1).view(-1, 1, 1, 1) - low).clamp(min=1.0)
        return (raw - low) / span
    finite = torch.isfinite(raw)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise InputError(
            f"{role} image contains {bad} NaN or infinite value{'s' if bad > 1 else ''}: replace "
            "them first (e.g. numpy.nan_to_num or torch.nan_to_num)."
        )
    low, high = float(raw.min()), float(raw.max())
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise InputError(
            f"{role} float image has values in [{low:.4g}, {high:.4g}], outside [0, 1]: scale it "
            "to [0, 1] (divide by 255 if it holds 8-bit levels), or pass it as uint8 / uint16."
        )
    return raw.clamp(0.0, 1.0)


def _infrared_channel(ir: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1, H, W); three channels must be (nearly) identical."""
    if ir.shape[1] == 1:
        return ir
    spread = float((ir.amax(dim=1) - ir.amin(dim=1)).max())
    if spread > IDENTICAL_CHANNELS_TOLERANCE:
        raise InputError(
            "infrared image has three different colour channels (up to "
            f"{spread * 255:.0f}/255 apart), e.g. a false-colour palette, whose luminance is not "
            "the thermal signal: pass the single-channel thermal image (or, if you accept its "
            "luminance, convert it yourself, e.g. PIL .convert('L'))."
        )
    return rgb_to_luma(ir)


def _hw(t: torch.Tensor) -> str:
    return f"{t.shape[-2]}×{t.shape[-1]}"


def _from_unit(image: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if dtype == torch.uint8:
        return (image * 255).round().to(torch.uint8)
    if dtype == torch.uint16:
        return (image * 65535).round().to(torch.int32).to(torch.uint16)
    return image.to(dtype)


def _array_from_unit(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "u":
        return np.round(array * np.iinfo(dtype).max).astype(dtype)
    return array.astype(dtype)
