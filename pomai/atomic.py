"""Atomic file writes: a temporary file in the destination folder, fsync, then a rename.

A crash mid-write leaves either the old file or the new one, never a partial file.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write ``data`` to ``path`` atomically (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_image(image: np.ndarray, path: str | os.PathLike) -> None:
    """Encode a uint8/uint16 (H, W) or (H, W, 3) array in the format of ``path``'s suffix."""
    from PIL import Image

    path = Path(path)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=Image.registered_extensions().get(
        path.suffix.lower(), "PNG"))
    atomic_write_bytes(buffer.getvalue(), path)
