"""PoMAI network modules, one concept per module."""

from pomai.nn.camn import CAMN
from pomai.nn.decoder import Decoder
from pomai.nn.encoder import Encoder
from pomai.nn.micm import MICM
from pomai.nn.ngmm import NGMM
from pomai.nn.pomai import PoMAI

__all__ = ["CAMN", "MICM", "NGMM", "Decoder", "Encoder", "PoMAI"]
