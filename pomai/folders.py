"""Folders of images: which files count as images, and pairing two folders by file stem."""

from __future__ import annotations

import stat
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def scan_images(folder: str | Path) -> tuple[dict[str, Path], list[str]]:
    """``{stem: path}`` for the image files directly in ``folder``, and what was left out.

    An entry with an image suffix is left out, with a one-line reason, when it cannot be read
    (a broken symbolic link, a link loop, no permission), when it is not a regular file (a
    folder, a FIFO, a device), or when its stem is shared by another image (``a.png`` and
    ``a.jpg``: which one pairs is ambiguous, so neither does).
    """
    by_stem: dict[str, list[Path]] = {}
    problems = []
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            mode = path.stat().st_mode
        except OSError as err:
            link = " (a broken symbolic link or a link loop)" if path.is_symlink() else ""
            problems.append(f"{path} cannot be read{link}: {err.strerror or err}")
            continue
        if not stat.S_ISREG(mode):
            problems.append(f"{path} is not a regular file (a folder, FIFO or device)")
            continue
        by_stem.setdefault(path.stem, []).append(path)
    for stem, paths in by_stem.items():
        if len(paths) > 1:
            problems.append(
                f"{' and '.join(map(str, paths))} share the stem {stem!r}, so which one pairs "
                "is ambiguous: rename or move all but one"
            )
    return {stem: paths[0] for stem, paths in by_stem.items() if len(paths) == 1}, problems


def images_by_stem(folder: str | Path) -> dict[str, Path]:
    """``{stem: path}`` for the image files directly in ``folder`` (see :func:`scan_images`;
    what it leaves out is not reported here)."""
    return scan_images(folder)[0]
