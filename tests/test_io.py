"""pomai.io: every accepted input kind, the value rules, and a clear error for each bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pomai.color import rgb_to_luma, rgb_to_ycbcr
from pomai.io import InputError, prepare_pair, restore


def _grey(h: int = 12, w: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)


def _rgb(h: int = 12, w: int = 10, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _identity(ir: object, vis: object) -> object:
    """Prepare a pair and return the visible luminance as the 'fused' image."""
    pair = prepare_pair(ir, vis)
    return restore(pair.vis_y, pair)


# -- kinds in, kinds out ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vis",
    [_grey(), _grey()[..., None], _rgb(), _grey().astype(np.float32) / 255,
     _rgb().astype(np.float64) / 255, (_grey().astype(np.uint16) * 257)],
    ids=["uint8-HW", "uint8-HW1", "uint8-HW3", "float32-HW", "float64-HW3", "uint16-HW"],
)
def test_numpy_result_has_the_visible_dtype_and_layout(vis: np.ndarray) -> None:
    out = _identity(_grey(), vis)
    assert isinstance(out, np.ndarray) and out.dtype == vis.dtype and out.shape == vis.shape
    # Fusing to the visible luminance gives the visible image back (colour: via YCbCr).
    tolerance = {np.uint8: 1, np.uint16: 257}.get(vis.dtype.type, 1e-5)
    assert np.abs(out.astype(np.float64) - vis.astype(np.float64)).max() <= tolerance


def test_pil_and_file_inputs_give_pil_results(tmp_path: Path) -> None:
    grey, rgb = Image.fromarray(_grey()), Image.fromarray(_rgb())
    assert _identity(grey, grey).mode == "L"
    out = _identity(grey, rgb)
    assert out.mode == "RGB" and out.size == rgb.size
    rgb.save(tmp_path / "vis.png")
    grey.save(tmp_path / "ir.jpg")
    from_files = _identity(tmp_path / "ir.jpg", str(tmp_path / "vis.png"))
    assert from_files.mode == "RGB"
    assert np.abs(np.asarray(from_files, int) - np.asarray(rgb, int)).max() <= 1
    sixteen = Image.fromarray(_grey().astype(np.uint16) * 257)
    assert sixteen.mode == "I;16" and _identity(grey, sixteen).mode == "I;16"


def test_pil_alpha_and_palette_are_converted_like_pillow_does() -> None:
    rgba = Image.fromarray(np.dstack([_rgb(), np.full((12, 10), 7, np.uint8)]))
    assert _identity(_grey(), rgba).mode == "RGB"
    palette = Image.fromarray(_rgb()).convert("P")
    expected = np.asarray(palette.convert("RGB"))
    assert np.abs(np.asarray(_identity(_grey(), palette), int) - expected).max() <= 1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8])
@pytest.mark.parametrize("shape", [(1, 12, 10), (3, 12, 10), (2, 3, 12, 10)])
def test_tensor_result_keeps_dtype_rank_and_device(dtype: torch.dtype, shape: tuple) -> None:
    vis = torch.randint(0, 256, shape, dtype=torch.uint8)
    vis = vis if dtype == torch.uint8 else vis.to(dtype) / 255
    ir = torch.rand(shape[:-3] + (1,) + shape[-2:])
    out = _identity(ir, vis)
    assert out.dtype == dtype and out.shape == vis.shape and out.device == vis.device
    tolerance = 1 if dtype == torch.uint8 else 1e-5
    assert (out.double() - vis.double()).abs().max() <= tolerance


def test_colour_visible_is_fused_on_bt601_luma_with_chroma_kept() -> None:
    rgb = _rgb()
    pair = prepare_pair(_grey(), rgb)
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    assert torch.allclose(pair.vis_y, rgb_to_luma(t), atol=1e-6)
    assert torch.allclose(pair.vis_chroma, rgb_to_ycbcr(t)[:, 1:], atol=1e-6)
    grey = prepare_pair(_grey(), _grey())
    assert grey.vis_chroma is None


# -- value rules --------------------------------------------------------------------------------


def test_uint16_infrared_is_stretched_per_image_and_visible_divided_by_65535() -> None:
    raw = np.random.default_rng(0).integers(7000, 9001, (12, 10)).astype(np.uint16)
    pair = prepare_pair(raw, raw)
    expected = (raw.astype(np.float64) - raw.min()) / (raw.max() - raw.min())
    assert np.allclose(pair.ir[0, 0].numpy(), expected, atol=1e-6)
    assert np.allclose(pair.vis_y[0, 0].numpy(), raw / 65535, atol=1e-6)
    constant = prepare_pair(np.full((4, 4), 8000, np.uint16), np.zeros((4, 4), np.uint8))
    assert float(constant.ir.abs().max()) == 0.0
    batch = torch.stack([torch.from_numpy(raw.astype(np.int32)), torch.full((12, 10), 5)])
    stretched = prepare_pair(batch[:, None].to(torch.uint16), torch.rand(2, 1, 12, 10)).ir
    assert torch.allclose(stretched[0, 0].double(), torch.from_numpy(expected), atol=1e-6)


def test_infrared_stored_as_three_identical_channels_is_accepted() -> None:
    grey = _grey()
    three = prepare_pair(np.dstack([grey] * 3), _rgb()).ir
    assert torch.allclose(three, prepare_pair(grey, _rgb()).ir, atol=1e-6)
    jpeg_like = np.dstack([grey, np.clip(grey.astype(int) + 1, 0, 255).astype(np.uint8), grey])
    assert prepare_pair(jpeg_like, _rgb()).ir.shape == (1, 1, 12, 10)


def test_float_rounding_overshoot_is_clamped() -> None:
    vis = np.full((4, 4), 1 + 1e-7, np.float32)
    assert float(prepare_pair(np.zeros((4, 4), np.float32), vis).vis_y.max()) == 1.0


# -- bad inputs: each error names the problem and the fix ---------------------------------------


@pytest.mark.parametrize(
    ("ir", "vis", "message"),
    [
        (np.zeros((480, 640), np.uint8), np.zeros((480, 641, 3), np.uint8),
         r"infrared is 480×640 and visible is 480×641 \(H×W\).*registering .* is out of scope"),
        (torch.rand(2, 1, 8, 8), torch.rand(3, 1, 8, 8), "infrared batch has 2 images"),
        (np.zeros((4, 4), np.int32), np.zeros((4, 4), np.uint8),
         "infrared array has dtype int32; pomai takes uint8, uint16 or floating"),
        (np.zeros((4, 4)), np.zeros((4, 4), bool), "visible array has dtype bool"),
        (torch.zeros(1, 4, 4, dtype=torch.int64), torch.rand(1, 4, 4),
         "infrared tensor has dtype torch.int64"),
        (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8),
         r"visible array has shape \(4, 4, 4\).*drop the alpha channel"),
        (np.zeros((4, 4), np.uint8), np.zeros((3, 8, 8), np.uint8), "looks channels-first"),
        (torch.rand(1, 2, 4, 4), torch.rand(1, 1, 4, 4), "infrared tensor has 2 channels"),
        (torch.rand(1, 4, 4), torch.rand(4, 4, 3), "It looks channels-last"),
        (torch.rand(4, 4), torch.rand(1, 4, 4), r"add a channel axis with t\[None\]"),
        (np.full((4, 4), np.nan, np.float32), np.zeros((4, 4), np.float32),
         "infrared image contains 16 NaN or infinite values.*nan_to_num"),
        (np.zeros((4, 4), np.float32), torch.tensor([[[0.5, float("inf")]]]),
         "visible image contains 1 NaN or infinite value"),
        (np.zeros((0, 640), np.uint8), np.zeros((0, 640), np.uint8),
         "infrared image is empty .*at least one pixel"),
        (np.zeros((4, 4), np.float32), np.full((4, 4), 255.0, np.float32),
         r"visible float image has values in \[255, 255\], outside \[0, 1\].*divide by 255"),
        (np.dstack([_grey(), _grey(seed=5), _grey()]), _rgb(),
         "infrared image has three different colour channels.*single-channel thermal"),
        ([[0, 1]], np.zeros((4, 4), np.uint8), "infrared input of type list is not supported"),
    ],
)
def test_bad_input_has_a_clear_error(ir: object, vis: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        prepare_pair(ir, vis)


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(_grey()).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for path in (truncated, text):
        with pytest.raises(InputError, match=f"cannot read visible image '{path}'.*corrupt"):
            prepare_pair(good, path)
    with pytest.raises(InputError, match="infrared image '.*missing.png' does not exist"):
        prepare_pair(tmp_path / "missing.png", good)
    with pytest.raises(InputError, match="is a folder"):
        prepare_pair(tmp_path, good)


# -- files read as viewers show them; arrays in either byte order --------------------------------


def test_exif_orientation_is_applied_on_read(tmp_path: Path) -> None:
    """A phone JPEG stored sideways with orientation 6 ("rotate 90° clockwise to view") is read
    in display orientation, so it pairs with an infrared image taken as displayed."""
    stored = np.zeros((8, 12), np.uint8)
    stored[0, 0] = 255  # the stored top-left corner is the displayed top-right one
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "vis.png", exif=exif.tobytes())
    out = _identity(np.zeros((12, 8), np.uint8), tmp_path / "vis.png")
    displayed = np.asarray(out)
    assert displayed.shape == (12, 8)
    assert displayed[0, -1] == 255 and displayed.sum() == 255
    with pytest.raises(InputError, match="sizes are transposed.*EXIF orientation applied"):
        prepare_pair(np.zeros((8, 12), np.uint8), tmp_path / "vis.png")


def test_big_endian_uint16_is_uint16() -> None:
    native = (_grey().astype(np.uint16) * 257)
    big = native.astype(">u2")
    assert _identity(native, big).dtype == np.dtype(">u2")
    assert np.array_equal(_identity(big, big), _identity(native, native))
    assert torch.equal(prepare_pair(big, native).ir, prepare_pair(native, native).ir)


def test_a_three_row_rgba_array_is_not_channels_first() -> None:
    with pytest.raises(InputError, match=r"shape \(3, 5, 4\).*drop the alpha channel"):
        prepare_pair(np.zeros((3, 5), np.uint8), np.zeros((3, 5, 4), np.uint8))
    with pytest.raises(InputError, match="looks channels-first"):
        prepare_pair(np.zeros((5, 6), np.uint8), np.zeros((4, 5, 6), np.uint8))


def test_inputs_that_require_grad_are_detached() -> None:
    vis = torch.rand(3, 6, 5, requires_grad=True)
    out = _identity(torch.rand(1, 6, 5, requires_grad=True), vis)
    assert not out.requires_grad and out.grad_fn is None


def test_an_mpo_is_read_as_its_primary_picture(tmp_path: Path) -> None:
    """Some cameras store previews or depth maps after the picture in their JPEGs (MPO)."""
    primary = Image.fromarray(np.full((8, 10, 3), 200, np.uint8))
    primary.save(tmp_path / "vis.jpg", format="MPO", save_all=True,
                 append_images=[Image.fromarray(np.zeros((8, 10, 3), np.uint8))])
    with Image.open(tmp_path / "vis.jpg") as stored:
        assert stored.format == "MPO" and stored.n_frames == 2
    out = np.asarray(_identity(np.zeros((8, 10), np.uint8), tmp_path / "vis.jpg"), int)
    assert np.abs(out - 200).max() <= 2
