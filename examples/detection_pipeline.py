"""Fused frames straight into a detector: a downstream pipeline, batched, on one device.

    python examples/detection_pipeline.py --sample street --frames 16       # no files needed
    python examples/detection_pipeline.py IR.mp4 VIS.mp4 --batch-size 8      # two aligned videos
    python examples/detection_pipeline.py IR.mp4 VIS.mp4 \\
        --torchvision fasterrcnn_mobilenet_v3_large_fpn                       # a real detector

Frame pairs (8-bit infrared and RGB visible) are read on the host, copied to the device once
per batch, fused there (``Fuser.fuse`` on float tensors returns float tensors on the same
device) and handed to the detector as they are: the images never come back to the host between
fusion and detection. The detector is any callable taking a (B, 3, H, W) float tensor in [0, 1]
(``--torchvision NAME``: a torchvision detection model with its released weights, which
torchvision downloads once or finds in its cache; torchvision is optional). Without one, a small
randomly initialised detector stands in, to show the tensors flow.

No detection accuracy is claimed for fused images, with either detector: this shows the
plumbing, not a result.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

import pomai

Pair = tuple[np.ndarray, np.ndarray]  # uint8 (H, W) infrared, uint8 (H, W, 3) visible
Detector = Callable[[torch.Tensor], list[dict[str, torch.Tensor]]]


class TinyDetector(nn.Module):
    """A stand-in detector with random weights: per-pixel scores from two convolutions, the
    ``boxes`` of the ``top_k`` highest-scoring pixels (a box of ``box`` pixels around each).

    Returns one dict per image with ``boxes`` (N, 4) xyxy, ``scores`` (N,) and ``labels`` (N,),
    as torchvision's detection models do. Its detections mean nothing.
    """

    def __init__(self, top_k: int = 5, box: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 2, 3, padding=1))
        self.top_k, self.box = top_k, box

    def forward(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        logits = self.features(images)  # (B, 2, H, W): class scores per pixel
        scores, labels = logits.softmax(dim=1).max(dim=1)
        width = images.shape[-1]
        best, where = scores.flatten(1).topk(min(self.top_k, scores[0].numel()), dim=1)
        y, x = (where // width).float(), (where % width).float()
        half = self.box / 2
        boxes = torch.stack([x - half, y - half, x + half, y + half], dim=-1)
        return [{"boxes": b, "scores": s, "labels": lab.flatten()[w]}
                for b, s, lab, w in zip(boxes, best, labels, where, strict=True)]


def torchvision_detector(name: str, device: torch.device) -> Detector:
    """A torchvision detection model with its released weights ("DEFAULT"), in eval mode."""
    try:
        import torchvision
    except ImportError:
        raise SystemExit("--torchvision needs torchvision: pip install torchvision (the build "
                         "that matches your torch)") from None
    model = torchvision.models.get_model(name, weights="DEFAULT").eval().to(device)
    return lambda images: model(list(images))  # torchvision takes a list of (3, H, W) images


def detect(fuser: pomai.Fuser, pairs: Iterable[Pair], detector: Detector, batch_size: int
           ) -> Iterator[tuple[torch.Tensor, list[dict[str, torch.Tensor]]]]:
    """(fused batch, detections) for every ``batch_size`` frame pairs.

    The fused batch is (B, 3, H, W) float32 in [0, 1] on ``fuser.device``, the tensor the
    detector received.
    """
    device = fuser.device
    iterator = iter(pairs)
    while batch := list(itertools.islice(iterator, batch_size)):
        ir = torch.from_numpy(np.stack([ir for ir, _ in batch]))[:, None]
        vis = torch.from_numpy(np.stack([vis for _, vis in batch])).permute(0, 3, 1, 2)
        if device.type == "cuda":  # one asynchronous copy per batch from page-locked memory
            ir, vis = ir.pin_memory(), vis.pin_memory()
        ir = ir.to(device, non_blocking=True).float() / 255
        vis = vis.to(device, non_blocking=True).float() / 255
        fused = fuser.fuse(ir, vis)  # float in, float out, on the device: (B, 3, H, W)
        with torch.inference_mode():
            yield fused, detector(fused)


def sample_pairs(name: str, frames: int, size: tuple[int, int] = (192, 256)) -> Iterator[Pair]:
    """A slow pan (one pixel per frame) across a pair shipped with pomai, as frame pairs."""
    from PIL import Image

    paths = pomai.samples()[name]
    with Image.open(paths.ir) as ir_image, Image.open(paths.vis) as vis_image:
        ir, vis = np.asarray(ir_image.convert("L")), np.asarray(vis_image.convert("RGB"))
    h, w = size
    for i in range(min(frames, ir.shape[1] - w + 1)):
        yield np.ascontiguousarray(ir[:h, i : i + w]), np.ascontiguousarray(vis[:h, i : i + w])


def video_pairs(ir: Path, vis: Path) -> Iterator[Pair]:
    """Frame pairs of two aligned videos, decoded with PyAV (pip install av)."""
    import av

    with av.open(str(ir)) as ir_video, av.open(str(vis)) as vis_video:
        for a, b in zip(ir_video.decode(video=0), vis_video.decode(video=0), strict=False):
            yield a.to_ndarray(format="gray"), b.to_ndarray(format="rgb24")


def main(argv: list[str] | None = None) -> list[int]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ir", nargs="?", type=Path, help="infrared video")
    parser.add_argument("vis", nargs="?", type=Path, help="visible video, aligned with IR")
    parser.add_argument("--sample", choices=pomai.samples(), default="street",
                        help="without videos: a pan across this bundled pair")
    parser.add_argument("--frames", type=int, default=16, help="frames of the sample pan")
    parser.add_argument("--model", help="pomai model (default: the default released one)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--torchvision", metavar="NAME", help="a torchvision detection "
                        "model, e.g. fasterrcnn_mobilenet_v3_large_fpn")
    args = parser.parse_args(argv)
    if (args.ir is None) != (args.vis is None):
        parser.error("give both IR and VIS videos, or neither (then --sample is used)")
    fuser = pomai.load(args.model, device=args.device)
    if args.torchvision:
        detector = torchvision_detector(args.torchvision, fuser.device)
    else:
        torch.manual_seed(0)
        detector = TinyDetector().eval().to(fuser.device)
    pairs = (video_pairs(args.ir, args.vis) if args.ir else
             sample_pairs(args.sample, args.frames))
    counts = []
    for fused, detections in detect(fuser, pairs, detector, args.batch_size):
        counts += [len(d["boxes"]) for d in detections]
        print(f"{len(detections)} frames {tuple(fused.shape)} {fused.dtype} on {fused.device}: "
              f"{[len(d['boxes']) for d in detections]} detections")
    return counts


if __name__ == "__main__":
    main()
