"""The paper's two-stage training (§3.7, §4.1), resumable, seeded and DDP-ready.

A run is a list of phases. The paper's procedure is stage 1 (encoder, NGMM, CAMN and decoder
trained, decoder reading ``Cat(x_ngmm, x_camn)``) then stage 2 (all of those frozen and run
under ``no_grad``; only MICM trained). Each phase has a fresh Adam and a StepLR schedule. The
ablations of the paper's Table 2 are other phase lists (:func:`plan_phases`).

Everything a run needs to continue exactly (model, optimiser, scheduler, position, random
state, history) is in one checkpoint file, written atomically (:mod:`pomai.training.checkpoint`).
With a teacher (:mod:`pomai.training.distillation`) the loss gains a distillation term.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import nn

from pomai.checkpoint import export_weights, load_model
from pomai.distributed import join
from pomai.errors import UsageError
from pomai.nn.pomai import PoMAI
from pomai.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from pomai.training.data import Augment, PairedImages, epoch_order, find_pairs
from pomai.training.distillation import Teacher, distillation_loss
from pomai.training.loss import FusionLoss
from pomai.training.outputs import plot_loss_curve, write_history
from pomai.training.settings import ABLATIONS, TrainSettings

# The modules trained in stage 1 and frozen in stage 2 (E, NGMM, CAMN, D), by attribute name.
STAGE_ONE = ("encoder", "ngmm", "camn", "decoder")
ALL_MODULES = (*STAGE_ONE, "micm")
LOSS_COLUMNS = ("total", "ssim", "mse", "intensity", "gradient")
DISTILL_COLUMN = "distill"


@dataclass(frozen=True)
class Phase:
    """One optimisation phase: which modules train, which forward path, for how many epochs."""

    name: str
    forward_stage: Literal[1, 2]
    trained: tuple[str, ...]
    epochs: int

    @property
    def frozen_features(self) -> bool:
        """Encoder, NGMM and CAMN are frozen: compute them under no_grad."""
        return not {"encoder", "ngmm", "camn"} & set(self.trained)


def plan_phases(settings: TrainSettings) -> list[Phase]:
    """The phases of a run, for the requested stage(s) and ablation (paper Table 2)."""
    s1 = Phase("stage1", 1, STAGE_ONE, settings.epochs_stage1)
    s2 = Phase("stage2", 2, ("micm",), settings.epochs_stage2)
    if settings.ablation not in ABLATIONS:
        raise UsageError(f"unknown ablation {settings.ablation!r}; choose one of {ABLATIONS}")
    if settings.ablation == "no_micm":
        if settings.stage == "2":
            raise UsageError("ablation 'no_micm' trains stage 1 only; use --stage 1 or both")
        return [s1]
    if settings.ablation == "joint":
        total = settings.epochs_stage1 + settings.epochs_stage2
        return [Phase("joint", 2, ALL_MODULES, total)]
    if settings.ablation == "no_freeze":
        s2 = dataclasses.replace(s2, trained=ALL_MODULES)
    if settings.stage == "1":
        return [s1]
    if settings.stage == "2":
        if settings.init is None:
            raise UsageError(
                "--stage 2 needs stage-1 weights: pass --init STAGE1.safetensors, or run "
                "--stage both (or --stage 1, then --resume with --stage both)"
            )
        return [s2]
    return [s1, s2]


class PhaseStep(nn.Module):
    """The forward pass of one phase: ``(ir, vis) -> fused``, frozen features under no_grad.

    Shapes: two (B, 1, H, W) tensors -> (B, 1, H, W).
    """

    def __init__(self, model: PoMAI, phase: Phase) -> None:
        super().__init__()
        self.model = model
        self.phase = phase

    def forward(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        if self.phase.frozen_features:
            with torch.no_grad():
                features = self.model.encode(ir, vis)
        else:
            features = self.model.encode(ir, vis)
        return self.model.decode(features, vis, self.phase.forward_stage)


def configure_phase(model: PoMAI, phase: Phase) -> list[nn.Parameter]:
    """Freeze everything outside ``phase.trained`` (eval mode, no grad); return trained params."""
    trainable = []
    for name in ALL_MODULES:
        module = getattr(model, name)
        train = name in phase.trained
        module.train(train)
        for p in module.parameters():
            p.requires_grad_(train)
            if train:
                trainable.append(p)
    return trainable


def epochs_change_problem(
    saved: list[Phase], wanted: list[Phase], phase: int, epoch: int
) -> str | None:
    """Why a run planned as ``saved`` and standing at (``phase``, ``epoch``) cannot go on as
    ``wanted`` (the same phases, other epochs); None when it can.

    Only the length of the current phase or of later ones may change, and not below the epochs
    already run. A longer phase continues exactly as a run planned that long from the start:
    StepLR decays every ``lr_step_epochs`` whatever the total, and the crops of an epoch depend
    on (epoch, seed) only. So a finished run can be extended (``--resume --epochs-stage2 20``).
    """
    for index, (before, after) in enumerate(zip(saved, wanted, strict=True)):
        if before.epochs == after.epochs:
            continue
        if index < phase:
            return f"phase {before.name} has ended ({before.epochs} epochs)"
        if index == phase and after.epochs < epoch:
            return f"phase {before.name} has already run {epoch} epochs"
    return None


@dataclass
class RunState:
    """Where a run stands: the next (phase, epoch, step) to execute, and its history."""

    phase: int = 0
    epoch: int = 0
    step: int = 0
    global_step: int = 0
    wall_time: float = 0.0
    step_log: list[list[float]] = dataclasses.field(default_factory=list)
    epoch_log: list[dict[str, Any]] = dataclasses.field(default_factory=list)


class Trainer:
    """Runs :class:`TrainSettings` to completion (or to ``max_steps``), checkpointing as it goes.

    Under ``torchrun`` each process trains on its shard of every global batch and
    DistributedDataParallel averages the gradients, which equals one process on the whole batch.
    """

    def __init__(self, settings: TrainSettings, resume: bool = False) -> None:
        self.settings = settings
        self.out = Path(settings.out)
        self.world, self.rank, device = _init_distributed(settings.device)
        if settings.batch % self.world:
            raise UsageError(f"batch {settings.batch} must divide by the {self.world} processes")
        if settings.threads:
            torch.set_num_threads(settings.threads)
        self.device = device
        self.phases = plan_phases(settings)
        torch.manual_seed(settings.seed)
        self.model = PoMAI(settings.model_config()).to(self.device)
        if self.device.type == "cpu":
            self.model.to(memory_format=torch.channels_last)  # faster oneDNN kernels
        self.loss = FusionLoss().to(self.device)
        augment = Augment(settings.crop, settings.flips, settings.zoom_prob, settings.zoom_max)
        names = None
        if settings.pairs_file:
            if not Path(settings.pairs_file).is_file():
                raise UsageError(f"pair list {settings.pairs_file} does not exist: pass a text "
                                 "file of pair stems, one per line (--pairs-file)")
            names = Path(settings.pairs_file).read_text().split()
        self.data = PairedImages(find_pairs(settings.data, names=names), augment)
        if len(self.data) < settings.batch:
            raise UsageError(
                f"{settings.data} has {len(self.data)} pairs, fewer than one batch of "
                f"{settings.batch}: lower --batch"
            )
        self.teacher = None
        self.loss_columns = LOSS_COLUMNS
        if settings.teacher:
            self.teacher = Teacher(settings.teacher, self.device, self.data.fixed_samples)
            self.loss_columns = (*LOSS_COLUMNS, DISTILL_COLUMN)
        self.val_data = None
        if settings.val:
            pairs = find_pairs(settings.val)[: settings.val_pairs]
            self.val_data = PairedImages(pairs, Augment(crop=10**9))
        self.state = RunState()
        self._checkpoint: dict[str, Any] | None = None
        if resume:
            self._load_checkpoint()
        elif settings.init:
            self._load_init(settings.init)

    # -- checkpoints -------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.out / CHECKPOINT_NAME

    def _load_init(self, name_or_path: str) -> None:
        """Start from released or exported weights (loaded and checked as for inference).

        With ``init_partial`` the network takes the weights it has (same name and shape) from a
        larger one, e.g. the first Restormer blocks of a deeper encoder, and ignores the rest.
        """
        from pomai.hub import resolve

        source, _ = load_model(resolve(name_or_path))
        state = source.state_dict()
        if self.settings.init_partial:
            own = self.model.state_dict()
            absent = [k for k, v in own.items() if k not in state or state[k].shape != v.shape]
            if absent:
                raise UsageError(
                    f"--init-partial: {name_or_path} lacks {len(absent)} weights of this network "
                    f"(or has them in another shape), e.g. {absent[:3]}: initialise from a "
                    "network of the same width and modules"
                )
            state = {k: state[k] for k in own}
        self.model.load_state_dict(state, strict=True)

    def _load_checkpoint(self) -> None:
        path = self.checkpoint_path
        if not path.is_file():
            raise UsageError(f"--resume: no checkpoint at {path}; start without --resume")
        model, optimizer, rng, record = load_checkpoint(path, self.device)
        saved = record["settings"]
        current = self.settings.to_dict()
        default = TrainSettings(data="", out="").to_dict()
        changed = [
            k
            for k in current
            if k not in TrainSettings.RESUMABLE_CHANGES and saved.get(k, default[k]) != current[k]
        ]
        fixed = [k for k in changed if k not in TrainSettings.EPOCH_FIELDS]
        if fixed:
            diffs = ", ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in fixed)
            raise UsageError(f"--resume with different settings than {path} was made with: {diffs}")
        state = RunState(**record["state"])
        if changed:
            problem = epochs_change_problem(
                plan_phases(TrainSettings(**saved)), self.phases, state.phase, state.epoch
            )
            if problem:
                raise UsageError(f"--resume cannot change the epochs of {path}: {problem}")
        self.model.load_state_dict(model, strict=True)
        self.state = state
        torch.set_rng_state(rng)
        self._checkpoint = {"optimizer": optimizer, "scheduler": record["scheduler"]}

    def _save_checkpoint(self, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
        if self.rank != 0:
            return
        save_checkpoint(
            self.checkpoint_path,
            model=self.model.state_dict(),
            optimizer=optimizer.state_dict(),
            rng=torch.get_rng_state(),
            record={
                "settings": self.settings.to_dict(),
                "model_config": self.model.config.to_dict(),
                "scheduler": scheduler.state_dict(),
                "state": dataclasses.asdict(self.state),
            },
        )
        write_history(self.out, self.loss_columns, self.state.step_log, self.state.epoch_log)

    # -- the loop ----------------------------------------------------------------------------

    def run(self, on_step: Callable[[int, float], None] | None = None) -> Path | None:
        """Train until done or ``max_steps``; returns the exported weights when the run is done."""
        s = self.settings
        started = time.perf_counter()
        wall_before = self.state.wall_time
        for phase_index in range(self.state.phase, len(self.phases)):
            phase = self.phases[phase_index]
            trainable = configure_phase(self.model, phase)
            optimizer = torch.optim.Adam(trainable, lr=s.lr)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, s.lr_step_epochs, s.lr_gamma)
            if self._checkpoint is not None and self.state.phase == phase_index:
                optimizer.load_state_dict(self._checkpoint["optimizer"])
                scheduler.load_state_dict(self._checkpoint["scheduler"])
            self._checkpoint = None
            self.state.phase = phase_index
            step_fn: nn.Module = PhaseStep(self.model, phase)
            if self.world > 1:
                step_fn = nn.parallel.DistributedDataParallel(step_fn)
            steps_per_epoch = len(self.data) // s.batch
            progress = _progress(
                total=phase.epochs * steps_per_epoch,
                initial=self.state.epoch * steps_per_epoch + self.state.step,
                desc=phase.name,
                enabled=s.progress and self.rank == 0,
            )
            while self.state.epoch < phase.epochs:
                order = epoch_order(len(self.data), phase_index * 10_000 + self.state.epoch, s.seed)
                while self.state.step < steps_per_epoch:
                    if s.max_steps is not None and self.state.global_step >= s.max_steps:
                        self.state.wall_time = wall_before + time.perf_counter() - started
                        self._save_checkpoint(optimizer, scheduler)
                        progress.close()
                        return None
                    start = self.state.step * s.batch
                    indices = order[start : start + s.batch][self.rank :: self.world].tolist()
                    # Phase 0 keeps plain epoch numbers, so older runs resume unchanged.
                    sample_epoch = phase_index * 10_000 + self.state.epoch
                    batch = self.data.batch(indices, sample_epoch, s.seed).to(self.device)
                    terms = self._train_step(step_fn, optimizer, trainable, batch, indices)
                    self.state.step_log.append(
                        [self.state.global_step, phase_index, self.state.epoch,
                         optimizer.param_groups[0]["lr"], *terms]
                    )
                    self.state.step += 1
                    self.state.global_step += 1
                    progress.update(1)
                    progress.set_postfix(loss=f"{terms[0]:.4f}", refresh=False)
                    if on_step is not None:
                        on_step(self.state.global_step, terms[0])
                    if self.state.global_step % s.checkpoint_every == 0:
                        self.state.wall_time = wall_before + time.perf_counter() - started
                        self._save_checkpoint(optimizer, scheduler)
                scheduler.step()
                self._end_epoch(phase_index, phase)
                self.state.wall_time = wall_before + time.perf_counter() - started
                self._save_checkpoint(optimizer, scheduler)
            progress.close()
            self.state.epoch = 0
            self.state.phase = phase_index + 1
        self.state.wall_time = wall_before + time.perf_counter() - started
        if self.rank != 0:
            return None
        plot_loss_curve(self.out, self.loss_columns, self.state.step_log)
        settings = self.settings.run_record()
        return export_weights(
            self.model,
            self.out,
            inference_stage=self.phases[-1].forward_stage,
            training={
                "data": settings["data"],
                "pairs": len(self.data),
                "steps": self.state.global_step,
                "wall_time_s": round(self.state.wall_time, 1),
                "settings": settings,
            },
        )

    def _train_step(
        self,
        step_fn: nn.Module,
        optimizer: torch.optim.Optimizer,
        trainable: list[nn.Parameter],
        batch: torch.Tensor,
        samples: list[int],
    ) -> list[float]:
        """One optimiser step on ``batch`` (B, 2, H, W), the dataset's ``samples``; returns the
        logged loss terms (:attr:`loss_columns`)."""
        ir, vis = batch[:, :1], batch[:, 1:]
        fused = step_fn(ir, vis)
        terms = self.loss(fused, ir, vis)
        logged = [getattr(terms, name) for name in LOSS_COLUMNS]
        total = terms.total
        if self.teacher is not None:
            distill = distillation_loss(fused, self.teacher(ir, vis, samples))
            total = total + self.settings.distill_weight * distill
            logged = [total, *logged[1:], distill]
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.settings.clip_grad:
            torch.nn.utils.clip_grad_norm_(trainable, self.settings.clip_grad)
        optimizer.step()
        values = torch.stack([value.detach() for value in logged])
        if self.world > 1:
            # Log the global batch's loss, not this rank's shard of it.
            dist.all_reduce(values)
            values /= self.world
        return values.tolist()

    def _end_epoch(self, phase_index: int, phase: Phase) -> None:
        record: dict[str, Any] = {
            "phase": phase_index,
            "name": phase.name,
            "epoch": self.state.epoch,
            "global_step": self.state.global_step,
        }
        if self.val_data is not None and self.rank == 0:
            record.update(self._validate(phase.forward_stage))
        self.state.epoch_log.append(record)
        self.state.epoch += 1
        self.state.step = 0

    @torch.no_grad()
    def _validate(self, stage: int) -> dict[str, float]:
        """Mean loss terms and fusion metrics over the validation pairs (whole images)."""
        from pomai.metrics import compute_all

        was_training = {name: getattr(self.model, name).training for name in ALL_MODULES}
        self.model.eval()
        sums: dict[str, float] = {}
        for i in range(len(self.val_data)):
            pair = self.val_data.images[i][None].to(self.device)
            ir, vis = pair[:, :1], pair[:, 1:]
            fused = self.model(ir, vis, stage=stage)
            terms = self.loss(fused, ir, vis)
            values = {f"val_{n}": float(getattr(terms, n)) for n in LOSS_COLUMNS}
            values.update(compute_all(*(_to_uint8(t) for t in (fused, ir, vis))))
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
        for name, training in was_training.items():
            getattr(self.model, name).train(training)
        return {k: v / len(self.val_data) for k, v in sums.items()}


def _to_uint8(image: torch.Tensor) -> Any:
    """(1, 1, H, W) in [0, 1] -> (H, W) uint8 numpy, rounded."""
    return (image[0, 0].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def _init_distributed(device: str) -> tuple[int, int, torch.device]:
    """(world size, rank, this process's device); starts the process group under torchrun
    (:func:`pomai.distributed.join`)."""
    processes = join(device)
    return processes.world, processes.rank, processes.device


def _progress(total: int, initial: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled, dynamic_ncols=True)

