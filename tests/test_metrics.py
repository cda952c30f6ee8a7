"""Tests of pomai.metrics: closed-form cases, edge cases and the 126 MATLAB reference values."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.common import data_root
from pomai.metrics import (
    METRIC_NAMES,
    average_gradient,
    compute_all,
    entropy,
    mutual_information,
    mutual_information_pair,
    qabf,
    read_grey,
    rgb2gray,
    scd,
    spatial_frequency,
    ssim,
    ssim_pair,
    standard_deviation,
    vif,
    vifp_mscale,
)

REF_DIR = data_root() / "metric-reference"
QABF_IDENTICAL = 0.9994 * 0.9879 / (1.0 + math.exp(-4.4))


def _random(shape: tuple[int, ...], seed: int = 0, high: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, shape).astype(np.uint8)


def _smooth(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A natural-looking test image: blurred noise plus a ramp, uint8 in [0, 253]."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    for axis in (0, 1):  # cheap separable blur
        x = sum(np.roll(x, s, axis=axis) for s in range(-3, 4))
    x = x / np.abs(x).max() * 80 + np.linspace(40, 160, shape[1])[None, :]
    return np.clip(np.round(x), 0, 253).astype(np.uint8)


def _checkerboard(h: int, w: int, a: int) -> np.ndarray:
    return (((np.arange(h)[:, None] + np.arange(w)[None, :]) % 2) * a).astype(np.uint8)


# --- closed-form values -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1), (5, 9), (32, 32)])
def test_constant_image_has_zero_statistics(shape: tuple[int, int]) -> None:
    c = np.full(shape, 137, np.uint8)
    assert entropy(c) == 0.0
    assert standard_deviation(c) == 0.0
    if min(shape) >= 2:
        assert spatial_frequency(c) == 0.0
        assert average_gradient(c) == 0.0


@pytest.mark.parametrize(("h", "w"), [(8, 8), (5, 12), (12, 3)])
def test_checkerboard_sf_ag_en_by_hand(h: int, w: int) -> None:
    a = 200
    board = _checkerboard(h, w, a)
    # Every horizontal and vertical neighbour differs by a: RF = CF = a, SF = a sqrt(2).
    assert spatial_frequency(board) == pytest.approx(a * math.sqrt(2), rel=1e-12)
    # MATLAB gradient: central differences vanish inside (f[k+1] = f[k-1]); the one-sided
    # border differences are +-a. Corners have |gx| = |gy| = a -> sqrt((a^2 + a^2)/2) = a;
    # the other border pixels have one of them -> a / sqrt(2).
    edge_pixels = 2 * (h - 2) + 2 * (w - 2)
    ag = (4 * a + edge_pixels * a / math.sqrt(2)) / ((h - 1) * (w - 1))
    assert average_gradient(board) == pytest.approx(ag, rel=1e-12)
    # Half the pixels are 0 and half a (w even or h even): one bit.
    if (h * w) % 2 == 0:
        assert entropy(board) == pytest.approx(1.0, abs=1e-15)


def test_sd_is_population_std() -> None:
    x = np.array([[0, 255]], np.uint8)
    assert standard_deviation(x) == pytest.approx(127.5)


def test_mi_of_identical_images_is_twice_entropy() -> None:
    x = _smooth((40, 50))  # no grey level 254 or 255
    assert mutual_information(x, x, x) == pytest.approx(2 * entropy(x), rel=1e-12)
    assert mutual_information_pair(x, x) == pytest.approx(entropy(x), rel=1e-12)


def test_mi_joint_histogram_merges_254_and_255() -> None:
    # Half 254, half 255: EN = 1 bit, but the joint histogram sees one bin (entropy 0), so
    # MI(X, X) = 1 + 1 - 0 = 2, as the MATLAB code computes it.
    x = np.array([[254, 255], [255, 254]], np.uint8)
    assert entropy(x) == pytest.approx(1.0)
    assert mutual_information_pair(x, x) == pytest.approx(2.0)


def test_vif_of_image_with_itself_is_one_per_source() -> None:
    x = _smooth((64, 80))
    assert vifp_mscale(x, x) == pytest.approx(1.0, abs=1e-8)
    assert vif(x, x, x) == pytest.approx(2.0, abs=1e-8)


def test_qabf_identical_images() -> None:
    x = _random((48, 40), seed=3)  # large gradients: the strength sigmoid saturates at 0.9994
    assert qabf(x, x, x) == pytest.approx(QABF_IDENTICAL, rel=1e-6)
    assert QABF_IDENTICAL == pytest.approx(0.9753, abs=5e-5)


def test_ssim_of_image_with_itself() -> None:
    x = _random((30, 20), seed=4)
    assert ssim_pair(x, x) == pytest.approx(1.0, abs=1e-12)
    assert ssim(x, x, x) == pytest.approx(2.0, abs=1e-12)


@pytest.mark.parametrize("func", [mutual_information, scd, vif, qabf, ssim])
def test_symmetric_in_the_two_sources(func) -> None:
    f, a, b = _smooth((40, 56), 0), _smooth((40, 56), 1), _random((40, 56), 2)
    assert func(f, a, b) == pytest.approx(func(f, b, a), rel=1e-12)


def test_functions_agree_with_compute_all() -> None:
    f, a, b = _smooth((33, 45), 5), _smooth((33, 45), 6), _random((33, 45), 7)
    got = compute_all(f, a, b)
    assert tuple(got) == METRIC_NAMES
    expected = {
        "EN": entropy(f),
        "SD": standard_deviation(f),
        "SF": spatial_frequency(f),
        "AG": average_gradient(f),
        "MI": mutual_information(f, a, b),
        "SCD": scd(f, a, b),
        "VIF": vif(f, a, b),
        "Qabf": qabf(f, a, b),
        "SSIM": ssim(f, a, b),
    }
    assert got == expected
    assert compute_all(f, a, b, metrics=["VIF", "EN"]) == {"VIF": got["VIF"], "EN": got["EN"]}


# --- grey conversion and input handling --------------------------------------------------


def test_rgb2gray_matlab_values() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    # 76.228..., 149.696..., 29.075..., 254.99999999999974
    assert rgb2gray(rgb).tolist() == [[76, 150, 29, 255]]
    levels = np.arange(256, dtype=np.uint8)
    grey_rgb = np.repeat(levels[None, :, None], 3, axis=2)
    assert np.array_equal(rgb2gray(grey_rgb)[0], levels)


def test_rgb_input_is_converted_like_matlab() -> None:
    rgb = _random((20, 24, 3), seed=8)
    grey = rgb2gray(rgb)
    other = _smooth((20, 24))
    assert compute_all(rgb, other, other) == compute_all(grey, other, other)
    assert compute_all(grey[..., None], other, other) == compute_all(grey, other, other)


def test_read_grey(tmp_path: Path) -> None:
    rgb = _random((9, 7, 3), seed=9)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png")
    assert np.array_equal(read_grey(tmp_path / "rgb.png"), rgb2gray(rgb))
    assert np.array_equal(read_grey(tmp_path / "grey.png"), rgb[..., 0])
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(ValueError, match="8 bits"):
        read_grey(tmp_path / "deep.png")


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((20, 20), np.float64), "dtype uint8"),
        (np.zeros((20, 20), np.uint16), "dtype uint8"),
        (np.zeros((20, 20, 4), np.uint8), "shape"),
        (np.zeros((1, 20, 20), np.uint8), "shape"),
        (np.zeros((0, 20), np.uint8), "empty"),
        (np.zeros((20, 21), np.uint8), "same height and width"),
        ([[1, 2], [3, 4]], "numpy array"),
    ],
)
def test_bad_inputs_raise_clear_errors(bad, match: str) -> None:
    good = _smooth((20, 20))
    with pytest.raises(ValueError, match=match):
        compute_all(bad, good, good)


def test_unknown_metric_name() -> None:
    x = _smooth((20, 20))
    with pytest.raises(ValueError, match="unknown metric"):
        compute_all(x, x, x, metrics=["PSNR"])


def test_one_pixel_images() -> None:
    one = np.full((1, 1), 90, np.uint8)
    other = np.full((1, 1), 10, np.uint8)
    defined = compute_all(one, other, one, metrics=["EN", "SD", "MI", "SCD", "SSIM"])
    assert defined == {"EN": 0.0, "SD": 0.0, "MI": 0.0, "SCD": 0.0, "SSIM": defined["SSIM"]}
    assert 0.0 < defined["SSIM"] <= 2.0
    for name, match in [("SF", "2x2"), ("AG", "2x2"), ("VIF", "17x17"), ("Qabf", "undefined")]:
        with pytest.raises(ValueError, match=match):
            compute_all(one, other, one, metrics=[name])


def test_non_square_and_small_images_give_finite_values() -> None:
    for h, w in [(17, 17), (17, 90), (61, 23), (2, 300)]:
        f, a, b = _random((h, w), 10), _random((h, w), 11), _random((h, w), 12)
        names = METRIC_NAMES if min(h, w) >= 17 else [n for n in METRIC_NAMES if n != "VIF"]
        values = compute_all(f, a, b, metrics=names)
        assert all(math.isfinite(v) for v in values.values()), (h, w, values)


def test_constant_inputs_never_give_nan() -> None:
    x = _smooth((32, 32))
    c = np.full((32, 32), 100, np.uint8)
    # Constant fused image: everything is defined.
    values = compute_all(c, x, _smooth((32, 32), 1))
    assert all(math.isfinite(v) for v in values.values())
    assert values["VIF"] == 0.0
    # F equal to both sources: the SCD difference images are constant -> terms count as 0.
    assert scd(x, x, x) == 0.0
    # A constant source makes VIF 0/0 (NaN in MATLAB): a clear error instead.
    with pytest.raises(ValueError, match="constant"):
        vif(x, c, x)
    z = np.zeros((32, 32), np.uint8)
    with pytest.raises(ValueError, match="no edge|undefined"):
        qabf(x, z, z)


# --- MATLAB reference values -------------------------------------------------------------


def _reference_rows() -> list:
    path = REF_DIR / "reference_values.csv"
    if not path.is_file():
        return [pytest.param(None, id="reference-data-missing")]
    with path.open(newline="") as fh:
        return [pytest.param(r, id=f"{r['method']}-{r['image']}") for r in csv.DictReader(fh)]


def _raw(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


@pytest.mark.parametrize("row", _reference_rows())
def test_matches_matlab_reference(row: dict[str, str] | None) -> None:
    if row is None:
        pytest.skip(
            f"metric reference data not found in {REF_DIR}; point POMAI_SHARED_DATA at the "
            "shared data folder (the one holding metric-reference/) to run this test"
        )
    name = f"{row['image']}.png"
    # Raw arrays (the sources and SeAFusion's results are RGB): exercises the rgb2gray path.
    fused = _raw(REF_DIR / "fused" / row["method"] / name)
    ir = _raw(REF_DIR / "sources" / "ir" / name)
    vis = _raw(REF_DIR / "sources" / "vi" / name)
    got = compute_all(fused, ir, vis)
    for metric in METRIC_NAMES:
        assert got[metric] == pytest.approx(float(row[metric]), rel=1e-6), metric
