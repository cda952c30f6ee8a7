"""pomai.distributed, and ``pomai fuse`` over folders under torchrun: two gloo processes on the
CPU write, between them, byte for byte what one process writes; a rerun with --skip-existing
fuses only what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from pomai.cli import main
from pomai.distributed import Processes, join

ROOT = Path(__file__).resolve().parents[1]
STEMS = [f"p{i}" for i in range(5)]  # odd: the two shares differ in size (3 and 2)


@pytest.mark.parametrize("world", [1, 2, 3, 7])
def test_the_shares_are_disjoint_and_cover_every_item_once(world: int) -> None:
    items = list(range(10))
    shares = [Processes(world, rank, torch.device("cpu")).share(items) for rank in range(world)]
    assert sorted(sum(shares, [])) == items
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_outside_torchrun_one_process_and_no_group(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch.distributed as dist

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    processes = join("cpu")
    assert (processes.world, processes.rank, processes.device.type) == (1, 0, "cpu")
    assert processes.sum([3, 4]) == [3, 4]
    assert not dist.is_initialized()


def _torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", "-m", "pomai", "fuse", *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_two_processes_under_torchrun_write_what_one_writes(
    tmp_path: Path, make_pairs: Callable[..., Path]
) -> None:
    data = make_pairs(tmp_path / "data", STEMS, (48, 40))
    options = ["--device", "cpu", "--threads", "1", "--no-progress"]
    ir, vis = str(data / "ir"), str(data / "vi")
    assert main(["fuse", ir, vis, "-o", str(tmp_path / "one"), *options]) == 0

    run = _torchrun(ir, vis, "-o", str(tmp_path / "two"), *options)
    assert run.returncode == 0, run.stdout + run.stderr
    summaries = [line for line in run.stdout.splitlines() if line.startswith("wrote")]
    assert summaries == [f"wrote 5 fused images to {tmp_path / 'two'} (2 processes)"]
    one, two = (sorted(p.name for p in (tmp_path / d).iterdir()) for d in ("one", "two"))
    assert one == two == [f"{s}.png" for s in STEMS]
    for name in one:
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()

    # A rerun after an interruption: only the missing output is fused, the others stay.
    (tmp_path / "two" / "p3.png").unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "two").iterdir()}
    run = _torchrun(ir, vis, "-o", str(tmp_path / "two"), "--skip-existing", *options)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"wrote 1 fused image to {tmp_path / 'two'}; 4 already there (2 processes)" in (
        run.stdout)
    assert (tmp_path / "two" / "p3.png").read_bytes() == (tmp_path / "one" / "p3.png").read_bytes()
    assert {n: (tmp_path / "two" / n).stat().st_mtime_ns for n in kept} == kept
