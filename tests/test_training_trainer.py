"""The trainer (pomai.training.trainer): learning, seeding, exact resume across the stage
boundary, freezing, ablations, atomic checkpoints and export."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import pomai.training.trainer as trainer_module
from pomai.checkpoint import sha256_of
from pomai.config import PoMAIConfig
from pomai.errors import UsageError
from pomai.nn import PoMAI
from pomai.training.checkpoint import load_checkpoint
from pomai.training.trainer import (
    ABLATIONS,
    CHECKPOINT_NAME,
    STAGE_ONE,
    Trainer,
    TrainSettings,
    configure_phase,
    plan_phases,
)

STAGE_ONE_PREFIXES = tuple(f"{name}." for name in STAGE_ONE)


@pytest.fixture(autouse=True)
def skip_loss_plot(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawing the loss curve costs about a second per finished run: skip it, except in tests
    that ask for ``real_plot``."""
    if "real_plot" not in request.fixturenames:
        monkeypatch.setattr(trainer_module, "plot_loss_curve", lambda *args: None)


@pytest.fixture
def real_plot() -> None:
    """Marker fixture: keep the real loss-curve plot."""


def make_settings(data: Path, out: Path, config: Path, **changes: Any) -> TrainSettings:
    """4 pairs, batch 2 (2 steps per epoch), 32×32 crops; 2 + 1 epochs = 6 steps."""
    base: dict[str, Any] = {
        "data": str(data), "out": str(out), "config": str(config), "epochs_stage1": 2,
        "epochs_stage2": 1, "batch": 2, "crop": 32, "lr": 1e-3, "seed": 0,
        "checkpoint_every": 1000, "progress": False,
    }
    return TrainSettings(**{**base, **changes})


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def checkpoint_weights(out: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(out / CHECKPOINT_NAME, torch.device("cpu"))[0]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# -- learning and seeding --------------------------------------------------------------------


def test_loss_decreases_on_a_repeated_batch(
    tmp_path: Path, make_pairs: Callable[..., Path], narrow_config_path: Path
) -> None:
    """Eight copies of one 32×32 pair with crop 32: every batch is the same two images."""
    data = tmp_path / "data"
    for i in range(8):
        make_pairs(data, [f"s{i}"], seed=0)
    settings = make_settings(data, tmp_path / "out", narrow_config_path, stage="1",
                             epochs_stage1=3, lr=3e-3)  # 4 steps per epoch, 12 steps
    trainer = Trainer(settings)
    trainer.run()
    totals = [row[4] for row in trainer.state.step_log]
    assert len(totals) == 12
    first, last = sum(totals[:3]) / 3, sum(totals[-3:]) / 3
    assert last < 0.85 * first, totals


def test_same_seed_gives_identical_losses_and_weights(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path
) -> None:
    runs = []
    for name, seed, max_steps in (("a", 0, None), ("b", 0, None), ("c", 1, 1)):
        settings = make_settings(pair_folder, tmp_path / name, narrow_config_path, seed=seed,
                                 epochs_stage1=1, epochs_stage2=1, max_steps=max_steps)
        trainer = Trainer(settings)
        trainer.run()
        runs.append((trainer.state.step_log, weights(trainer)))
    (log_a, w_a), (log_b, w_b), (log_c, _) = runs
    assert len(log_a) == 4
    assert log_a == log_b  # every loss term, learning rate and counter
    assert_same_weights(w_a, w_b)
    assert log_a[0][4] != log_c[0][4]  # the seed matters


# -- resume ----------------------------------------------------------------------------------


def test_interrupted_and_resumed_run_is_bit_identical(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path
) -> None:
    """Stops mid-epoch (3), at the stage boundary (4) and mid stage 2 (5), resuming each time;
    ends with the weights and losses of an uninterrupted run. Stage 2 leaves the stage-1
    weights (checkpoint at the boundary) bit-identical."""
    straight = Trainer(make_settings(pair_folder, tmp_path / "straight", narrow_config_path))
    assert straight.run() is not None
    assert straight.state.global_step == 6

    out = tmp_path / "pieces"
    stopped = Trainer(make_settings(pair_folder, out, narrow_config_path, max_steps=3))
    assert stopped.run() is None
    assert (stopped.state.phase, stopped.state.epoch, stopped.state.step) == (0, 1, 1)
    at_boundary = None
    for max_steps in (4, 5, None):
        resumed = Trainer(
            make_settings(pair_folder, out, narrow_config_path, max_steps=max_steps),
            resume=True,
        )
        result = resumed.run()
        assert (result is None) == (max_steps is not None)
        if max_steps == 4:
            assert resumed.state.global_step == 4 and resumed.state.phase == 1
            at_boundary = checkpoint_weights(out)

    assert resumed.state.step_log == straight.state.step_log
    final = weights(resumed)
    assert_same_weights(final, weights(straight))
    assert_same_weights(checkpoint_weights(out), final)

    # Stage 2 froze everything but MICM: stage-1 weights and buffers equal at the boundary.
    assert at_boundary is not None
    for key, value in final.items():
        if key.startswith(STAGE_ONE_PREFIXES):
            assert torch.equal(value, at_boundary[key]), f"{key} changed in stage 2"
        else:
            assert key.startswith("micm.")
            assert not torch.equal(value, at_boundary[key]), f"{key} was not trained"


def test_resume_errors(tmp_path: Path, pair_folder: Path, narrow_config_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(UsageError, match="no checkpoint at .*start without --resume"):
        Trainer(make_settings(pair_folder, out, narrow_config_path), resume=True)
    Trainer(make_settings(pair_folder, out, narrow_config_path, max_steps=1)).run()
    changed = make_settings(pair_folder, out, narrow_config_path, lr=2e-3, batch=4)
    with pytest.raises(ValueError, match="--resume with different settings") as info:
        Trainer(changed, resume=True)
    assert "lr: 0.001 -> 0.002" in str(info.value) and "batch: 2 -> 4" in str(info.value)
    # Fields that do not change the result may change.
    ok = make_settings(pair_folder, out, narrow_config_path, max_steps=2, checkpoint_every=7)
    assert Trainer(ok, resume=True).state.global_step == 1


def test_finished_run_extended_equals_a_run_planned_that_long(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path
) -> None:
    """2 + 1 epochs, then resumed with 3 stage-2 epochs: the losses, learning rates and weights
    of a 2 + 3 run from the start (StepLR every epoch makes the schedule part of the check)."""
    longer = {"epochs_stage2": 3, "lr_step_epochs": 1}
    straight = Trainer(make_settings(pair_folder, tmp_path / "straight", narrow_config_path,
                                     **longer))
    straight.run()
    out = tmp_path / "extended"
    Trainer(make_settings(pair_folder, out, narrow_config_path, lr_step_epochs=1)).run()
    extended = Trainer(make_settings(pair_folder, out, narrow_config_path, **longer), resume=True)
    assert extended.run() is not None
    assert extended.state.global_step == 10
    assert extended.state.step_log == straight.state.step_log
    assert_same_weights(weights(extended), weights(straight))


def test_epochs_may_not_change_for_an_ended_phase(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path
) -> None:
    out = tmp_path / "run"
    Trainer(make_settings(pair_folder, out, narrow_config_path, max_steps=5)).run()  # in stage 2
    with pytest.raises(ValueError, match="cannot change the epochs .*stage1 has ended"):
        Trainer(make_settings(pair_folder, out, narrow_config_path, epochs_stage1=3), resume=True)
    Trainer(make_settings(pair_folder, out, narrow_config_path, max_steps=6), resume=True).run()
    with pytest.raises(ValueError, match="stage2 has already run 1 epochs"):
        Trainer(make_settings(pair_folder, out, narrow_config_path, epochs_stage2=0), resume=True)


# -- stage 2, ablations ----------------------------------------------------------------------


def test_stage_two_from_init_weights(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path
) -> None:
    first = Trainer(make_settings(pair_folder, tmp_path / "s1", narrow_config_path, stage="1",
                                  epochs_stage1=1))
    exported = first.run()
    assert exported is not None
    with pytest.raises(ValueError, match="--stage 2 needs stage-1 weights"):
        Trainer(make_settings(pair_folder, tmp_path / "s2", narrow_config_path, stage="2"))
    second = Trainer(make_settings(pair_folder, tmp_path / "s2", narrow_config_path, stage="2",
                                   init=str(exported)))
    init = load_file(str(exported))
    assert_same_weights(weights(second), init)
    second.run()
    for key, value in weights(second).items():
        assert torch.equal(value, init[key]) != key.startswith("micm."), key
    meta = safe_open(str(tmp_path / "s2" / "model.safetensors"), "pt").metadata()
    assert meta["inference_stage"] == "2"


def _expected_phases(ablation: str) -> list[tuple[str, int, set[str], int]]:
    stage_one = {"encoder", "ngmm", "camn", "decoder"}
    everything = stage_one | {"micm"}
    return {
        "none": [("stage1", 1, stage_one, 2), ("stage2", 2, {"micm"}, 1)],
        "no_ngmm": [("stage1", 1, stage_one, 2), ("stage2", 2, {"micm"}, 1)],
        "no_camn": [("stage1", 1, stage_one, 2), ("stage2", 2, {"micm"}, 1)],
        "no_micm": [("stage1", 1, stage_one, 2)],
        "joint": [("joint", 2, everything, 3)],
        "no_freeze": [("stage1", 1, stage_one, 2), ("stage2", 2, everything, 1)],
    }[ablation]


@pytest.mark.parametrize("ablation", ABLATIONS)
def test_ablation_plans_and_runs_a_step(
    tmp_path: Path, make_pairs: Callable[..., Path], narrow_config_path: Path, ablation: str
) -> None:
    data = make_pairs(tmp_path / "data", ["a", "b"])  # one step per epoch
    settings = make_settings(data, tmp_path / "out", narrow_config_path, ablation=ablation,
                             max_steps=1)
    phases = plan_phases(settings)
    got = [(p.name, p.forward_stage, set(p.trained), p.epochs) for p in phases]
    assert got == _expected_phases(ablation)

    trainer = Trainer(settings)
    config = trainer.model.config
    assert config.use_ngmm == (ablation != "no_ngmm")
    assert config.use_camn == (ablation != "no_camn")
    before = weights(trainer)
    trainer.run()
    assert len(trainer.state.step_log) == 1
    moved = {k.split(".")[0] for k, v in weights(trainer).items() if not torch.equal(v, before[k])}
    trained = set(phases[0].trained)
    if ablation in ("no_ngmm", "no_camn"):
        trained -= {ablation[3:]}  # replaced by the identity: no parameters
    assert moved == trained

    # Later phases: which modules train, which are frozen (eval mode, no gradients).
    for phase in phases[1:]:
        model = PoMAI(config)
        params = configure_phase(model, phase)
        expected = [p for name in phase.trained for p in getattr(model, name).parameters()]
        assert {id(p) for p in params} == {id(p) for p in expected}
        for name in ("encoder", "ngmm", "camn", "decoder", "micm"):
            assert getattr(model, name).training == (name in phase.trained)
    assert phases[-1].frozen_features == (ablation not in ("joint", "no_freeze", "no_micm"))


def test_no_freeze_moves_stage_one_weights_in_stage_two(
    tmp_path: Path, make_pairs: Callable[..., Path], narrow_config_path: Path
) -> None:
    data = make_pairs(tmp_path / "data", ["a", "b"])
    settings = make_settings(data, tmp_path / "out", narrow_config_path, ablation="no_freeze",
                             epochs_stage1=1, epochs_stage2=1, max_steps=1)
    Trainer(settings).run()
    boundary = checkpoint_weights(tmp_path / "out")
    trainer = Trainer(dataclasses.replace(settings, max_steps=None), resume=True)
    trainer.run()
    changed = {k.split(".")[0] for k, v in weights(trainer).items()
               if not torch.equal(v, boundary[k])}
    assert changed == {"encoder", "ngmm", "camn", "decoder", "micm"}


def test_invalid_plans() -> None:
    with pytest.raises(ValueError, match="'no_micm' trains stage 1 only"):
        plan_phases(TrainSettings(data="", out="", ablation="no_micm", stage="2"))
    with pytest.raises(ValueError, match="unknown ablation"):
        plan_phases(TrainSettings(data="", out="", ablation="w/o everything"))  # type: ignore[arg-type]


# -- data errors -----------------------------------------------------------------------------


def test_bad_data_folder_gives_clear_error(
    tmp_path: Path, make_pairs: Callable[..., Path], narrow_config_path: Path
) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        Trainer(make_settings(tmp_path / "missing", tmp_path / "out", narrow_config_path))
    root = make_pairs(tmp_path / "d", ["a", "b", "c"])
    (root / "vi" / "c.png").unlink()
    with pytest.raises(ValueError, match=r"no partner.*c\.png"):
        Trainer(make_settings(root, tmp_path / "out", narrow_config_path))
    with pytest.raises(ValueError, match="fewer than one batch of 4: lower --batch"):
        Trainer(make_settings(make_pairs(tmp_path / "e", ["a"]), tmp_path / "out",
                              narrow_config_path, batch=4))
    assert not (tmp_path / "out").exists()


def test_named_config_and_json_config(tmp_path: Path, narrow_config_path: Path) -> None:
    named = TrainSettings(data="", out="", config="small").model_config()
    assert named.width == 32
    from_file = TrainSettings(data="", out="", config=str(narrow_config_path)).model_config()
    assert from_file == PoMAIConfig.from_json(narrow_config_path.read_text())
    with pytest.raises(ValueError, match="unknown config"):
        TrainSettings(data="", out="", config=str(tmp_path / "absent.json")).model_config()


# -- checkpoints and outputs -----------------------------------------------------------------


def test_checkpoint_write_is_atomic(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that dies half-way through writing leaves the previous checkpoint intact and
    no temporary file behind."""
    out = tmp_path / "run"
    Trainer(make_settings(pair_folder, out, narrow_config_path, max_steps=1)).run()
    path = out / CHECKPOINT_NAME
    good = path.read_bytes()

    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, f: Any) -> None:
            self.f = f

        def __enter__(self) -> HalfWriter:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

        def write(self, data: bytes) -> int:
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            raise OSError("disk full (simulated)")

    resumed = Trainer(make_settings(pair_folder, out, narrow_config_path, max_steps=2),
                      resume=True)
    # Patched on the os module itself, so it holds wherever the atomic writer lives (after the
    # images are read: the image reader opens files through os.fdopen too).
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="disk full"):
        resumed.run()
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert sorted(p.name for p in out.iterdir() if p.name.endswith(".tmp")) == []
    # The intact checkpoint still resumes.
    assert Trainer(make_settings(pair_folder, out, narrow_config_path, max_steps=2),
                   resume=True).state.global_step == 1


def test_export_and_outputs(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path, real_plot: None
) -> None:
    out = tmp_path / "run"
    trainer = Trainer(make_settings(pair_folder, out, narrow_config_path, epochs_stage1=1,
                                    epochs_stage2=1, val=str(pair_folder), val_pairs=2))
    path = trainer.run()
    assert path == out / "model.safetensors"
    entry = json.loads((out / "manifest_entry.json").read_text())
    assert entry["sha256"] == sha256_of(path)
    assert entry["size_bytes"] == path.stat().st_size
    assert entry["filename"] == "model.safetensors"
    assert entry["inference_stage"] == 2
    assert entry["config"] == trainer.model.config.to_dict()
    assert entry["training"]["steps"] == 4 and entry["training"]["pairs"] == 4
    assert entry["training"]["data"] == str(pair_folder)
    assert entry["training"]["wall_time_s"] > 0

    # The weights load strictly into a network built from the file's own metadata.
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    model = PoMAI(PoMAIConfig.from_json(meta["pomai_config"]))
    model.load_state_dict(load_file(str(path)), strict=True)
    assert_same_weights(model.state_dict(), weights(trainer))

    steps = (out / "steps.csv").read_text().splitlines()
    assert steps[0] == "global_step,phase,epoch,lr,total,ssim,mse,intensity,gradient"
    assert len(steps) == 1 + 4
    epochs = json.loads((out / "epochs.json").read_text())
    assert [(e["name"], e["epoch"]) for e in epochs] == [("stage1", 0), ("stage2", 0)]
    for key in ("val_total", "val_ssim", "SD", "VIF"):
        assert key in epochs[0]
    assert (out / "loss_curve.png").stat().st_size > 0
    assert (out / CHECKPOINT_NAME).is_file()


def test_learning_rate_halves_every_step_epochs(
    tmp_path: Path, make_pairs: Callable[..., Path], narrow_config_path: Path
) -> None:
    data = make_pairs(tmp_path / "data", ["a", "b"])
    trainer = Trainer(make_settings(data, tmp_path / "out", narrow_config_path, epochs_stage1=3,
                                    epochs_stage2=2, lr_step_epochs=2))
    trainer.run()
    lrs = [(int(r[1]), r[3]) for r in trainer.state.step_log]
    # Stage 1: epochs 0, 1 at 1e-3, epoch 2 at 5e-4; stage 2 starts afresh at 1e-3.
    assert lrs == [(0, 1e-3), (0, 1e-3), (0, 5e-4), (1, 1e-3), (1, 1e-3)]
