"""pomai.atomic: a failed write leaves the previous file and no temporary file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pomai.atomic import atomic_write_bytes, atomic_write_image


def test_image_that_cannot_be_encoded_leaves_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "fused.jpg"
    target.write_bytes(b"previous result")
    float_image = Image.fromarray(np.zeros((4, 4), np.float32))  # JPEG cannot hold mode F
    with pytest.raises(OSError):
        atomic_write_image(float_image, target)
    assert target.read_bytes() == b"previous result"
    assert os.listdir(tmp_path) == ["fused.jpg"]


def test_write_that_fails_midway_leaves_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        atomic_write_bytes(b"new", target)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_array_round_trip_and_unknown_suffix(tmp_path: Path) -> None:
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    atomic_write_image(image, tmp_path / "a.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), image)
    with pytest.raises(ValueError, match="image format"):
        atomic_write_image(image, tmp_path / "a.unknown")


def test_new_files_are_readable_by_others_and_modes_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "weights.bin"
    atomic_write_bytes(b"a", target)
    assert target.stat().st_mode & 0o777 == 0o644
    target.chmod(0o600)
    atomic_write_bytes(b"b", target)
    assert target.stat().st_mode & 0o777 == 0o600
