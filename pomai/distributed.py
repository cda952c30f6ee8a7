"""Processes started by ``torchrun``: each one's rank, device and share of the work.

Under torchrun (``WORLD_SIZE`` > 1 in the environment, on one node or several) :func:`join`
starts the process group from torchrun's environment (``MASTER_ADDR``, ``MASTER_PORT``,
``RANK``): NCCL when the processes run on CUDA, gloo on the CPU. Each process on CUDA takes the
GPU of its ``LOCAL_RANK``. Outside torchrun nothing is started: one process, rank 0.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from pomai.devices import pick_device

T = TypeVar("T")


@dataclass(frozen=True)
class Processes:
    """This process's place among ``world`` processes, and the device it runs on."""

    world: int
    rank: int
    device: torch.device

    def share(self, items: Sequence[T]) -> list[T]:
        """This process's part of ``items``: every ``world``-th one from index ``rank``.

        Every process must pass the same sequence in the same order; the parts are disjoint
        and together hold every item once.
        """
        return list(items[self.rank :: self.world])

    def sum(self, counts: Sequence[int]) -> list[int]:
        """``counts`` added up over all processes (every process must call it)."""
        if self.world == 1:
            return list(counts)
        totals = torch.tensor(counts, dtype=torch.int64, device=self.device)
        dist.all_reduce(totals)
        return totals.tolist()


def join(device: str | torch.device = "auto") -> Processes:
    """This process under torchrun's environment, its process group started; see the module.

    ``device``: as for :func:`pomai.devices.pick_device`; with several processes ``"auto"``
    and ``"cuda"`` mean ``cuda:LOCAL_RANK`` (``"auto"``: when CUDA is available).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Processes(1, 0, pick_device(device))
    if str(device) == "cuda" or (str(device) == "auto" and torch.cuda.is_available()):
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    chosen = pick_device(device)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return Processes(dist.get_world_size(), dist.get_rank(), chosen)


def leave() -> None:
    """End this process's part of the process group, if one was started."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
