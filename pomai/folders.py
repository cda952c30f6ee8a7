"""Folders of images: which files count as images, and pairing two folders by file stem."""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def images_by_stem(folder: str | Path) -> dict[str, Path]:
    """``{stem: path}`` for the image files directly in ``folder``, sorted by name."""
    return {
        p.stem: p
        for p in sorted(Path(folder).iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    }
