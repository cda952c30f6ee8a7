"""The README figure: infrared | visible | fused by each released model, one pair per dataset.

    python scripts/results_figure.py [--data ../shared/data] [--out docs/img/results.jpg]

The first pair (by file name) of each test set; the second modality of a medical pair (CT, PET,
SPECT) takes the visible image's place, so PET and SPECT keep their colour.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

import pomai
from pomai.atomic import atomic_write_image
from pomai.evaluation import find_datasets

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ["msrs/test", "tno", "roadscene", "harvard/MRI_CT", "harvard/MRI_PET",
            "harvard/MRI_SPECT"]
MODELS = ["msrs", "msrs-paper"]
PANEL_HEIGHT = 180
LABEL_HEIGHT = 22


def panel(image: Image.Image, label: str) -> Image.Image:
    """The image scaled to PANEL_HEIGHT with a caption strip above it."""
    width = round(image.width * PANEL_HEIGHT / image.height)
    out = Image.new("RGB", (width, PANEL_HEIGHT + LABEL_HEIGHT), "white")
    out.paste(image.convert("RGB").resize((width, PANEL_HEIGHT), Image.Resampling.LANCZOS),
              (0, LABEL_HEIGHT))
    ImageDraw.Draw(out).text((4, 5), label, fill="black")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "results.jpg")
    args = parser.parse_args()
    fusers = {name: pomai.load(name, device="cpu") for name in MODELS}
    rows = []
    for folder in DATASETS:
        (dataset,) = find_datasets(args.data / folder)
        stem, ir_path, vis_path = dataset.pairs()[0]
        ir, vis = Image.open(ir_path), Image.open(vis_path)
        first, second = ("MRI", folder.split("_")[-1]) if "MRI" in folder else ("infrared",
                                                                                  "visible")
        panels = [panel(ir, f"{folder}/{stem}: {first}"), panel(vis, second)]
        panels += [panel(fuser.fuse(ir, vis), f"fused: {name}") for name, fuser in fusers.items()]
        row = Image.new("RGB", (sum(p.width for p in panels) + 4 * len(panels),
                                PANEL_HEIGHT + LABEL_HEIGHT), "white")
        x = 0
        for p in panels:
            row.paste(p, (x, 0))
            x += p.width + 4
        rows.append(row)
    figure = Image.new("RGB", (max(r.width for r in rows), sum(r.height + 4 for r in rows)),
                       "white")
    y = 0
    for row in rows:
        figure.paste(row, (0, y))
        y += row.height + 4
    atomic_write_image(figure, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
