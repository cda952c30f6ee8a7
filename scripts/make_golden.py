"""Write tests/golden/<name>.json: each shipped checkpoint's output on a small real crop.

    python scripts/make_golden.py [../shared/data]

Run it only when a checkpoint is deliberately replaced; tests/test_shipped_weights.py then checks
that every later version of the code reproduces these outputs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import pomai
from pomai.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[1]
STEM = "00556D"
# (top, left, side) on the 640×480 sample: two pedestrians against the dark road.
CROP = (205, 345, 48)


INPUT = {"ir": f"msrs/samples/ir/{STEM}.png", "vi": f"msrs/samples/vi/{STEM}.png",
         "crop_top_left_side": CROP}


def golden_input(data: Path) -> list[np.ndarray]:
    """[infrared, visible RGB] uint8 crops of the MSRS sample pair."""
    top, left, side = CROP
    crops = []
    for key in ("ir", "vi"):
        with Image.open(data / INPUT[key]) as im:
            crops.append(np.asarray(im)[top : top + side, left : left + side])
    return crops


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    ir, vis = golden_input(data)
    for name in pomai.list_models():
        fused = pomai.load(name, device="cpu").fuse(ir, vis)
        record = {"model": name, "sha256": read_manifest().find(name).sha256,
                  "input": INPUT,
                  "fused_rgb_uint8": fused.tolist()}
        (ROOT / "tests" / "golden" / f"{name}.json").write_text(json.dumps(record) + "\n")
        print(f"wrote tests/golden/{name}.json")


if __name__ == "__main__":
    main()
