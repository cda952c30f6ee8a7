"""Registered infrared + visible pairs shipped inside the package, for trying pomai.

``pomai.samples()`` maps each name to a :class:`SamplePair` of file paths; ``pomai fuse
--sample NAME -o OUT`` fuses one. The images, their source (the TNO Image Fusion Dataset,
CC BY 4.0) and the changes made are described in ``pomai/samples/ATTRIBUTION.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

SAMPLES_DIR = Path(__file__).with_name("samples")
ATTRIBUTION = SAMPLES_DIR / "ATTRIBUTION.md"

#: Name -> one-line scene description, in the order ``pomai.samples()`` lists them.
SAMPLE_DESCRIPTIONS = {
    "street": "a town street at night (TNO, 316×248)",
    "doorway": "a person passing a lit doorway at dusk, seen only in the infrared (TNO, 310×225)",
    "house": "two people by a house among trees (TNO, 384×288)",
}


class SamplePair(NamedTuple):
    """The infrared and visible image files of one bundled pair (unpacks as ``ir, vis``)."""

    ir: Path
    vis: Path


def samples() -> dict[str, SamplePair]:
    """The bundled pairs by name: ``{"street": SamplePair(ir=.../ir/street.png, vis=...), ...}``.

    ``fuser.fuse(*pomai.samples()["street"])`` fuses one. Attribution: ``ATTRIBUTION``.
    """
    return {name: SamplePair(SAMPLES_DIR / "ir" / f"{name}.png", SAMPLES_DIR / "vi" / f"{name}.png")
            for name in SAMPLE_DESCRIPTIONS}
