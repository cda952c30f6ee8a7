"""pomai.export: the default model exported to ONNX runs in ONNX Runtime (CPU) like
``Fuser.fuse_luminance``, on a real pair and on other sizes and batches than the trace's."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import pomai
from pomai.cli import main
from pomai.config import get_config
from pomai.fuser import Fuser

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

EXAMPLES = Path(__file__).parents[1] / "examples"
# Parity on the [0, 1] scale: the same float32 network; measured differences are below 1e-6.
ATOL = 1e-4


@pytest.fixture(scope="module")
def default_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default released model, exported once through the command line."""
    path = tmp_path_factory.mktemp("onnx") / "msrs.onnx"
    assert main(["export", "msrs", "--format", "onnx", "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def session(default_onnx: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(default_onnx, options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def fuser() -> Fuser:
    return pomai.load("msrs", device="cpu")


def _run(session: ort.InferenceSession, ir: torch.Tensor, vis_y: torch.Tensor) -> np.ndarray:
    return session.run(None, {"ir": ir.numpy(), "vis_y": vis_y.numpy()})[0]


def _sample_crop(name: str, box: tuple[int, int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """A bundled pair cropped to ``box``, as (1, 1, H, W) infrared and visible luminance."""
    pair = pomai.samples()[name]
    with Image.open(pair.ir) as ir, Image.open(pair.vis) as vis:
        tensors = [torch.from_numpy(np.asarray(im.convert("L").crop(box), np.float32) / 255)
                   for im in (ir, vis)]
    return tensors[0][None, None], tensors[1][None, None]


def test_the_graph_declares_dynamic_axes_and_what_it_computes(default_onnx: Path) -> None:
    model = onnx.load(default_onnx)
    onnx.checker.check_model(model)
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in (*model.graph.input, *model.graph.output)}
    assert shapes == {name: ["batch", 1, "height", "width"] for name in ("ir", "vis_y", "fused_y")}
    props = {p.key: p.value for p in model.metadata_props}
    assert props["stage"] == "2" and "not min-max normalised" in props["output"]
    assert props["min_pixels"] == str(3 * get_config("tiny").group_size + 1)


def test_a_real_pair_matches_fuse_luminance(session, fuser: Fuser) -> None:
    ir, vis_y = _sample_crop("street", (40, 30, 200, 150))  # 160×120 of a night street
    expected = fuser.fuse_luminance(ir, vis_y, tile=None)
    fused = _run(session, ir, vis_y)
    assert fused.shape == (1, 1, 120, 160)
    assert np.abs(fused - expected.numpy()).max() <= ATOL


def test_odd_sizes_and_batches_match_fuse_luminance(session, fuser: Fuser) -> None:
    # 37×53 (odd, and not the trace's size), a batch of 3; 128×160 holds the capped 128 buckets
    for shape, name in (((3, 1, 37, 53), "house"), ((1, 1, 128, 160), "doorway")):
        ir, vis_y = _sample_crop(name, (7, 5, 7 + shape[3], 5 + shape[2]))
        ir, vis_y = ir.expand(shape).clone(), vis_y.expand(shape).clone()
        ir[1:] = ir[1:].flip(-1)  # different images in one batch
        vis_y[2:] = vis_y[2:].flip(-2)
        expected = fuser.fuse_luminance(ir, vis_y, tile=None)
        assert np.abs(_run(session, ir, vis_y) - expected.numpy()).max() <= ATOL, shape


def test_numpy_colour_pipeline_example_matches_fuse(default_onnx: Path, session, fuser: Fuser,
                                                     tmp_path: Path) -> None:
    pair = pomai.samples()["doorway"]
    box = (0, 0, 96, 80)
    ir_path, vis_path = tmp_path / "ir.png", tmp_path / "vis.png"
    with Image.open(pair.ir) as ir, Image.open(pair.vis) as vis:
        ir.crop(box).save(ir_path)
        grey = np.asarray(vis.crop(box), np.float32) / 255
    # The bundled visible images are grey: tint one into colour with three distinct channels.
    rgb = np.stack([grey, grey**1.5, 0.3 + 0.5 * grey[::-1]], axis=-1)
    Image.fromarray(np.round(rgb * 255).astype(np.uint8)).save(vis_path)
    example = runpy.run_path(str(EXAMPLES / "onnx_fuse.py"))
    out = example["main"]([str(default_onnx), str(ir_path), str(vis_path),
                           "-o", str(tmp_path / "f.png")])
    fused = np.asarray(Image.open(out), dtype=np.int16)
    expected = np.asarray(fuser.fuse(ir_path, vis_path), dtype=np.int16)
    assert fused.shape == expected.shape == (80, 96, 3)
    assert np.abs(fused - expected).max() <= 1  # 8-bit rounding of the same colour transform


def test_missing_package_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import fails as when not installed
    with pytest.raises(pomai.MissingDependencyError, match=r"pip install 'pomai\[deploy\]'"):
        pomai.export_onnx(None, tmp_path / "m.onnx")
    assert main(["export", "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "onnxscript" in err
    assert not (tmp_path / "m.onnx").exists()


def test_a_folder_as_output_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["export", "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
