"""What a training run writes besides its checkpoints: the loss history and the loss curve.

The resumable checkpoint is :mod:`pomai.training.checkpoint`, the exported weights
:func:`pomai.checkpoint.export_weights`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from pomai.atomic import atomic_write_bytes


def write_history(
    out: Path, columns: Sequence[str], step_log: list[list[float]], epoch_log: list[dict]
) -> None:
    """``steps.csv`` (one row per optimiser step) and ``epochs.json`` (validation per epoch)."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["global_step", "phase", "epoch", "lr", *columns])
    for row in step_log:
        writer.writerow([int(row[0]), int(row[1]), int(row[2]), *(f"{v:.6g}" for v in row[3:])])
    atomic_write_bytes(text.getvalue().encode(), out / "steps.csv")
    atomic_write_bytes(json.dumps(epoch_log, indent=1).encode(), out / "epochs.json")


def plot_loss_curve(out: Path, columns: Sequence[str], step_log: list[list[float]]) -> Path | None:
    """``loss_curve.png``: total and per-term losses against step (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if not step_log:
        return None
    steps = [r[0] for r in step_log]
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3), squeeze=False)
    for i, name in enumerate(columns):
        ax = axes[0, i]
        ax.plot(steps, [r[4 + i] for r in step_log], lw=0.5)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.set_yscale("log")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    path = out / "loss_curve.png"
    atomic_write_bytes(buffer.getvalue(), path)
    return path
