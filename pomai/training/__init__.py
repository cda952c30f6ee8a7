"""The paper's two-stage training: data, loss, trainer and command line."""

from pomai.training.data import Augment, PairedImages, find_pairs
from pomai.training.loss import FusionLoss
from pomai.training.trainer import Phase, Trainer, TrainSettings, plan_phases

__all__ = [
    "Augment",
    "FusionLoss",
    "PairedImages",
    "Phase",
    "TrainSettings",
    "Trainer",
    "find_pairs",
    "plan_phases",
]
