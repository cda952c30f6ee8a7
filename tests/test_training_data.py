"""Paired training data (pomai.training.data): pairing, errors, aligned crops, sampling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pomai.io import prepare_pair
from pomai.training.data import Augment, PairedImages, epoch_order, find_pairs, load_pair


def test_pairs_by_stem_across_formats(tmp_path: Path, make_pairs: Callable[..., Path]) -> None:
    root = make_pairs(tmp_path / "d", ["b", "a"], ir_ext=".png", vis_ext=".jpg")
    make_pairs(root, ["c"], ir_ext=".bmp", vis_ext=".tif")
    (root / "ir" / "notes.txt").write_text("not an image")  # ignored: not an image suffix
    pairs = find_pairs(root)
    assert [(i.name, v.name) for i, v in pairs] == [
        ("a.png", "a.jpg"), ("b.png", "b.jpg"), ("c.bmp", "c.tif")
    ]


def test_unpaired_files_are_named(tmp_path: Path, make_pairs: Callable[..., Path]) -> None:
    root = make_pairs(tmp_path / "d", ["a", "b"])
    (root / "vi" / "b.png").unlink()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "vi" / "zz.png")
    with pytest.raises(ValueError, match="2 images .* no partner") as info:
        find_pairs(root)
    assert str(root / "ir" / "b.png") in str(info.value)
    assert str(root / "vi" / "zz.png") in str(info.value)


def test_missing_folder_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist.*'ir/' and 'vi/'"):
        find_pairs(tmp_path / "nowhere")
    (tmp_path / "only" / "ir").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"only[/\\]vi does not exist"):
        find_pairs(tmp_path / "only")
    (tmp_path / "only" / "vi").mkdir()
    with pytest.raises(ValueError, match="no image pairs found"):
        find_pairs(tmp_path / "only")


def test_custom_folder_names(tmp_path: Path, make_pairs: Callable[..., Path]) -> None:
    root = make_pairs(tmp_path / "d", ["a"])
    (root / "ir").rename(root / "infrared")
    (root / "vi").rename(root / "visible")
    assert len(find_pairs(root, ir_dir="infrared", vis_dir="visible")) == 1


def test_fixed_pair_list(tmp_path: Path, make_pairs: Callable[..., Path]) -> None:
    root = make_pairs(tmp_path / "d", ["a", "b", "c"])
    pairs = find_pairs(root, names=["c", "a"])
    assert [p[0].stem for p in pairs] == ["c", "a"]  # restricted and ordered by the list
    with pytest.raises(ValueError, match=r"pairs \['x'\] of the pair list are not in"):
        find_pairs(root, names=["a", "x"])


def test_mismatched_sizes_error(tmp_path: Path, make_pairs: Callable[..., Path]) -> None:
    root = make_pairs(tmp_path / "d", ["a"], (20, 24))
    Image.fromarray(np.zeros((20, 23), np.uint8)).save(root / "vi" / "a.png")
    message = r"training pair a\.png: infrared and visible images differ in size.*20×24.*20×23"
    with pytest.raises(ValueError, match=message):
        PairedImages(find_pairs(root), Augment())


def test_unreadable_image_error(tmp_path: Path, make_pairs: Callable[..., Path]) -> None:
    root = make_pairs(tmp_path / "d", ["a"])
    (root / "ir" / "a.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"training pair a\.png: cannot read infrared image"):
        load_pair(root / "ir" / "a.png", root / "vi" / "a.png")


def test_visible_colour_becomes_bt601_luminance(tmp_path: Path) -> None:
    (tmp_path / "ir").mkdir()
    (tmp_path / "vi").mkdir()
    rgb = np.zeros((6, 7, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    Image.fromarray(rgb).save(tmp_path / "vi" / "a.png")
    Image.fromarray(np.full((6, 7), 128, np.uint8)).save(tmp_path / "ir" / "a.png")
    pair = load_pair(tmp_path / "ir" / "a.png", tmp_path / "vi" / "a.png")
    assert pair.shape == (2, 6, 7) and pair.dtype == torch.float32
    torch.testing.assert_close(pair[0], torch.full((6, 7), 128 / 255))
    luma = (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255
    torch.testing.assert_close(pair[1], torch.full((6, 7), luma))


def test_sixteen_bit_pair_gives_the_tensors_fusion_prepares(tmp_path: Path) -> None:
    """One 16-bit rule: infrared stretched min-max per image, visible divided by 65535, in
    training exactly as in fuse()."""
    rng = np.random.default_rng(0)
    ir = rng.integers(7000, 9001, (6, 7)).astype(np.uint16)  # raw thermal counts
    vis = rng.integers(0, 65536, (6, 7)).astype(np.uint16)
    Image.fromarray(ir).save(tmp_path / "ir.png")
    Image.fromarray(vis).save(tmp_path / "vis.png")
    pair = load_pair(tmp_path / "ir.png", tmp_path / "vis.png")
    prepared = prepare_pair(tmp_path / "ir.png", tmp_path / "vis.png")
    assert torch.equal(pair, torch.cat([prepared.ir[0], prepared.vis_y[0]]))
    expected_ir = (ir.astype(np.float64) - ir.min()) / (ir.max() - ir.min())
    np.testing.assert_allclose(pair[0].numpy(), expected_ir, atol=1e-6)
    np.testing.assert_allclose(pair[1].numpy(), vis / 65535, atol=1e-6)


def test_crops_are_aligned(tmp_path: Path, make_pairs: Callable[..., Path]) -> None:
    """VIS = 255 − IR pixel-wise, so IR + VIS = 1 holds in a crop only if both crops come from
    the same location; the crop must also be a window of the full image."""
    root = make_pairs(tmp_path / "d", ["a", "b", "c"], (30, 41), vis_from_ir=lambda a: 255 - a)
    data = PairedImages(find_pairs(root), Augment(crop=9))
    tops_lefts = set()
    for index in range(3):
        full = data.images[index]
        for epoch in range(6):
            crop = data.sample(index, epoch, seed=0)
            assert crop.shape == (2, 9, 9)
            torch.testing.assert_close(crop[0] + crop[1], torch.ones(9, 9))
            windows = full[0].unfold(0, 9, 1).unfold(1, 9, 1)  # (22, 33, 9, 9)
            hits = torch.nonzero((windows == crop[0]).flatten(2).all(-1))
            assert len(hits) >= 1
            tops_lefts.add((index, *hits[0].tolist()))
    assert len(tops_lefts) > 6  # the location changes between epochs and images


def test_flips_keep_alignment(tmp_path: Path, make_pairs: Callable[..., Path]) -> None:
    root = make_pairs(tmp_path / "d", ["a"], (16, 16), vis_from_ir=lambda a: 255 - a)
    data = PairedImages(find_pairs(root), Augment(crop=8, flips=True))
    for epoch in range(8):
        crop = data.sample(0, epoch, seed=3)
        torch.testing.assert_close(crop[0] + crop[1], torch.ones(8, 8))


def test_whole_image_when_smaller_than_crop(
    tmp_path: Path, make_pairs: Callable[..., Path]
) -> None:
    root = make_pairs(tmp_path / "d", ["a"], (10, 12))
    data = PairedImages(find_pairs(root), Augment(crop=32))
    assert torch.equal(data.sample(0, 0, 0), data.images[0])
    tall = PairedImages(find_pairs(make_pairs(tmp_path / "e", ["a"], (40, 12))), Augment(crop=32))
    assert tall.sample(0, 0, 0).shape == (2, 32, 12)  # cropped where possible


def test_sampling_is_a_pure_function_of_index_epoch_seed(pair_folder: Path) -> None:
    data = PairedImages(find_pairs(pair_folder), Augment(crop=16, flips=True, zoom_prob=0.5,
                                                         zoom_max=2.0))
    torch.manual_seed(0)
    first = data.sample(2, 5, 7)
    torch.manual_seed(99)  # the global RNG plays no part
    assert torch.equal(data.sample(2, 5, 7), first)
    assert not torch.equal(data.sample(2, 6, 7), first)
    assert not torch.equal(data.sample(2, 5, 8), first)
    batch = data.batch([3, 0, 2], 5, 7)
    assert batch.shape == (3, 2, 16, 16)
    assert torch.equal(batch[2], first)


def test_zoom_resizes_a_smaller_window_to_the_crop(pair_folder: Path) -> None:
    data = PairedImages(find_pairs(pair_folder), Augment(crop=16, zoom_prob=1.0, zoom_max=4.0))
    for epoch in range(5):
        crop = data.sample(0, epoch, 0)
        assert crop.shape == (2, 16, 16)
        assert float(crop.min()) >= 0.0 and float(crop.max()) <= 1.0


def test_epoch_order_is_a_seeded_permutation() -> None:
    order = epoch_order(10, 3, 1)
    assert sorted(order.tolist()) == list(range(10))
    assert torch.equal(epoch_order(10, 3, 1), order)
    assert not torch.equal(epoch_order(10, 4, 1), order)
