"""pomai.folders: the one place where folders of images are listed and paired."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pomai.folders import ROLE_FOLDERS, pair_folders, role_folders


def test_pair_folders_pairs_by_stem_and_reports_the_rest(
    tmp_path: Path, make_pairs: Callable[..., Path]
) -> None:
    root = make_pairs(tmp_path / "d", ["b", "a"], ir_ext=".png", vis_ext=".jpg")
    make_pairs(root, ["c"])
    (root / "vi" / "c.png").unlink()
    (root / "ir" / "notes.txt").write_text("not an image")
    (root / "vi" / "a.webp").write_bytes(b"")  # a second 'a' in vi/: ambiguous, so unpaired
    found = pair_folders(root / "ir", root / "vi")
    assert [(s, ir.name, vis.name) for s, ir, vis in found.pairs] == [("b", "b.png", "b.jpg")]
    assert found.unpaired == [root / "ir" / "a.png", root / "ir" / "c.png"]
    assert len(found.problems) == 1 and "share the stem 'a'" in found.problems[0]


def test_role_folders_finds_each_known_layout_case_insensitively(tmp_path: Path) -> None:
    for ir, vis in ROLE_FOLDERS:
        folder = tmp_path / f"{ir}-{vis}"
        (folder / ir.upper()).mkdir(parents=True)
        (folder / vis).mkdir()
        assert role_folders(folder) == (folder / ir.upper(), folder / vis)
    (tmp_path / "none" / "ir").mkdir(parents=True)
    assert role_folders(tmp_path / "none") is None
