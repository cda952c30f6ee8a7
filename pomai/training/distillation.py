"""Knowledge distillation: a frozen teacher network whose fused output the student learns.

With ``--teacher NAME_OR_PATH`` the training loss gains ``distill_weight · mean|F − F_t|``, the
L1 distance between the student's fused image F and the teacher's F_t on the same batch. The
teacher is any PoMAI checkpoint pomai can load (a released name, a ``.safetensors`` file, a run
folder; sha256-checked like every load), served at its stored stage, in eval mode, without
gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pomai.nn.cpu_inference import whole_image


class Teacher(nn.Module):
    """A frozen PoMAI network. ``(ir, vis)`` (B, 1, H, W) each -> fused (B, 1, H, W).

    ``memoize``: the training samples are the same in every epoch (whole images, no flips or
    zoom), so each sample's teacher output is computed once, one sample at a time, and kept
    (4 bytes per pixel); a teacher wider than its student then costs one forward pass per
    training image instead of one per step. One sample at a time makes the kept output
    independent of the batch it first appeared in, so a resumed run sees the same targets.
    """

    def __init__(self, name_or_path: str, device: torch.device, memoize: bool) -> None:
        super().__init__()
        from pomai.checkpoint import load_model
        from pomai.hub import resolve

        model, self.stage = load_model(resolve(name_or_path))
        self.model = model.to(device).eval().requires_grad_(False)
        if device.type == "cpu":
            self.model.to(memory_format=torch.channels_last)
        self.memoize = memoize
        self._outputs: dict[int, torch.Tensor] = {}

    @torch.no_grad()
    def forward(
        self, ir: torch.Tensor, vis: torch.Tensor, samples: Sequence[int] | None = None
    ) -> torch.Tensor:
        """The teacher's fused images; ``samples`` (the batch's dataset indices) for memoising."""
        if not self.memoize or samples is None:
            with whole_image():  # as the student computes: a student equal to it gives 0
                return self.model(ir, vis, stage=self.stage)
        outputs = []
        for row, sample in enumerate(samples):
            if sample not in self._outputs:
                self._outputs[sample] = self.model(
                    ir[row : row + 1], vis[row : row + 1], stage=self.stage
                )[0]
            outputs.append(self._outputs[sample])
        return torch.stack(outputs)


def distillation_loss(fused: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean|fused − target|`` over (B, 1, H, W) images: 0 when the student matches exactly."""
    return (fused - target).abs().mean()
