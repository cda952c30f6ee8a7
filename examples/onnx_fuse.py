"""Fuse an infrared + visible pair with an exported PoMAI graph, in ONNX Runtime: no PyTorch,
no pomai, only numpy, Pillow and onnxruntime.

    pomai export msrs -o pomai.onnx
    python examples/onnx_fuse.py pomai.onnx IR VIS -o fused.png

The graph maps infrared and visible luminance to the fused luminance (docs/deploy.md). Around
it, this script does what ``pomai.load().fuse()`` does by default: the visible image's BT.601
luminance Y goes in, the fused Y is stretched per image to [0, 1] (min-max) and the visible
image's Cb/Cr are put back, so a colour visible image gives a colour result.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601


def fuse(session: ort.InferenceSession, ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """(H, W) uint8 infrared and (H, W) or (H, W, 3) uint8 visible -> fused, as ``vis``."""
    ir_y = ir.astype(np.float32) / 255
    rgb = vis.astype(np.float32) / 255
    vis_y = rgb @ LUMA if rgb.ndim == 3 else rgb
    (fused_y,) = session.run(None, {"ir": ir_y[None, None], "vis_y": vis_y[None, None]})
    y = fused_y[0, 0]
    span = y.max() - y.min()
    if span > 0:  # the min-max stretch of fuse()'s default normalize="minmax"
        y = (y - y.min()) / span
    if rgb.ndim == 3:  # keep the visible image's chroma: Cb/Cr of BT.601, Y replaced
        cb = (rgb[..., 2] - vis_y) / 1.772
        cr = (rgb[..., 0] - vis_y) / 1.402
        r, b = y + 1.402 * cr, y + 1.772 * cb
        g = (y - LUMA[0] * r - LUMA[2] * b) / LUMA[1]
        y = np.stack([r, g, b], axis=-1)
    return np.round(np.clip(y, 0, 1) * 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="the .onnx file of pomai export")
    parser.add_argument("ir", type=Path, help="infrared image")
    parser.add_argument("vis", type=Path, help="visible image (grey or colour), same size")
    parser.add_argument("-o", "--out", type=Path, default=Path("fused.png"))
    args = parser.parse_args(argv)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    ir = np.asarray(Image.open(args.ir).convert("L"))
    with Image.open(args.vis) as image:
        vis = np.asarray(image.convert("L" if image.mode == "L" else "RGB"))
    Image.fromarray(fuse(session, ir, vis)).save(args.out)
    print(f"fused {args.ir.name} -> {args.out}")
    return args.out


if __name__ == "__main__":
    main()
