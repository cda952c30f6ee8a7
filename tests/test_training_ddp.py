"""DistributedDataParallel on CPU: two gloo processes stay in sync with one process of the same
global batch (pomai.training.trainer under torchrun-style environment variables)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

import pomai.training.trainer as trainer_module
from pomai.config import PoMAIConfig
from pomai.training.trainer import Trainer, TrainSettings

WORKER = """
import json, sys
import torch
import torch.distributed as dist
import pomai.training.trainer as trainer_module
from pomai.training.trainer import Trainer, TrainSettings

trainer_module.plot_loss_curve = lambda *args: None  # not what this test is about
torch.set_num_threads(1)
trainer = Trainer(TrainSettings(**json.loads(sys.argv[1])))
assert (trainer.world, trainer.rank) == (2, int(sys.argv[3]))
trainer.run()
torch.save({"model": trainer.model.state_dict(), "log": trainer.state.step_log}, sys.argv[2])
dist.destroy_process_group()
"""

# Tolerance. The two-process gradient is (sum over 2 samples) all-reduced and halved, the
# one-process gradient one sum over 4 samples: the same numbers summed in another order, so
# they differ by float32 rounding (~1e-7 relative). Adam's step is lr·m/(√v + ε) ≈ ±lr per
# element, so rounding in the gradient moves a weight by about lr·1e-7 per step; only an
# element whose gradient is itself at rounding level could differ by up to lr. With lr = 1e-4
# and 4 steps the weights move by up to 2e-4 and agree to ~3e-8 (measured); 1e-6 leaves a wide
# margin while any sharding mistake (a sample missed or seen twice) would show at ~1e-4.
LR, STEPS = 1e-4, 4
ATOL = 1e-6


@dataclass
class DDPRun:
    ranks: list[dict[str, Any]]  # per rank: {"model": state_dict, "log": step log}
    single: Trainer  # one process, same global batch
    base: dict[str, Any]
    out: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ddp_run(
    tmp_path_factory: pytest.TempPathFactory,
    make_pairs: Callable[..., Path],
    narrow_config: PoMAIConfig,
) -> DDPRun:
    tmp = tmp_path_factory.mktemp("ddp")
    data = make_pairs(tmp / "data", [f"p{i}" for i in range(8)])
    config = tmp / "width8.json"
    config.write_text(narrow_config.to_json())
    base = {
        "data": str(data), "config": str(config), "epochs_stage1": 1, "epochs_stage2": 1,
        "batch": 4, "crop": 32, "lr": LR, "seed": 0, "progress": False, "checkpoint_every": 1000,
    }  # 8 pairs / global batch 4 = 2 steps per epoch, 2 in stage 1 and 2 in stage 2

    root = Path(__file__).resolve().parents[1]
    port = free_port()
    procs = []
    for rank in range(2):
        env = {
            **os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
            "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
            "LOCAL_WORLD_SIZE": "2", "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1",
        }
        settings = json.dumps({**base, "out": str(tmp / "ddp")})
        procs.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, settings, str(tmp / f"rank{rank}.pt"), str(rank)],
            env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
    for proc in procs:
        try:
            output, _ = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        assert proc.returncode == 0, output

    patch = pytest.MonkeyPatch()
    patch.setattr(trainer_module, "plot_loss_curve", lambda *args: None)
    try:
        single = Trainer(TrainSettings(**{**base, "out": str(tmp / "single")}))
        single.run()
    finally:
        patch.undo()
    ranks = [torch.load(tmp / f"rank{r}.pt", weights_only=True) for r in range(2)]
    return DDPRun(ranks, single, base, tmp / "ddp")


def test_two_gloo_processes_match_one_process(ddp_run: DDPRun, tmp_path: Path) -> None:
    ranks, single = ddp_run.ranks, ddp_run.single
    assert single.world == 1 and single.state.global_step == STEPS
    assert len(ranks[0]["log"]) == len(ranks[1]["log"]) == STEPS
    # Both ranks hold bit-identical weights (the same all-reduced gradients).
    for key, value in ranks[0]["model"].items():
        assert torch.equal(value, ranks[1]["model"][key]), key
    # And they match one process on the whole global batch.
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(ranks[0]["model"][key], value, atol=ATOL, rtol=0, msg=key)
    # The weights really moved, by far more than the tolerance.
    initial = Trainer(TrainSettings(**{**ddp_run.base, "out": str(tmp_path)})).model.state_dict()
    moved = max(float((v - initial[k]).abs().max()) for k, v in single.model.state_dict().items())
    assert moved > 100 * ATOL, moved
    # Rank 0 exported the run; no temporary file was left behind.
    assert (ddp_run.out / "model.safetensors").is_file()
    assert sorted(p.name for p in ddp_run.out.iterdir() if p.name.endswith(".tmp")) == []


def test_logged_loss_is_the_global_batch_loss(ddp_run: DDPRun) -> None:
    """Both ranks log the global batch's loss (the mean of their shards' losses), which is the
    one-process loss; the weights test above shows the shards together are the global batch."""
    rank0, rank1 = (torch.tensor([row[4] for row in r["log"]]) for r in ddp_run.ranks)
    single = torch.tensor([row[4] for row in ddp_run.single.state.step_log])
    torch.testing.assert_close(rank0, rank1, atol=0, rtol=0)
    torch.testing.assert_close(rank0, single, atol=1e-4, rtol=1e-5)
