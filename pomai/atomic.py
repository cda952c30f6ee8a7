"""Atomic file writes: a temporary file in the destination folder, fsync, then a rename.

A crash mid-write leaves either the old file or the new one, never a partial file.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write ``data`` to ``path`` atomically (parent folders are created)."""
    with atomic_file(path) as tmp, os.fdopen(os.open(tmp, os.O_WRONLY), "wb") as f:
        f.write(data)


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file beside ``path`` for the block to write (it ends in ``path``'s suffix,
    for writers that pick a format by suffix); renamed onto ``path`` when the block ends, removed
    when it raises. Parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                suffix=f".tmp{path.suffix}")
    tmp = Path(name)
    try:
        # mkstemp creates the file private (0600); give it the mode an ordinary write would.
        try:
            os.fchmod(fd, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        finally:
            os.close(fd)
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def image_format(path: str | os.PathLike) -> str:
    """The Pillow format named by ``path``'s suffix; ValueError when there is none."""
    from PIL import Image

    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(
            f"cannot tell the image format of output {path}: end it in .png, .tif, .jpg, ..."
        )
    return fmt


def atomic_write_image(image: Image.Image | np.ndarray, path: str | os.PathLike) -> None:
    """Encode a PIL image or a uint8/uint16 array in ``path``'s format and write it atomically."""
    from PIL import Image

    fmt = image_format(path)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    atomic_write_bytes(buffer.getvalue(), path)
