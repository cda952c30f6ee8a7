"""``pomai.load(...)`` and the :class:`Fuser` it returns: the inference API."""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from pomai.checkpoint import load_model
from pomai.config import PoMAIConfig
from pomai.devices import pick_device
from pomai.errors import InputError, UsageError
from pomai.hub import resolve
from pomai.io import ImageInput, prepare_pair, restore
from pomai.manifest import WeightsEntry, default_model
from pomai.nn.image_statistics import ImageStatistics
from pomai.nn.pomai import PoMAI
from pomai.normalization import DEFAULT_NORMALIZE, Normalize, check_normalize, normalize_luminance
from pomai.tiling import (
    MIN_TILE,
    Blend,
    Tile,
    check_tiling,
    check_window_batch_size,
    sliding_window,
)


def load(
    name_or_path: str | os.PathLike | None = None,
    *,
    device: str | torch.device = "auto",
    dtype: torch.dtype | None = None,
    stage: int | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
    compile: bool = False,
) -> Fuser:
    """Load released or local PoMAI weights for fusion.

    Args:
        name_or_path: a ``.safetensors`` file, a training run folder, ``hf-hub:owner/repo[@rev]``,
            or a name / alias from :func:`pomai.list_models`; None: the default released model.
        device: ``"auto"`` (CUDA when available, else CPU), or any torch device.
        dtype: None or ``torch.float32``; ``torch.float16`` on CUDA for half precision;
            ``torch.bfloat16`` (any device) as an opt-in (quality cost: docs/performance.md).
        stage: None serves the stage stored with the weights; 1 or 2 overrides it for weights
            trained in two stages (stage 1 skips MICM; docs/models.md compares both). A
            UserWarning says when a released model's stage 1 was never trained (the releases
            are fine-tuned through MICM).
        revision: Hub revision (branch, tag or commit) instead of the manifest's pinned one;
            a UsageError (a ValueError) for a model bundled without a Hub repository.
        cache_dir: Hub cache folder (default: huggingface_hub's, from HF_HOME / HF_HUB_CACHE).
        offline: True never touches the network; None follows HF_HUB_OFFLINE.
        compile: run the network through ``torch.compile`` (CPU and CUDA). Each new input
            shape (image size, batch size or tile) compiles first, which takes tens of seconds
            (docs/performance.md); later calls of that shape reuse it. Meant for GPUs: on the
            CPU the default eager path, which works in cache-sized blocks, is faster.

    Downloaded and bundled files are sha256-verified before loading; loading is safetensors-only
    and strict (see :mod:`pomai.checkpoint`).

    Raises (all :class:`~pomai.errors.PomaiError`):
        UnknownModelError: ``name_or_path`` is no released name, Hub reference or existing path.
        WeightsUnavailableError: the weights are neither bundled nor cached and cannot be
            downloaded (offline, no network, not on the Hub).
        ChecksumMismatchError: the file's sha256 is not the one recorded for it.
        CheckpointMismatchError: not a pomai safetensors file, invalid metadata, tensors that do
            not fit the config, or a file that contradicts its manifest entry.
        ManifestError: the shipped weights manifest is broken.
        UsageError: an unusable ``dtype``, ``stage`` or ``revision``.
        DeviceUnavailableError: ``device`` is not in this machine or PyTorch build.
    """
    weights = resolve(
        default_model() if name_or_path is None else name_or_path,
        revision=revision, cache_dir=cache_dir, offline=offline,
    )
    model, stored_stage = load_model(weights)
    if stage == 1 and weights.entry is not None:
        _warn_if_stage1_untrained(weights.entry)
    return Fuser(model, stage=stored_stage if stage is None else stage, device=device,
                 dtype=dtype, source=weights.source, entry=weights.entry, compile=compile)


# Ablations whose training ran every weight through MICM: no network was trained without it.
_TRAINED_THROUGH_MICM = ("no_freeze", "joint")


def _warn_if_stage1_untrained(entry: WeightsEntry) -> None:
    """Stage 1 (MICM skipped) is exact only for weights whose stage 2 trained MICM alone."""
    ablation = entry.training.get("settings", {}).get("ablation")
    if ablation in _TRAINED_THROUGH_MICM:
        warnings.warn(
            f"{entry.name!r} was trained with every weight passing through MICM (ablation "
            f"{ablation!r}), so its stage-1 path (MICM skipped) is not a network it was trained "
            "as and gives worse images; load it without stage= to serve its stage 2 "
            "(docs/models.md, 'Which stage each checkpoint serves').",
            UserWarning, stacklevel=3,
        )


class Fuser:
    """A PoMAI network ready to fuse: eval mode, on its device and dtype, no gradients.

    Deterministic: the same input on the same device, dtype and thread count gives a
    bit-identical output (eval-mode hashing uses the fixed rotations stored with the weights);
    another thread count reorders floating-point sums, which can move a pixel with nearly tied
    hash codes into another NGMM group (docs/api.md gives the measured size of such
    differences).
    """

    def __init__(
        self,
        model: PoMAI,
        *,
        stage: int = 2,
        device: str | torch.device = "auto",
        dtype: torch.dtype | None = None,
        source: str = "",
        entry: WeightsEntry | None = None,
        compile: bool = False,
    ) -> None:
        self.device = pick_device(device)
        self.dtype = dtype or torch.float32
        if self.dtype not in (torch.float32, torch.float16, torch.bfloat16):
            raise UsageError(
                f"dtype must be None, torch.float32, torch.float16 or torch.bfloat16, got {dtype}"
            )
        if self.dtype == torch.float16 and self.device.type != "cuda":
            raise UsageError(
                f"half precision (torch.float16) needs a CUDA device, not {self.device}: "
                "use dtype=None (or torch.bfloat16) on the CPU."
            )
        if stage not in (1, 2):
            raise UsageError(f"stage must be 1 or 2, got {stage!r}")
        self.model = model.eval().requires_grad_(False).to(device=self.device, dtype=self.dtype)
        if self.device.type == "cpu":
            # oneDNN's depth-wise convolutions and the channel LayerNorm are faster in NHWC;
            # the outputs are the same.
            self.model.to(memory_format=torch.channels_last)
        self.stage = stage
        self.source = source
        self.entry = entry
        self.compiled = compile
        self._network = torch.compile(self.model, dynamic=False) if compile else self.model

    @property
    def config(self) -> PoMAIConfig:
        return self.model.config

    def __repr__(self) -> str:
        return (f"Fuser({self.source or 'PoMAI'}, stage={self.stage}, device={self.device}, "
                f"dtype={self.dtype}" + (", compiled)" if self.compiled else ")"))

    def fuse(
        self,
        ir: ImageInput,
        vis: ImageInput,
        *,
        normalize: Normalize = DEFAULT_NORMALIZE,
        tile: Tile = "auto",
        overlap: float = 0.25,
        blend: Blend = "gaussian",
        image_statistics: bool = True,
        progress: bool = False,
        window_batch_size: int = 1,
    ) -> Any:
        """Fuse an infrared image with a visible one; returns the visible input's kind.

        Inputs: file paths, PIL images, numpy (H, W[, 1 or 3]) or tensors ([B,] C, H, W), see
        :mod:`pomai.io`. A colour visible image is fused on its BT.601 Y and returned in colour.
        Batched tensors (B, C, H, W) are fused in one call.

        The output is what the results tables measure (docs/evaluation.md): the fused luminance,
        stretched per image to the full range (``normalize="minmax"``), the visible image's
        chroma re-attached, rounded to the input's dtype.

        Args:
            normalize: ``"minmax"`` stretches each fused luminance image to [0, 1] over the whole
                image (after tiling); ``"none"`` returns the network's output as it is
                (:mod:`pomai.normalization`).
            tile: ``"auto"`` (default) fuses the whole image at once when it fits in memory
                (exact) and overlapping tiles sized to the free memory otherwise; None always
                fuses the whole image (out of memory raises TileOutOfMemoryError); an int (at
                least :data:`pomai.tiling.MIN_TILE`) fuses overlapping tiles of that side.
            overlap: fraction of a tile shared with its neighbours, in [0, 0.75].
            blend: ``"gaussian"`` or ``"linear"`` weighting of overlapping tiles.
            image_statistics: when tiling, give every tile the whole image's channel-attention
                statistics (three passes over the tiles, same memory); False: each tile uses
                its own (one pass, further from the whole-image result). docs/api.md has the
                measured gap either way.
            progress: show a progress bar over the tiles.
            window_batch_size: tiles fused per network call, stacked along the batch (faster
                on a GPU, that many times the memory of one tile).

        ``tile``, ``overlap`` and ``blend`` are checked before anything is read (ValueError).

        Raises:
            InputError: an image that cannot be read or used (missing, broken, too large, two
                sizes, an unsupported array shape or dtype); nothing is fused.
            ValueError: an unknown ``normalize`` or an unusable ``tile``, ``overlap`` or
                ``blend``.
            TileOutOfMemoryError: out of memory even with the smallest tile; the message says
                what to try.
        """
        check_normalize(normalize)
        check_tiling(tile, overlap, blend, MIN_TILE)
        check_window_batch_size(window_batch_size)
        pair = prepare_pair(ir, vis).to(self.device)
        fused = self.fuse_luminance(pair.ir, pair.vis_y, tile=tile, overlap=overlap,
                                    blend=blend, image_statistics=image_statistics,
                                    progress=progress, window_batch_size=window_batch_size)
        return restore(normalize_luminance(fused, normalize), pair)

    def fuse_stream(
        self,
        pairs: Iterable[tuple[ImageInput, ImageInput]],
        *,
        batch_size: int = 8,
        normalize: Normalize = DEFAULT_NORMALIZE,
        tile: Tile = "auto",
    ) -> Iterator[Any]:
        """Fuse a stream of (infrared, visible) frames, ``batch_size`` frames per network call.

        Frames are taken from ``pairs`` lazily, as the output is consumed, and each fused frame
        is what :meth:`fuse` returns for that pair (the visible frame's kind, colour kept),
        normalised per frame. All frames of a batch must have one size. Every frame is hashed on
        its own: docs/deploy.md measures the frame-to-frame flicker that leaves.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise UsageError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        check_normalize(normalize)
        check_tiling(tile, 0.25, "gaussian", MIN_TILE)
        iterator = iter(pairs)
        while batch := [prepare_pair(ir, vis) for ir, vis in itertools.islice(iterator,
                                                                              batch_size)]:
            sizes = {tuple(p.ir.shape[-2:]) for p in batch}
            if len(sizes) > 1:
                raise InputError(f"frames of one stream differ in size ({sorted(sizes)}, H×W): "
                                 "resize them to one size first")
            fused = self.fuse_luminance(torch.cat([p.ir for p in batch]),
                                        torch.cat([p.vis_y for p in batch]), tile=tile)
            fused = normalize_luminance(fused, normalize)
            start = 0
            for pair in batch:  # a pair of batched tensors holds several frames
                end = start + pair.ir.shape[0]
                yield restore(fused[start:end], pair)
                start = end

    @torch.inference_mode()
    def fuse_luminance(
        self,
        ir: torch.Tensor,
        vis_y: torch.Tensor,
        *,
        tile: Tile = "auto",
        overlap: float = 0.25,
        blend: Blend = "gaussian",
        image_statistics: bool = True,
        progress: bool = False,
        window_batch_size: int = 1,
    ) -> torch.Tensor:
        """(B, 1, H, W) infrared and visible luminance in [0, 1] -> (B, 1, H, W) float32 fused.

        The tensor core of :meth:`fuse`, without input conversion and without normalisation
        (the network's output as it is); inputs move to the device.
        Keyword arguments as for :meth:`fuse`.
        """
        check_tiling(tile, overlap, blend, MIN_TILE)
        stacked = torch.cat([ir, vis_y], dim=1).to(self.device, torch.float32)

        def network(window: torch.Tensor) -> torch.Tensor:
            window = window.to(self.dtype)
            return self._network(window[:, :1], window[:, 1:], stage=self.stage)

        return sliding_window(
            network, stacked, tile, overlap=overlap, blend=blend, progress=progress,
            bytes_per_pixel=bytes_per_pixel(self.config, self.dtype),
            statistics=ImageStatistics() if image_statistics else None,
            window_batch_size=window_batch_size,
        ).float()


def bytes_per_pixel(config: PoMAIConfig, dtype: torch.dtype = torch.float32) -> float:
    """Estimated peak inference memory per pixel of one image pair, for ``tile="auto"``.

    ``1.25 × element size × (28 C · max(1, ffn_expansion / 2) + 3 K · hash_rounds)``: about
    28 C activations per pixel are alive at the peak (both encoder branches, the four stage-one
    feature maps, MICM and a Restormer feed-forward), plus NGMM's attention scores (each group
    of K pixels attends to 3K keys). It errs high on purpose, so an automatic tile fits: the
    measured peaks (docs/api.md) are below it.
    """
    element = torch.finfo(dtype).bits // 8
    values = 28 * config.width * max(1.0, config.ffn_expansion / 2)
    values += 3 * config.group_size * config.hash_rounds
    return 1.25 * element * values

