"""Distillation (pomai.training.distillation) through the trainer: the teacher's term, memoised
targets, and exact resume with a teacher."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from test_training_trainer import assert_same_weights, make_settings, weights

import pomai.training.trainer as trainer_module
from pomai.training.distillation import Teacher, distillation_loss
from pomai.training.trainer import DISTILL_COLUMN, LOSS_COLUMNS, Trainer


@pytest.fixture(autouse=True)
def skip_loss_plot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trainer_module, "plot_loss_curve", lambda *args: None)


def test_distillation_loss_by_hand() -> None:
    fused = torch.tensor([[[[0.5, 0.25]]]])
    assert float(distillation_loss(fused, fused)) == 0.0
    assert float(distillation_loss(fused, torch.zeros_like(fused))) == pytest.approx(0.375)


def test_no_extra_loss_when_the_student_is_the_teacher(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path, trained_weights: Path
) -> None:
    """The student starts from the teacher's weights (same network, stage 2): the first step's
    distillation term is exactly 0 and its total is the fusion loss alone. (24² crops of the
    32² pairs: the teacher runs on the student's very batch, not memoised one by one.)"""
    settings = make_settings(pair_folder, tmp_path / "run", narrow_config_path, stage="2",
                             init=str(trained_weights), teacher=str(trained_weights), crop=24,
                             ablation="joint", epochs_stage1=0, max_steps=1, distill_weight=5.0)
    trainer = Trainer(settings)
    trainer.run()
    columns = [*LOSS_COLUMNS, DISTILL_COLUMN]
    first = dict(zip(columns, trainer.state.step_log[0][4:], strict=True))
    assert first[DISTILL_COLUMN] == 0.0
    plain = Trainer(make_settings(pair_folder, tmp_path / "plain", narrow_config_path,
                                  stage="2", init=str(trained_weights), ablation="joint",
                                  epochs_stage1=0, max_steps=1, crop=24))
    plain.run()
    assert first["total"] == plain.state.step_log[0][4]


def test_the_teacher_pulls_the_student_towards_its_output(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path, trained_weights: Path
) -> None:
    """The same run with and without a teacher: the taught student ends closer to it."""
    common: dict[str, Any] = {"ablation": "joint", "epochs_stage1": 4, "epochs_stage2": 0,
                              "lr": 3e-3}
    taught = Trainer(make_settings(pair_folder, tmp_path / "taught", narrow_config_path,
                                   teacher=str(trained_weights), distill_weight=100.0, **common))
    taught.run()
    untaught = Trainer(make_settings(pair_folder, tmp_path / "untaught", narrow_config_path,
                                     **common))
    untaught.run()
    assert taught.teacher is not None
    batch = torch.stack(taught.data.images)
    ir, vis = batch[:, :1], batch[:, 1:]
    target = taught.teacher(ir, vis)
    with torch.no_grad():
        distance = {name: float(distillation_loss(t.model.eval()(ir, vis, stage=2), target))
                    for name, t in (("taught", taught), ("untaught", untaught))}
    assert distance["taught"] < 0.5 * distance["untaught"], distance


def test_memoised_targets_equal_the_teacher_on_each_sample(
    tmp_path: Path, make_pairs, narrow_config_path: Path, trained_weights: Path
) -> None:
    data = make_pairs(tmp_path / "data", ["a", "b", "c", "d"], (24, 24))
    trainer = Trainer(make_settings(data, tmp_path / "run", narrow_config_path,
                                    teacher=str(trained_weights), max_steps=3))
    teacher = trainer.teacher
    assert isinstance(teacher, Teacher) and teacher.memoize  # whole 24² images, 32² crops
    trainer.run()
    assert sorted(teacher._outputs) == [0, 1, 2, 3]
    for index, target in teacher._outputs.items():
        pair = trainer.data.images[index][None]
        with torch.no_grad():
            alone = teacher.model(pair[:, :1], pair[:, 1:], stage=teacher.stage)[0]
        assert torch.equal(target, alone)


def test_interrupted_and_resumed_run_with_a_teacher_is_bit_identical(
    tmp_path: Path, make_pairs, narrow_config_path: Path, trained_weights: Path
) -> None:
    data = make_pairs(tmp_path / "data", ["a", "b", "c", "d"], (24, 24))
    extra = {"teacher": str(trained_weights)}
    straight = Trainer(make_settings(data, tmp_path / "straight", narrow_config_path, **extra))
    straight.run()
    out = tmp_path / "pieces"
    Trainer(make_settings(data, out, narrow_config_path, max_steps=3, **extra)).run()
    resumed = Trainer(make_settings(data, out, narrow_config_path, **extra), resume=True)
    resumed.run()
    assert resumed.state.step_log == straight.state.step_log
    assert_same_weights(weights(resumed), weights(straight))
    with pytest.raises(ValueError, match="teacher"):
        Trainer(make_settings(data, out, narrow_config_path), resume=True)


def test_partial_init_takes_the_first_blocks_of_a_deeper_network(
    tmp_path: Path, pair_folder: Path, narrow_config: Any, trained_weights: Path
) -> None:
    from safetensors.torch import load_file

    shallow = tmp_path / "shallow.json"
    shallow.write_text(narrow_config.replace(encoder_blocks=1, decoder_blocks=1).to_json())
    settings = make_settings(pair_folder, tmp_path / "run", shallow, init=str(trained_weights),
                             init_partial=True, max_steps=0)
    student = weights(Trainer(settings))
    source = load_file(trained_weights)
    assert set(student) < set(source)
    for key, value in student.items():
        assert torch.equal(value, source[key]), key
    with pytest.raises(RuntimeError, match="Missing key|Unexpected key"):
        Trainer(make_settings(pair_folder, tmp_path / "strict", shallow,
                              init=str(trained_weights)))
