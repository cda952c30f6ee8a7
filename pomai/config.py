"""Hyper-parameters of the PoMAI network, and its named configurations.

Every architectural choice the paper leaves open lives here, so a checkpoint's config fully
describes the network that reads its weights. docs/architecture.md explains each default.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

GateType = Literal["dense", "dwsep"]
DecoderResidual = Literal["none", "vis"]


# Range of every integer field: what the architecture can mean. Widths beyond 1024 channels,
# more than 32 blocks or kernels over 31 px describe no fusion network anyone trains; K (pixels
# per NGMM group) and the bucket cap stay within a tile of a few thousand pixels.
_INT_RANGES: dict[str, tuple[int, int]] = {
    "width": (2, 1024), "heads": (1, 1024), "encoder_blocks": (0, 32),
    "decoder_blocks": (0, 32), "group_size": (1, 4096), "hash_rounds": (1, 16),
    "max_buckets": (2, 4096), "rotation_seed": (0, 2**63 - 1), "scb_kernel": (1, 31),
    "scb_dilation": (1, 16), "ca_reduction": (1, 1024), "sa_kernel": (1, 31),
    "gate_kernel": (1, 31),
}
# Largest hidden-width multiple of C (Restormer uses 2.66, CAMN's CCB 4).
_MAX_EXPANSION = {"ffn_expansion": 16.0, "ccb_expansion": 16.0}
_ODD_FIELDS = ("scb_kernel", "sa_kernel", "gate_kernel")  # centred, "same" padding
_BOOL_FIELDS = ("bias", "resample_rotations_in_train", "use_ngmm", "use_camn")
_CHOICES: dict[str, tuple[str, ...]] = {"decoder_residual": ("none", "vis"),
                                        "gate": ("dense", "dwsep")}
# Largest network a config may describe: 400 MB of float32, over 100 times the paper's
# network (0.85 million values).
MAX_PARAMETERS = 10**8


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
        # A config also arrives from a weights file, which is untrusted input: every field's
        # type and range is checked before any network is built from it.
        problems = _field_problems(self) or _relation_problems(self)
        if not problems and self.parameter_count() > MAX_PARAMETERS:
            problems.append(
                f"the network would hold {self.parameter_count():,} parameters, over the limit "
                f"of {MAX_PARAMETERS:,}: the config is corrupt or not meant for pomai"
            )
        if problems:
            raise ValueError("invalid PoMAIConfig: " + "; ".join(problems))

    def parameter_count(self) -> int:
        """Values the network stores (parameters and NGMM's rotation buffer), from the config.

        Computed without building the network, so an absurd config is refused before any
        allocation; equal to the built network's count (a test checks it).
        """
        c, bias = self.width, int(self.bias)
        ffn = int(c * self.ffn_expansion)
        block = (
            4 * c  # two channel LayerNorms
            + self.heads + 3 * c * c + 3 * c * 9 + c * c + 7 * c * bias  # MDTA
            + 2 * ffn * c + 2 * ffn * 9 + c * ffn + (4 * ffn + c) * bias  # GDFN
        )
        encoder = 9 * c + c * bias + self.encoder_blocks * block
        half = c // 2
        decoder = (2 * c * c + c * bias + self.decoder_blocks * block
                   + 9 * half * c + half * bias + 9 * half + bias)
        ngmm = 2 * (c * c + c) + c * self.hash_rounds * (self.max_buckets // 2)
        ccb = int(c * self.ccb_expansion)
        camn = 2 * (c * c + c) + c * self.scb_kernel**2 + c + 2 * c + 2 * ccb * c + ccb + c
        hidden = c // self.ca_reduction
        gate = self.gate_kernel**2
        micm = (2 * hidden * c + hidden + c + 2 * self.sa_kernel**2 + 1
                + (2 * c * c * gate + c if self.gate == "dense" else 2 * c * c + c + c * gate + c))
        return (encoder + decoder + micm + ngmm * self.use_ngmm + camn * self.use_camn)

    def replace(self, **changes: Any) -> PoMAIConfig:
        """A copy with some fields changed (validated like a new config)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PoMAIConfig:
        if not isinstance(data, dict):
            raise ValueError(f"a PoMAIConfig is a JSON object of fields, got {type(data).__name__}")
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


def _field_problems(config: PoMAIConfig) -> list[str]:
    """Each field's type and range on its own."""
    problems = []
    for name, (low, high) in _INT_RANGES.items():
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{name} must be an int, got {value!r}")
        elif not low <= value <= high:
            problems.append(f"{name} must be in [{low}, {high}], got {value}")
        elif name in _ODD_FIELDS and value % 2 == 0:
            problems.append(f"{name} must be odd, got {value}")
        elif name == "max_buckets" and value % 2:
            problems.append(f"max_buckets must be even, got {value}")
    for name, high in _MAX_EXPANSION.items():
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{name} must be a number, got {value!r}")
        elif not 0 < value <= high:  # also refuses NaN
            problems.append(f"{name} must be in (0, {high:g}], got {value}")
    for name in _BOOL_FIELDS:
        if not isinstance(getattr(config, name), bool):
            problems.append(f"{name} must be true or false, got {getattr(config, name)!r}")
    for name, choices in _CHOICES.items():
        if not isinstance(getattr(config, name), str) or getattr(config, name) not in choices:
            problems.append(f"{name} must be {' or '.join(map(repr, choices))}, "
                            f"got {getattr(config, name)!r}")
    return problems


def _relation_problems(config: PoMAIConfig) -> list[str]:
    """Constraints between fields (each field already has its type and range)."""
    problems = []
    if config.width % config.heads:
        problems.append(f"width ({config.width}) must be a multiple of heads ({config.heads})")
    if config.width // config.ca_reduction < 1:
        problems.append(f"ca_reduction ({config.ca_reduction}) leaves no channels at width "
                        f"{config.width}")
    for name in _MAX_EXPANSION:
        if int(config.width * getattr(config, name)) < 1:
            problems.append(f"{name} ({getattr(config, name)}) leaves no hidden channels at "
                            f"width {config.width}")
    return problems


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
