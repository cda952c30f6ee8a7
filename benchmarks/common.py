"""What the benchmarks share: the data root, the calibration workload, child processes, tables
and synthetic images (the tests' images too).

Nothing here imports torch, so a benchmark's parent process stays light.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The optional development data and calibration workload beside the checkout (README.md of
# the data folder); $POMAI_SHARED_DATA points elsewhere.
REFCONV = ROOT.parent / "shared" / "bench" / "refconv.py"


def data_root() -> Path:
    """The development data folder: ``$POMAI_SHARED_DATA``, else ``../shared/data`` beside the
    checkout (it may be absent)."""
    env = os.environ.get("POMAI_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def load_refconv() -> ModuleType | None:
    """The calibration workload (``reference_seconds(threads=...)``, ``MACS``), or None when
    it is absent. It lives outside the repository, so it is loaded from its path."""
    if not REFCONV.is_file():
        return None
    spec = importlib.util.spec_from_file_location("refconv", REFCONV)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_example(name: str) -> ModuleType:
    """``examples/<name>.py``, which a benchmark times as a user runs it (examples are scripts,
    not a package, so it is loaded from its path)."""
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"examples_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def note_missing_refconv() -> None:
    """Say on stderr that times will have no ratio to the calibration workload."""
    print(f"note: {REFCONV} not found: no ratio to the calibration workload", file=sys.stderr)


class ChildFailed(RuntimeError):
    """A measurement's child process exited with an error (or was killed)."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode


def run_child(module: str, args: list[str], *, threads: int, label: str,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    """``python -m module *args`` in a fresh process from the repository root, with
    ``OMP_NUM_THREADS=threads``; the JSON object on the last line of its output."""
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), **(env or {})}
    done = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          env=environment, cwd=ROOT)
    if done.returncode != 0:
        raise ChildFailed(f"{label} failed (exit {done.returncode}):\n{done.stdout}\n"
                          f"{done.stderr}", done.returncode)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table_lines(head: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a markdown table."""
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(row) + " |" for row in rows)]


def mib(value: float | None) -> str:
    """Bytes as whole MiB; "–" for None."""
    return "–" if value is None else f"{value / 2**20:.0f}"


def structured(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """(h, w) float64 in [0, 1]: box-blurred noise, a ramp and a bright blob."""
    noise = rng.standard_normal((h + 4, w + 4))
    blurred = sum(noise[i : i + h, j : j + w] for i in range(5) for j in range(5)) / 25.0
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.2 * min(h, w)) ** 2))
    return np.clip(0.35 * blurred + 0.3 * xx / max(w - 1, 1) + 0.6 * blob + 0.2, 0, 1)


def structured_image(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A natural-looking (H, W) uint8 image: :func:`structured` with its own seed."""
    return (structured(*shape, np.random.default_rng(seed)) * 255).round().astype(np.uint8)
