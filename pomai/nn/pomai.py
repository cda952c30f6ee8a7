"""The PoMAI network: shared encoder, NGMM (infrared), CAMN (visible), MICM, decoder."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from pomai.config import PoMAIConfig
from pomai.nn.camn import CAMN
from pomai.nn.cpu_inference import blocked_sums
from pomai.nn.decoder import Decoder
from pomai.nn.encoder import Encoder
from pomai.nn.micm import MICM
from pomai.nn.ngmm import NGMM

Stage = Literal[1, 2]


class PoMAI(nn.Module):
    """Progressive Modality-Adaptive Interactive Network (paper §3, Eq. 1–13).

    Stage 1: ``I_F = D(Cat(NGMM(E(ir)), CAMN(E(vis))))``.
    Stage 2: ``I_F = D(MICM(E(ir), E(vis), NGMM(E(ir)), CAMN(E(vis))))``.

    Inputs are the infrared image and the visible luminance (BT.601 Y), each (B, 1, H, W) in
    [0, 1]; the output is the fused luminance (B, 1, H, W) in [0, 1]. Every layer has stride 1
    and NGMM handles any pixel count, so any H, W works without padding.
    """

    def __init__(self, config: PoMAIConfig | None = None) -> None:
        super().__init__()
        self.config = config or PoMAIConfig()
        self.encoder = Encoder(self.config)
        self.ngmm = NGMM(self.config) if self.config.use_ngmm else nn.Identity()
        self.camn = CAMN(self.config) if self.config.use_camn else nn.Identity()
        self.micm = MICM(self.config)
        self.decoder = Decoder(self.config)

    def encode(
        self, ir: torch.Tensor, vis: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stage-one features: ``(x_enc_ir, x_enc_vis, x_ngmm, x_camn)``, each (B, C, H, W)."""
        if ir.ndim != 4 or ir.shape[1] != 1 or ir.shape != vis.shape:
            raise ValueError(
                f"PoMAI expects infrared and visible luminance of the same shape (B, 1, H, W); "
                f"got ir {tuple(ir.shape)} and vis {tuple(vis.shape)}. Convert colour images to "
                "luminance first, or use pomai.load(...).fuse(), which does it for you."
            )
        if blocked_sums(ir):
            # Each modality in its own call, same result (every layer treats the images of a
            # batch alone): maps half the size are reused from the heap where double-size ones
            # are page-faulted in anew (pomai.nn.cpu_inference).
            x_enc_ir, x_enc_vis = self.encoder(ir), self.encoder(vis)
        else:
            # unflatten, not chunk(2), which torch.export can only trace for one batch size
            x_enc_ir, x_enc_vis = (self.encoder(torch.cat([ir, vis]))
                                   .unflatten(0, (2, -1)).unbind(0))
        return x_enc_ir, x_enc_vis, self.ngmm(x_enc_ir), self.camn(x_enc_vis)

    def decode(
        self,
        features: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
        vis: torch.Tensor,
        stage: Stage = 2,
    ) -> torch.Tensor:
        """Fused image (B, 1, H, W) from :meth:`encode`'s features: Eq. 12 or Eq. 13."""
        if stage == 1:
            return self.decoder(torch.cat([features[2], features[3]], dim=1), vis)
        if stage == 2:
            return self.decoder(self.micm(*features), vis)
        raise ValueError(f"stage must be 1 or 2, got {stage!r}")

    def forward(self, ir: torch.Tensor, vis: torch.Tensor, stage: Stage = 2) -> torch.Tensor:
        """(B, 1, H, W) infrared and visible luminance in [0, 1] -> (B, 1, H, W) fused."""
        return self.decode(self.encode(ir, vis), vis, stage)

