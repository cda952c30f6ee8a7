"""The examples run on the pairs shipped with pomai: examples/fuse_pair.py, and the notebook
examples/quickstart.ipynb, which is committed with its outputs and re-executed here (with the
test checkpoint, so it stays fast)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch
from PIL import Image

import pomai

EXAMPLES = Path(__file__).parents[1] / "examples"


def test_fuse_pair_script_fuses_a_bundled_sample(trained_run: Path, tmp_path: Path) -> None:
    main = runpy.run_path(str(EXAMPLES / "fuse_pair.py"))["main"]
    out = main(["--model", str(trained_run), "--sample", "doorway", "-o", str(tmp_path / "f.png")])
    assert out == tmp_path / "f.png"
    with Image.open(out) as fused, Image.open(pomai.samples()["doorway"].vis) as vis:
        assert fused.size == vis.size and fused.mode == vis.mode


def test_quickstart_notebook_is_committed_executed_and_runs(
    trained_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "commit the notebook executed, with outputs"
    committed = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert "numpy: uint8 (248, 316, 3)" in committed  # the default model on `street`

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernel's PyTorch: see conftest
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1
    parameters[0].source = f"MODEL = {str(trained_run)!r}\nSAMPLE = 'doorway'\nIR = VIS = None"
    nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was drawn"
    text = "".join(o.get("text", "") for o in outputs)
    assert "numpy: uint8 (225, 310, 3)" in text
    assert "tensor batch: torch.float32 (2, 3, 225, 310)" in text
    assert not [o for o in outputs if o.get("name") == "stderr"], "warnings in the notebook"


def _detection_example() -> dict:
    return runpy.run_path(str(EXAMPLES / "detection_pipeline.py"))


def test_detection_pipeline_hands_the_fused_batch_to_the_detector(
    trained_weights: Path, device: torch.device
) -> None:
    """On the ``--device`` of the run (CPU by default; ``pytest --device cuda`` on a GPU)."""
    example = _detection_example()
    fuser = pomai.load(trained_weights, device=device)
    tiny = example["TinyDetector"]().eval().to(fuser.device)
    received = []

    def detector(images):
        received.append(images)
        return tiny(images)

    pairs = list(example["sample_pairs"]("house", 5, size=(40, 48)))
    batches = list(example["detect"](fuser, iter(pairs), detector, 2))
    assert [len(d) for _, d in batches] == [2, 2, 1]
    for (fused, detections), images in zip(batches, received, strict=True):
        assert images is fused  # the detector got the fused tensor itself
        assert fused.dtype == torch.float32 and fused.device.type == device.type
        assert fused.shape[1:] == (3, 40, 48) and 0 <= fused.min() and fused.max() <= 1
        for found in detections:
            assert found["boxes"].shape == (5, 4) and found["boxes"].device.type == device.type
    first = torch.from_numpy(pomai.load(trained_weights, device="cpu").fuse(*pairs[0])).float()
    expected = first.permute(2, 0, 1) / 255  # the same fusion, as uint8 numpy
    assert (batches[0][0][0].cpu() - expected).abs().max() <= 1 / 255 + 1e-6


def test_detection_pipeline_script_runs_on_a_bundled_sample(
    trained_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    counts = _detection_example()["main"](["--model", str(trained_run), "--sample", "doorway",
                                           "--frames", "3", "--batch-size", "2",
                                           "--device", "cpu"])
    assert counts == [5, 5, 5]
    assert "(2, 3, 192, 256) torch.float32 on cpu" in capsys.readouterr().out
