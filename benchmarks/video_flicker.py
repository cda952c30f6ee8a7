"""Measure the temporal stability of fused video: flicker of the fused frames against the flicker
of the two source videos (docs/deploy.md, "Temporal stability").

    python benchmarks/video_flicker.py [--model NAME_OR_PATH] [--frames 24] [--threads 1]

Flicker is the mean absolute change between consecutive frames on the [0, 1] scale
(:func:`pomai.video.flicker`; luminance for colour frames). Every frame is fused on its own
(NGMM hashes each frame separately) and, by default, stretched to [0, 1] on its own
(``normalize="minmax"``), so the fused video may change more from frame to frame than its
sources; the ratio column divides its flicker by the mean of the sources'. In a pan most of the
change is motion: the last column compares each fused frame with the previous one shifted by
the known pan (one pixel), which leaves only what fusing frame by frame changes (for the
sources, which are crops of one image, it is exactly 0). Three sequences:

- ``static + noise``: a still synthetic scene (160×128) with independent sensor noise
  (σ = 2/255) in every frame of both videos: nothing moves, so any flicker beyond the noise's
  comes from fusing frame by frame;
- ``synthetic pan``: the same scene, without noise, panned by one pixel per frame;
- ``sample pan``: a 256×192 window panned by one pixel per frame across the bundled TNO pair
  ``street`` (``pomai.samples()``), a slow camera pan over a real scene.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pomai  # noqa: E402
from pomai.video import flicker  # noqa: E402

Frames = list[tuple[np.ndarray, np.ndarray]]  # (infrared, visible) uint8 (H, W)
NOISE = 2 / 255


def _scene(h: int, w: int, seed: int) -> np.ndarray:
    """(h, w) float in [0, 1]: smooth noise, a ramp and a warm blob."""
    rng = np.random.default_rng(seed)
    coarse = rng.standard_normal((h // 8 + 2, w // 8 + 2))
    smooth = np.kron(coarse, np.ones((8, 8)))[:h, :w]
    yy, xx = np.mgrid[0:h, 0:w]
    blob = np.exp(-((yy - 0.4 * h) ** 2 + (xx - 0.6 * w) ** 2) / (2 * (0.15 * h) ** 2))
    return np.clip(0.15 * smooth + 0.3 * xx / w + 0.5 * blob + 0.2, 0, 1)


def _u8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def static_noise(frames: int, h: int = 128, w: int = 160) -> Frames:
    rng = np.random.default_rng(0)
    ir, vis = _scene(h, w, 1), _scene(h, w, 2)
    return [(_u8(ir + NOISE * rng.standard_normal((h, w))),
             _u8(vis + NOISE * rng.standard_normal((h, w)))) for _ in range(frames)]


def synthetic_pan(frames: int, h: int = 128, w: int = 160) -> Frames:
    ir, vis = _scene(h, w + frames, 1), _scene(h, w + frames, 2)
    return [(_u8(ir[:, i : i + w]), _u8(vis[:, i : i + w])) for i in range(frames)]


def sample_pan(frames: int, h: int = 192, w: int = 256) -> Frames:
    from PIL import Image

    pair = pomai.samples()["street"]
    with Image.open(pair.ir) as ir_image, Image.open(pair.vis) as vis_image:
        ir, vis = (np.asarray(im.convert("L")) for im in (ir_image, vis_image))
    if ir.shape[1] < w + frames:
        raise SystemExit(f"--frames {frames}: the sample is {ir.shape[1]} px wide, at most "
                         f"{ir.shape[1] - w} frames of a {w}-px window")
    return [(ir[:h, i : i + w], vis[:h, i : i + w]) for i in range(frames)]


def residual(frames: list[np.ndarray], shift: int) -> float:
    """Mean absolute change between consecutive frames after undoing a pan of ``shift`` pixels
    to the right per frame (the scene moves left), on the [0, 1] scale."""
    stack = np.stack(frames).astype(np.float64) / 255
    return float(np.abs(stack[1:, :, : stack.shape[2] - shift] - stack[:-1, :, shift:]).mean())


def measure(fuser: Any, frames: Frames, batch_size: int, shift: int) -> dict[str, float]:
    result = {"infrared": flicker([ir for ir, _ in frames]),
              "visible": flicker([vis for _, vis in frames])}
    for mode in ("minmax", "none"):
        fused = list(fuser.fuse_stream(frames, batch_size=batch_size, normalize=mode))
        result[f"fused ({mode})"] = flicker(fused)
        result[f"fused ({mode}) residual"] = residual(fused, shift)
    return result


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="released name, .safetensors or run folder "
                        "(default: the default released model)")
    parser.add_argument("--frames", type=int, default=24, help="frames per sequence (>= 2)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.frames < 2:
        parser.error("--frames must be >= 2")
    import torch

    torch.set_num_threads(args.threads)
    fuser = pomai.load(args.model, device="cpu")
    sequences = {"static + noise": (static_noise, 0), "synthetic pan": (synthetic_pan, 1),
                 "sample pan": (sample_pan, 1)}
    rows = []
    print(f"Flicker (mean |frame t+1 - frame t|, [0, 1] scale), {args.frames} frames, "
          f"model {fuser.source}:\n")
    print("| sequence | infrared | visible | fused (minmax) | fused (none) | "
          "fused ÷ mean of sources (minmax / none) | fused, pan undone (minmax / none) |")
    print("|---|---|---|---|---|---|---|")
    for name, (make, shift) in sequences.items():
        r = measure(fuser, make(args.frames), args.batch_size, shift)
        sources = (r["infrared"] + r["visible"]) / 2
        print(f"| {name} | {r['infrared']:.4f} | {r['visible']:.4f} | "
              f"{r['fused (minmax)']:.4f} | {r['fused (none)']:.4f} | "
              f"{r['fused (minmax)'] / sources:.2f} / {r['fused (none)'] / sources:.2f} | "
              + ("–" if shift == 0 else f"{r['fused (minmax) residual']:.4f} / "
                 f"{r['fused (none) residual']:.4f}") + " |")
        rows.append({"sequence": name, **r})
    return rows


if __name__ == "__main__":
    main()
