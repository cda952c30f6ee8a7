"""Shared test fixtures.

``device`` / ``dtype``: the torch device and floating dtype the network, tiling and fuser tests
run in, from ``pytest --device cuda --dtype bfloat16`` (default ``cpu``, ``float32``), with
``tolerance`` the ``assert_close`` tolerances that go with the dtype.

Network / training fixtures: a narrow model config (width 8) written as a JSON config file, and
factories for synthetic folders of paired ``ir/`` + ``vi/`` images. The synthetic images and the
development data folder (``benchmarks.common.data_root``) are the benchmarks' own.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from benchmarks.common import structured_image

if TYPE_CHECKING:
    import torch

    from pomai.config import PoMAIConfig


# -- device and dtype ---------------------------------------------------------------------------

DTYPES = ("float32", "float16", "bfloat16")
# assert_close tolerances per dtype; float32 keeps torch's defaults.
TOLERANCES = {"float32": {}, "float16": {"atol": 1e-2, "rtol": 1e-2},
              "bfloat16": {"atol": 5e-2, "rtol": 5e-2}}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default="cpu",
                     help="torch device of the network, tiling and fuser tests (cpu, cuda, cuda:1)")
    parser.addoption("--dtype", default="float32", choices=DTYPES,
                     help="floating dtype of the network, tiling and fuser tests")


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    """The ``--device`` the tests run on; an unavailable one stops the run."""
    import torch

    name = request.config.getoption("--device")
    try:
        device = torch.device(name)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as err:
        pytest.exit(f"--device {name} is not available here: {err}", returncode=4)
    return device


@pytest.fixture(scope="session")
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """The ``--dtype`` of the tests' networks and inputs."""
    import torch

    return getattr(torch, request.config.getoption("--dtype"))


@pytest.fixture(scope="session")
def tolerance(request: pytest.FixtureRequest) -> dict[str, float]:
    """``torch.testing.assert_close`` keyword arguments for ``--dtype``."""
    return TOLERANCES[request.config.getoption("--dtype")]


# -- network / training fixtures ---------------------------------------------------------------

# A narrow network that still exercises every code path: several NGMM groups at 32×32
# (L = 1024 > 3K = 48), the depth-wise separable MICM gate, two MDTA heads.
TEST_CONFIG_FIELDS = {"width": 8, "heads": 2, "group_size": 16, "gate": "dwsep",
                      "ffn_expansion": 2.0, "ccb_expansion": 2.0, "ca_reduction": 2}


def write_pairs(
    root: Path,
    stems: Sequence[str],
    shape: tuple[int, int] = (32, 32),
    *,
    ir_ext: str = ".png",
    vis_ext: str = ".png",
    seed: int = 0,
    vis_from_ir: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Path:
    """Write ``root/ir/<stem><ir_ext>`` and ``root/vi/<stem><vis_ext>`` grey pairs; returns root.

    ``vis_from_ir`` makes the visible image a pixel-wise function of the infrared one.
    """
    (root / "ir").mkdir(parents=True, exist_ok=True)
    (root / "vi").mkdir(parents=True, exist_ok=True)
    for i, stem in enumerate(stems):
        ir = structured_image(shape, seed + 2 * i)
        vis = vis_from_ir(ir) if vis_from_ir else structured_image(shape, seed + 2 * i + 1)
        Image.fromarray(ir).save(root / "ir" / f"{stem}{ir_ext}")
        Image.fromarray(vis).save(root / "vi" / f"{stem}{vis_ext}")
    return root


@pytest.fixture(scope="session")
def make_pairs() -> Callable[..., Path]:
    """The :func:`write_pairs` factory."""
    return write_pairs


@pytest.fixture
def pair_folder(tmp_path: Path) -> Path:
    """Four 32×32 grey pairs under ``tmp_path/data`` (stems p0..p3)."""
    return write_pairs(tmp_path / "data", [f"p{i}" for i in range(4)])


@pytest.fixture(scope="session")
def narrow_config() -> PoMAIConfig:
    """The width-8 test network: the ``tiny`` config with :data:`TEST_CONFIG_FIELDS`."""
    from pomai.config import get_config

    return get_config("tiny").replace(**TEST_CONFIG_FIELDS)


@pytest.fixture
def narrow_config_path(tmp_path: Path, narrow_config: PoMAIConfig) -> Path:
    """The width-8 test network as a JSON model config file (accepted by TrainSettings.config)."""
    path = tmp_path / "width8.json"
    path.write_text(narrow_config.to_json())
    return path


# -- inference fixtures -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def one_torch_thread() -> None:
    """Run the (tiny) test networks on one thread (again before every test, since some tests
    change it).

    On a busy machine (CI, a box shared with a training run) PyTorch's OpenMP threads spin-wait
    for each other and a 48×48 forward pass goes from 0.05 s to several seconds.
    """
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder made by the project's trainer in 4 steps (width-8 network, 48×48 pairs).

    Holds ``model.safetensors`` (stage-2 weights with config metadata) and
    ``manifest_entry.json``. A real checkpoint, not a published model.
    """
    from pomai.config import get_config
    from pomai.training import Trainer, TrainSettings

    root = tmp_path_factory.mktemp("trained")
    data = write_pairs(root / "data", [f"p{i}" for i in range(4)], (48, 48))
    config = root / "width8.json"
    config.write_text(get_config("tiny").replace(**TEST_CONFIG_FIELDS).to_json())
    settings = TrainSettings(
        data=str(data), out=str(root / "run"), config=str(config), epochs_stage1=1,
        epochs_stage2=1, batch=2, crop=32, progress=False, checkpoint_every=1000,
    )
    Trainer(settings).run()
    return root / "run"


@pytest.fixture(scope="session")
def trained_weights(trained_run: Path) -> Path:
    """``model.safetensors`` of :func:`trained_run`."""
    return trained_run / "model.safetensors"


def _load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script() -> Callable[[Path], ModuleType]:
    """Import a script of scripts/ (not a package) by its path, as a fresh module."""
    return _load_script
