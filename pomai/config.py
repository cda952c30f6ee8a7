"""Hyper-parameters of the PoMAI network, and its named configurations.

Every architectural choice the paper leaves open lives here, so a checkpoint's config fully
describes the network that reads its weights. Defaults follow ../shared/design/pomai-notes.md;
docs/architecture.md explains each one.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

GateType = Literal["dense", "dwsep"]
DecoderResidual = Literal["none", "vis"]


@dataclass(frozen=True)
class PoMAIConfig:
    """Every hyper-parameter of the PoMAI network.

    Encoder / decoder (Restormer blocks, paper §3.2 and §3.6):
        width: feature channels C.
        heads: MDTA heads (C must be divisible by it).
        encoder_blocks, decoder_blocks: Restormer blocks in each.
        ffn_expansion: GDFN hidden width as a multiple of C.
        bias: bias in the Restormer convolutions.
        decoder_residual: ``"vis"`` adds the visible input before the output sigmoid (CDDFuse).
    NGMM (paper §3.3):
        group_size: K, pixels per group after hashing.
        hash_rounds: independent hashing rounds, merged by their log-sum-exp.
        max_buckets: cap on the number of hash buckets (NLSA uses 128).
        rotation_seed: seed of the fixed random rotations stored with the weights.
        resample_rotations_in_train: draw fresh rotations on every training forward (NLSA).
    CAMN (paper §3.4):
        scb_kernel, scb_dilation: the depth-wise dilated convolution of the SCB.
        ccb_expansion: hidden width of the CCB's pointwise pair, as a multiple of C.
    MICM (paper §3.5):
        ca_reduction: channel-attention MLP reduction.
        sa_kernel: spatial-attention kernel.
        gate: ``"dense"`` 7×7 conv 2C→C, or ``"dwsep"`` 1×1 2C→C then depth-wise 7×7.
        gate_kernel: kernel of the gate convolution.
    Ablations (paper Table 2):
        use_ngmm, use_camn: replace the module by the identity when False.
    """

    width: int = 64
    heads: int = 8
    encoder_blocks: int = 4
    decoder_blocks: int = 4
    ffn_expansion: float = 2.0
    bias: bool = False
    decoder_residual: DecoderResidual = "none"
    group_size: int = 144
    hash_rounds: int = 1
    max_buckets: int = 128
    rotation_seed: int = 0
    resample_rotations_in_train: bool = False
    scb_kernel: int = 7
    scb_dilation: int = 3
    ccb_expansion: float = 4.0
    ca_reduction: int = 4
    sa_kernel: int = 7
    gate: GateType = "dense"
    gate_kernel: int = 7
    use_ngmm: bool = True
    use_camn: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.width < 1 or self.heads < 1 or self.width % self.heads:
            problems.append(f"width ({self.width}) must be a positive multiple of heads "
                            f"({self.heads})")
        if self.group_size < 1:
            problems.append(f"group_size must be >= 1, got {self.group_size}")
        if self.hash_rounds < 1:
            problems.append(f"hash_rounds must be >= 1, got {self.hash_rounds}")
        if self.max_buckets < 2 or self.max_buckets % 2:
            problems.append(f"max_buckets must be an even number >= 2, got {self.max_buckets}")
        if self.width // self.ca_reduction < 1:
            problems.append(f"ca_reduction ({self.ca_reduction}) leaves no channels at width "
                            f"{self.width}")
        if self.gate not in ("dense", "dwsep"):
            problems.append(f"gate must be 'dense' or 'dwsep', got {self.gate!r}")
        if self.decoder_residual not in ("none", "vis"):
            problems.append(f"decoder_residual must be 'none' or 'vis', "
                            f"got {self.decoder_residual!r}")
        for name in ("scb_kernel", "sa_kernel", "gate_kernel"):
            if getattr(self, name) % 2 == 0:
                problems.append(f"{name} must be odd, got {getattr(self, name)}")
        if problems:
            raise ValueError("invalid PoMAIConfig: " + "; ".join(problems))

    def replace(self, **changes: Any) -> PoMAIConfig:
        """A copy with some fields changed (validated like a new config)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PoMAIConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown PoMAIConfig fields {unknown}; this pomai version knows {sorted(known)}. "
                "The checkpoint may come from a newer pomai: upgrade the package."
            )
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PoMAIConfig:
        return cls.from_dict(json.loads(text))


NAMED_CONFIGS: dict[str, PoMAIConfig] = {
    # The paper's network with the notes' defaults (C = 64, 8 heads, dense 7×7 gate).
    "paper": PoMAIConfig(),
    # CPU configurations: narrower features, fewer heads, depth-wise separable gate.
    "small": PoMAIConfig(width=32, heads=4, gate="dwsep"),
    "tiny": PoMAIConfig(width=16, heads=2, gate="dwsep", ffn_expansion=2.0, ccb_expansion=2.0),
    # Real-time CPU configuration: "tiny" with one Restormer block in the encoder and one in the
    # decoder and groups of 64 in NGMM; every module of the paper is kept. The per-module cost
    # behind the choice is in docs/performance.md ("Cost per module").
    "fast": PoMAIConfig(width=16, heads=2, gate="dwsep", ffn_expansion=2.0, ccb_expansion=2.0,
                        encoder_blocks=1, decoder_blocks=1, group_size=64),
}


def get_config(name: str) -> PoMAIConfig:
    """The named configuration ``name`` (see :data:`NAMED_CONFIGS`)."""
    try:
        return NAMED_CONFIGS[name]
    except KeyError:
        raise ValueError(
            f"unknown config {name!r}; named configs are {sorted(NAMED_CONFIGS)}"
        ) from None
