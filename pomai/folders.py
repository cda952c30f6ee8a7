"""Folders of images: which files count as images, and pairing two folders by file stem.

Every folder of pairs in pomai (``pomai fuse`` and ``pomai eval`` folders, training data, the
modality analysis) is paired here: an infrared-role folder and a visible-role folder whose
images share a file stem (``ir/00001.png`` with ``vi/00001.jpg``).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Sub-folder pairs recognised inside a data set folder: (infrared role, visible role). Medical
# pairs follow the CDDFuse convention: MRI takes the infrared role, CT/PET/SPECT the visible one.
ROLE_FOLDERS = (("ir", "vi"), ("ir", "vis"), ("ir", "visible"), ("mri", "ct"), ("mri", "pet"),
                ("mri", "spect"))


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


def role_folders(folder: Path) -> tuple[Path, Path] | None:
    """The first :data:`ROLE_FOLDERS` pair among ``folder``'s sub-folders (names compared
    case-insensitively): (infrared-role folder, visible-role folder), or None."""
    children = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
    for ir, vis in ROLE_FOLDERS:
        if ir in children and vis in children:
            return children[ir], children[vis]
    return None


@dataclass(frozen=True)
class FolderPairs:
    """Two folders paired by file stem.

    ``pairs``: (stem, infrared path, visible path), sorted by stem; ``unpaired``: the images
    whose stem is in one folder only, sorted by stem; ``problems``: one line per image file left
    out (unreadable, not a regular file, an ambiguous stem; :func:`scan_images`).
    """

    pairs: list[tuple[str, Path, Path]]
    unpaired: list[Path]
    problems: list[str]


def pair_folders(ir_dir: str | Path, vis_dir: str | Path) -> FolderPairs:
    """Pair the images of ``ir_dir`` and ``vis_dir`` by file stem."""
    (ir, ir_problems), (vis, vis_problems) = scan_images(ir_dir), scan_images(vis_dir)
    return FolderPairs(
        pairs=[(s, ir[s], vis[s]) for s in sorted(set(ir) & set(vis))],
        unpaired=[ir.get(s) or vis[s] for s in sorted(set(ir) ^ set(vis))],
        problems=[*ir_problems, *vis_problems],
    )
