"""Paired infrared / visible training data: folders ``ir/`` and ``vi/`` paired by file stem."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from pomai.errors import InputError
from pomai.folders import pair_folders
from pomai.io import prepare_pair


def find_pairs(
    root: str | Path, ir_dir: str = "ir", vis_dir: str = "vi", names: Sequence[str] | None = None
) -> list[tuple[Path, Path]]:
    """The (infrared, visible) file pairs under ``root/ir`` and ``root/vi``, paired by stem.

    ``names`` restricts (and orders) the pairs to a fixed list of stems. Raises InputError (a
    ValueError) naming the files that have no partner, or the missing folder.
    """
    root = Path(root)
    folders = (root / ir_dir, root / vis_dir)
    for folder in folders:
        if not folder.is_dir():
            raise InputError(
                f"training data folder {folder} does not exist: a data folder must hold "
                f"'{ir_dir}/' and '{vis_dir}/' with one image per pair, paired by file name"
            )
    found = pair_folders(*folders)
    if found.unpaired:
        shown = ", ".join(map(str, found.unpaired[:10])) + (
            " ..." if len(found.unpaired) > 10 else "")
        raise InputError(
            f"{len(found.unpaired)} images in {root} have no partner in the other modality "
            f"folder: {shown}. Every '{ir_dir}/' image needs a '{vis_dir}/' image with the same "
            "stem."
        )
    pairs = {stem: (ir, vis) for stem, ir, vis in found.pairs}
    stems = sorted(pairs) if names is None else list(names)
    missing = [s for s in stems if s not in pairs]
    if missing:
        raise InputError(f"pairs {missing[:10]} of the pair list are not in {root}")
    if not stems:
        raise InputError(f"no image pairs found in {root} ({', '.join(map(str, folders))})")
    return [pairs[s] for s in stems]


def load_pair(ir_path: Path, vis_path: Path) -> torch.Tensor:
    """(2, H, W) float32 in [0, 1]: the infrared image and the visible BT.601 luminance.

    Read and normalised by the code fusion uses (:func:`pomai.io.prepare_pair`), so training
    sees the tensors inference sees: 8-bit / 255, 16-bit infrared stretched min-max per image,
    16-bit visible / 65535, infrared in three identical channels accepted. A pair that fusion
    would refuse raises :class:`~pomai.errors.InputError` naming the pair.
    """
    try:
        pair = prepare_pair(Path(ir_path), Path(vis_path))
    except InputError as err:
        raise InputError(f"training pair {ir_path.name}: {err}") from None
    return torch.cat([pair.ir[0], pair.vis_y[0]])


@dataclass(frozen=True)
class Augment:
    """Per-sample augmentation: aligned random crop, optional flips, optional zoom.

    ``zoom_prob``: probability of cropping a region ``crop / s`` (s uniform in
    ``[1, zoom_max]``) and resizing it to ``crop`` (bilinear), which mimics the pixel statistics
    of frames at a larger scale than the training frames.
    """

    crop: int = 128
    flips: bool = False
    zoom_prob: float = 0.0
    zoom_max: float = 1.0


class PairedImages:
    """An in-memory set of aligned (infrared, visible-luminance) pairs with seeded sampling.

    ``sample(i, epoch, seed)`` is a pure function of its arguments, so an interrupted run that
    resumes, or a run split over several processes, sees exactly the same crops.
    """

    def __init__(self, pairs: Sequence[tuple[Path, Path]], augment: Augment) -> None:
        self.pairs = list(pairs)
        self.augment = augment
        self.images = [load_pair(ir, vis) for ir, vis in self.pairs]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def fixed_samples(self) -> bool:
        """True when every sample is the same in every epoch: whole images, no flips or zoom."""
        a = self.augment
        return (not a.flips and a.zoom_prob == 0
                and all(max(image.shape[-2:]) <= a.crop for image in self.images))

    def sample(self, index: int, epoch: int, seed: int) -> torch.Tensor:
        """(2, crop, crop) augmented pair (the whole image when it is smaller than the crop)."""
        g = torch.Generator().manual_seed(((seed * 1_000_003 + epoch) * 10_000_019 + index) % 2**63)
        image = self.images[index]
        a = self.augment
        _, h, w = image.shape
        side = a.crop
        zoom = a.zoom_prob > 0 and float(torch.rand((), generator=g)) < a.zoom_prob
        if zoom:
            scale = 1.0 + float(torch.rand((), generator=g)) * (a.zoom_max - 1.0)
            side = max(1, math.floor(a.crop / scale))
        ch, cw = min(side, h), min(side, w)
        top = int(torch.randint(0, h - ch + 1, (), generator=g))
        left = int(torch.randint(0, w - cw + 1, (), generator=g))
        out = image[:, top : top + ch, left : left + cw]
        if zoom and (ch, cw) != (min(a.crop, h), min(a.crop, w)):
            size = (min(a.crop, h), min(a.crop, w))
            out = F.interpolate(out[None], size=size, mode="bilinear", align_corners=False)[0]
        if a.flips:
            if float(torch.rand((), generator=g)) < 0.5:
                out = out.flip(-1)
            if float(torch.rand((), generator=g)) < 0.5:
                out = out.flip(-2)
        return out.contiguous()

    def batch(self, indices: Sequence[int], epoch: int, seed: int) -> torch.Tensor:
        """(B, 2, crop, crop); all images of a batch must crop to one size."""
        return torch.stack([self.sample(i, epoch, seed) for i in indices])


def epoch_order(n: int, epoch: int, seed: int) -> torch.Tensor:
    """The seeded permutation of ``n`` pair indices for ``epoch``."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
