"""The settings of a training run (:class:`TrainSettings`), without importing torch.

The command line builds them (``pomai train --help`` stays fast); :mod:`pomai.training.trainer`
runs them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pomai.config import PoMAIConfig, get_config
from pomai.errors import UsageError

Ablation = Literal["none", "no_ngmm", "no_camn", "no_micm", "joint", "no_freeze"]
ABLATIONS: tuple[str, ...] = ("none", "no_ngmm", "no_camn", "no_micm", "joint", "no_freeze")


@dataclass(frozen=True)
class TrainSettings:
    """Everything that defines a training run. Paper values: 80 + 20 epochs, batch 16."""

    data: str
    out: str
    config: str = "tiny"
    stage: Literal["1", "2", "both"] = "both"
    epochs_stage1: int = 80
    epochs_stage2: int = 20
    batch: int = 16
    lr: float = 1e-4
    lr_step_epochs: int = 20
    lr_gamma: float = 0.5
    crop: int = 128
    flips: bool = False
    zoom_prob: float = 0.0
    zoom_max: float = 1.0
    seed: int = 0
    pairs_file: str | None = None
    ablation: Ablation = "none"
    init: str | None = None
    init_partial: bool = False
    teacher: str | None = None
    distill_weight: float = 10.0
    clip_grad: float | None = None
    val: str | None = None
    val_pairs: int = 32
    checkpoint_every: int = 50
    max_steps: int | None = None
    device: str = "cpu"
    threads: int | None = None
    progress: bool = True

    # Fields that may change when a run is resumed; every other field must match, except the
    # epochs of a phase that has not ended (see :func:`epochs_change_problem`).
    RESUMABLE_CHANGES = (
        "out", "max_steps", "device", "threads", "progress", "checkpoint_every", "val"
    )
    EPOCH_FIELDS = ("epochs_stage1", "epochs_stage2")

    def model_config(self) -> PoMAIConfig:
        config = _read_config(self.config)
        if self.ablation == "no_ngmm":
            config = config.replace(use_ngmm=False)
        elif self.ablation == "no_camn":
            config = config.replace(use_camn=False)
        return config

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def run_record(self) -> dict[str, Any]:
        """The settings as the run's record (settings.json, the manifest entry).

        ``max_steps`` stops one invocation, not the run, so it is left out (``None``): a
        ``--from-config`` of the record trains the whole run.
        """
        return {**self.to_dict(), "max_steps": None}


def _read_config(name_or_path: str) -> PoMAIConfig:
    path = Path(name_or_path)
    try:
        if path.suffix == ".json" and path.is_file():
            return PoMAIConfig.from_json(path.read_text())
        return get_config(name_or_path)
    except ValueError as err:  # an unknown name, a file that is not a valid config
        raise UsageError(f"model config {name_or_path!r}: {err}") from None
