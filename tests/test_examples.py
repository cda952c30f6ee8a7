"""The examples run: examples/fuse_pair.py and the executed notebook examples/quickstart.ipynb,
both on a small pair with the test checkpoint."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.fixture
def small_pair(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    ir, vis = tmp_path / "ir.png", tmp_path / "vis.png"
    Image.fromarray(rng.integers(0, 256, (32, 40), dtype=np.uint8)).save(ir)
    Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(vis)
    return ir, vis


def test_fuse_pair_script(trained_run: Path, small_pair: tuple[Path, Path], tmp_path: Path
                          ) -> None:
    main = runpy.run_path(str(EXAMPLES / "fuse_pair.py"))["main"]
    out = main(["--model", str(trained_run), *map(str, small_pair), str(tmp_path / "f.png")])
    with Image.open(out) as fused:
        assert fused.mode == "RGB" and fused.size == (40, 32)


def test_quickstart_notebook_executes(
    trained_run: Path, small_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernel's PyTorch: see conftest
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1
    ir, vis = small_pair
    parameters[0].source = f"MODEL = {str(trained_run)!r}\nIR = {str(ir)!r}\nVIS = {str(vis)!r}"
    nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was drawn"
    text = "".join(o.get("text", "") for o in outputs)
    assert "numpy: uint8 (32, 40, 3)" in text
    assert "tensor batch: torch.float32 (2, 3, 32, 40)" in text
