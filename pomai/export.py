"""ONNX export of the PoMAI network: infrared and visible luminance in, fused luminance out.

The exported graph is the network alone, what :meth:`pomai.Fuser.fuse_luminance` computes for
a whole image (no tiling):

* inputs ``ir`` and ``vis_y``: (B, 1, H, W) float32 in [0, 1], the infrared image and the
  visible image's BT.601 luminance;
* output ``fused_y``: (B, 1, H, W) float32 in [0, 1], the network's fused luminance.

Batch, height and width are dynamic. The graph leaves out what :meth:`pomai.Fuser.fuse` adds
around the network: decoding images, the colour conversion, and the default per-image min-max
stretch of the fused luminance (:mod:`pomai.normalization`); docs/deploy.md shows them in numpy
around ONNX Runtime. NGMM's hash codes and groups are computed from each input's size inside
the graph, so every size is fused as PyTorch fuses it, as long as an image has more than
``3 · group_size`` pixels (432 for the released models): smaller images take NGMM's dense
path, which the graph does not hold.

The graph is captured with ``torch.export`` and written by PyTorch's ONNX exporter (the
torch.export-based one, ``dynamo=True``) at opset :data:`OPSET`. NGMM's stable sort of hash
codes is written as ONNX ``TopK`` over unique keys ``code · L + position``, which gives the
stable order whatever a runtime does with ties.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from pomai.atomic import atomic_write_bytes
from pomai.errors import MissingDependencyError
from pomai.optional import require

if TYPE_CHECKING:
    from pomai.fuser import Fuser
    from pomai.nn.pomai import PoMAI

# ONNX opset of the exported graph: the exporter's own target for torch 2.6 and later, run by
# ONNX Runtime 1.14 and later (LayerNormalization, Gelu and the ScatterElements it needs).
OPSET = 18
INPUT_NAMES = ("ir", "vis_y")
OUTPUT_NAME = "fused_y"
_AXIS_NAMES = {0: "batch", 2: "height", 3: "width"}
# Example input of the trace: batch 2, since torch.export fixes a dimension it sees as 1.
_EXAMPLE_BATCH = 2


class LuminanceNetwork(nn.Module):
    """A PoMAI network at one stage: (B, 1, H, W) ir and vis_y -> (B, 1, H, W) fused_y."""

    def __init__(self, model: PoMAI, stage: int) -> None:
        super().__init__()
        self.model = model
        self.stage = stage

    def forward(self, ir: torch.Tensor, vis_y: torch.Tensor) -> torch.Tensor:
        return self.model(ir, vis_y, stage=self.stage)


def min_side(group_size: int) -> int:
    """Smallest height and width the exported graph is declared for: ``side² > 3 · K``."""
    return math.isqrt(3 * group_size) + 1


def export_onnx(
    model: str | os.PathLike | Fuser | None,
    out: str | os.PathLike,
    *,
    stage: int | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
) -> None:
    """Write the network of ``model`` to ``out`` as an ONNX graph (see the module docs).

    Args:
        model: a :class:`pomai.Fuser`, or anything :func:`pomai.load` takes (None: the default
            released model).
        out: the ``.onnx`` file, written atomically; one file, weights included.
        stage, revision, cache_dir, offline: as for :func:`pomai.load`, when ``model`` is not
            a Fuser.

    Needs the ``deploy`` extra (``pip install 'pomai[deploy]'``): onnx and onnxscript.
    """
    onnx = require("onnx", "ONNX export")
    require("onnxscript", "ONNX export")
    if not hasattr(torch.compiler, "is_exporting"):
        raise MissingDependencyError(f"ONNX export needs PyTorch 2.6 or later, not "
                                     f"{torch.__version__}: upgrade torch")
    from pomai import __version__
    from pomai.fuser import Fuser, load

    if not isinstance(model, Fuser):
        model = load(model, device="cpu", stage=stage, revision=revision, cache_dir=cache_dir,
                     offline=offline)
    network = copy.deepcopy(model.model).to(device="cpu", dtype=torch.float32,
                                            memory_format=torch.contiguous_format)
    with _quiet_exporter():
        program = _exported_program(LuminanceNetwork(network, model.stage))
        onnx_program = torch.onnx.export(
            program, dynamo=True, opset_version=OPSET, input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME], custom_translation_table=_translations(),
            verbose=False,
        )
    proto = onnx_program.model_proto
    for value in (*proto.graph.input, *proto.graph.output):
        for axis, name in _AXIS_NAMES.items():
            value.type.tensor_type.shape.dim[axis].dim_param = name
    onnx.helper.set_model_props(proto, {
        "producer": f"pomai {__version__}", "source": model.source or "PoMAI",
        "stage": str(model.stage), "output": "fused luminance, not min-max normalised",
        "min_pixels": str(3 * model.config.group_size + 1),
    })
    atomic_write_bytes(proto.SerializeToString(), out)


def _exported_program(network: LuminanceNetwork) -> torch.export.ExportedProgram:
    """The network traced by torch.export with dynamic batch, height and width.

    torch.export refuses (a constraint violation) rather than silently fixing a dimension that
    the network's code ties to the example's size.
    """
    side = min_side(network.model.config.group_size)
    batch = torch.export.Dim("batch")
    height = torch.export.Dim("height", min=side)
    width = torch.export.Dim("width", min=side)
    dims = {0: batch, 2: height, 3: width}
    # Two distinct tensors: one tensor passed twice would be traced as one input.
    example = torch.rand(2, _EXAMPLE_BATCH, 1, side + 3, side + 5).unbind(0)
    return torch.export.export(
        network.eval(), example, dynamic_shapes={"ir": dims, "vis_y": dims}, strict=False,
    )


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's notes that concern neither pomai's graph nor its user (operators of
    packages pomai does not use, deprecations inside PyTorch) are not shown."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def _translations() -> dict[Any, Any]:
    """ONNX translations of the ATen operators the exporter has none for (stable sort)."""
    from onnxscript import opset18 as op

    def stable_sort(self: Any, stable: bool | None = None, dim: int = -1,
                    descending: bool = False) -> tuple[Any, Any]:
        """Ascending stable sort of int64 codes along the last axis, as TopK over unique keys."""
        if dim != -1 or descending:
            raise NotImplementedError("only an ascending sort along the last axis is exported")
        length = op.Shape(self, start=-1)
        positions = op.Range(op.Constant(value_int=0), op.Squeeze(length),
                             op.Constant(value_int=1))
        _, indices = op.TopK(op.Add(op.Mul(self, length), positions), length, axis=-1,
                             largest=0, sorted=1)
        return op.GatherElements(self, indices, axis=-1), indices

    return {torch.ops.aten.sort.stable: stable_sort}
