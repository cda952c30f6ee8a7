"""The whole PoMAI network (pomai.nn.pomai): shapes, range, determinism, gradients, freezing,
parameter count and safetensors round trip."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from pomai.config import NAMED_CONFIGS, PoMAIConfig, get_config
from pomai.nn import PoMAI
from pomai.nn.decoder import Decoder
from pomai.training.trainer import PhaseStep, configure_phase, plan_phases

STAGE_ONE = ("encoder", "ngmm", "camn", "decoder")


def images(b: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 1, h, w, generator=g), torch.rand(b, 1, h, w, generator=g)


def build(config: PoMAIConfig, seed: int = 0) -> PoMAI:
    torch.manual_seed(seed)
    return PoMAI(config).eval()


# -- shapes and range ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NAMED_CONFIGS))
@pytest.mark.parametrize("stage", [1, 2])
def test_shapes_and_range_for_named_configs(name: str, stage: int) -> None:
    # The paper config is slow on CPU: a tiny input; the CPU configs at an odd 37×53.
    h, w = (9, 11) if name == "paper" else (37, 53)
    model = build(get_config(name))
    ir, vis = images(2, h, w)
    with torch.no_grad():
        fused = model(ir, vis, stage=stage)  # type: ignore[arg-type]
    assert fused.shape == (2, 1, h, w)
    assert fused.dtype == torch.float32
    assert bool(torch.isfinite(fused).all())
    assert float(fused.min()) >= 0.0 and float(fused.max()) <= 1.0


@pytest.mark.parametrize(("h", "w"), [(1, 1), (2, 3), (16, 16), (17, 5)])
def test_tiny_and_degenerate_sizes(h: int, w: int, narrow_config: PoMAIConfig) -> None:
    model = build(narrow_config)
    ir, vis = images(3, h, w)
    with torch.no_grad():
        for stage in (1, 2):
            assert model(ir, vis, stage=stage).shape == (3, 1, h, w)  # type: ignore[arg-type]


def test_batch_elements_are_independent_in_eval(narrow_config: PoMAIConfig) -> None:
    model = build(narrow_config)
    ir, vis = images(3, 20, 21)
    with torch.no_grad():
        together = model(ir, vis)
        alone = model(ir[2:], vis[2:])
    torch.testing.assert_close(alone, together[2:], atol=1e-6, rtol=1e-6)


def test_cpu_inference_encodes_each_modality_apart_with_the_same_result(
    narrow_config: PoMAIConfig,
) -> None:
    """Without autograd the encoder runs once per modality; with it, once on both: same map."""
    model = build(narrow_config)
    calls: list[int] = []
    model.encoder.register_forward_hook(lambda module, args, out: calls.append(len(out)))
    ir, vis = images(2, 20, 21)
    together = model(ir, vis)
    assert calls == [4]
    with torch.no_grad():
        apart = model(ir, vis)
    assert calls == [4, 2, 2]
    torch.testing.assert_close(apart, together)


def test_ablation_configs_run(narrow_config: PoMAIConfig) -> None:
    ir, vis = images(2, 12, 13)
    for changes in ({"use_ngmm": False}, {"use_camn": False}):
        model = build(narrow_config.replace(**changes))
        name = "ngmm" if "use_ngmm" in changes else "camn"
        assert isinstance(getattr(model, name), torch.nn.Identity)
        with torch.no_grad():
            assert model(ir, vis, stage=1).shape == (2, 1, 12, 13)


def test_input_validation(narrow_config: PoMAIConfig) -> None:
    model = build(narrow_config)
    ir, vis = images(1, 8, 8)
    with pytest.raises(ValueError, match="same shape"):
        model(ir, vis[..., :7])
    with pytest.raises(ValueError, match="luminance"):
        model(ir.expand(1, 3, 8, 8), vis.expand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="stage must be 1 or 2"):
        model(ir, vis, stage=3)  # type: ignore[arg-type]


def test_encoder_is_shared_and_stage_one_is_eq_12(narrow_config: PoMAIConfig) -> None:
    model = build(narrow_config)
    ir, vis = images(2, 10, 12)
    with torch.no_grad():
        x_ir, x_vis, x_ngmm, x_camn = model.encode(ir, vis)
        torch.testing.assert_close(x_ir, model.encoder(ir), atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(x_vis, model.encoder(vis), atol=1e-6, rtol=1e-6)
        stage1 = model.decoder(torch.cat([x_ngmm, x_camn], dim=1), vis)
        stage2 = model.decoder(model.micm(x_ir, x_vis, x_ngmm, x_camn), vis)
        assert torch.equal(model(ir, vis, stage=1), stage1)
        assert torch.equal(model(ir, vis, stage=2), stage2)


def test_decoder_residual_option(narrow_config: PoMAIConfig) -> None:
    torch.manual_seed(0)
    features, vis = torch.randn(2, 16, 6, 7), torch.rand(2, 1, 6, 7)
    plain = Decoder(narrow_config)
    head = plain.head(plain.blocks(plain.reduce_channel(features)))
    torch.testing.assert_close(plain(features, vis), torch.sigmoid(head))  # default: no residual
    residual = Decoder(narrow_config.replace(decoder_residual="vis"))
    residual.load_state_dict(plain.state_dict())
    torch.testing.assert_close(residual(features, vis), torch.sigmoid(head + vis))


# -- determinism -----------------------------------------------------------------------------

_DETERMINISM_SCRIPT = """
import hashlib, sys, torch
from pomai.config import PoMAIConfig
from pomai.nn import PoMAI
torch.set_num_threads(int(sys.argv[2]))
torch.manual_seed(0)
model = PoMAI(PoMAIConfig.from_json(sys.argv[1])).eval()
g = torch.Generator().manual_seed(1)
ir, vis = torch.rand(2, 1, 24, 20, generator=g), torch.rand(2, 1, 24, 20, generator=g)
with torch.no_grad():
    out = torch.cat([model(ir, vis, stage=1), model(ir, vis, stage=2)])
print(hashlib.sha256(out.numpy().tobytes()).hexdigest())
"""


def _output_digest(config: PoMAIConfig) -> str:
    torch.manual_seed(0)
    model = PoMAI(config).eval()
    g = torch.Generator().manual_seed(1)
    ir, vis = torch.rand(2, 1, 24, 20, generator=g), torch.rand(2, 1, 24, 20, generator=g)
    with torch.no_grad():
        first = torch.cat([model(ir, vis, stage=1), model(ir, vis, stage=2)])
        second = torch.cat([model(ir, vis, stage=1), model(ir, vis, stage=2)])
    assert torch.equal(first, second), "eval output must be bit-identical across calls"
    return hashlib.sha256(first.numpy().tobytes()).hexdigest()


def test_eval_output_bit_identical_across_calls_and_processes(narrow_config: PoMAIConfig) -> None:
    config = narrow_config  # 24×20: L = 480 > 3K: several NGMM groups, hashing matters
    threads = torch.get_num_threads()
    here = _output_digest(config)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", _DETERMINISM_SCRIPT, config.to_json(), str(threads)],
        capture_output=True, text=True, check=True, env=env, cwd=root, timeout=120,
    )
    assert result.stdout.strip() == here


def test_rotations_travel_with_the_weights(narrow_config: PoMAIConfig) -> None:
    config = narrow_config
    model = build(config)
    assert "ngmm.rotations" in model.state_dict()
    other = build(config.replace(rotation_seed=7), seed=1)
    assert not torch.equal(other.ngmm.rotations, model.ngmm.rotations)
    other.load_state_dict(model.state_dict(), strict=True)
    ir, vis = images(1, 24, 20)
    with torch.no_grad():
        assert torch.equal(other(ir, vis), model(ir, vis))


# -- gradients and freezing ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["narrow", "paper"])
def test_stage_one_gradients_reach_every_parameter_but_micm(
    name: str, narrow_config: PoMAIConfig
) -> None:
    if name == "narrow":
        config, (h, w) = narrow_config, (24, 20)  # several NGMM groups
    else:
        config, (h, w) = get_config("paper"), (9, 11)
    model = build(config).train()
    ir, vis = images(2, h, w)
    model(ir, vis, stage=1).square().mean().backward()
    for pname, p in model.named_parameters():
        if pname.startswith("micm."):
            assert p.grad is None, f"{pname} is unused in stage 1 but got a gradient"
        else:
            assert p.grad is not None, f"{pname} got no gradient"
            assert bool(p.grad.abs().gt(0).any()), f"{pname} got an all-zero gradient"


def test_stage_two_step_moves_micm_only(narrow_config: PoMAIConfig) -> None:
    from pomai.training.trainer import TrainSettings

    model = build(narrow_config)
    phase = plan_phases(TrainSettings(data="", out=""))[1]
    assert phase.name == "stage2" and phase.trained == ("micm",) and phase.frozen_features
    trainable = configure_phase(model, phase)
    assert {id(p) for p in trainable} == {id(p) for p in model.micm.parameters()}
    for name in STAGE_ONE:
        module = getattr(model, name)
        assert not module.training
        assert not any(p.requires_grad for p in module.parameters())
    assert model.micm.training

    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(trainable, lr=1e-3)
    ir, vis = images(2, 24, 20)
    step = PhaseStep(model, phase)
    step(ir, vis).square().mean().backward()
    for name, p in model.named_parameters():
        assert (p.grad is not None) == name.startswith("micm."), name
    optimizer.step()

    after = model.state_dict()
    for key, value in before.items():
        if key.startswith("micm."):
            assert not torch.equal(after[key], value), f"{key} did not move"
        else:
            assert torch.equal(after[key], value), f"{key} changed in stage 2"


# -- parameter count -------------------------------------------------------------------------


def test_paper_parameter_count_by_hand() -> None:
    """C = 64, 8 heads, FFN ×2, no bias in E/D; notes §0, §3–§7."""
    c, hidden = 64, 128
    mdta = c * 3 * c + 3 * c * 9 + c * c + 8  # qkv 1×1, depth-wise 3×3, projection, τ per head
    gdfn = c * 2 * hidden + 2 * hidden * 9 + hidden * c  # project_in, depth-wise 3×3, out
    block = mdta + gdfn + 2 * 2 * c  # + two channel LayerNorms (weight, bias)
    encoder = 1 * c * 9 + 4 * block  # 3×3 patch embedding 1→C, four blocks
    ngmm = 2 * (c * c + c)  # left and right 1×1 branches with bias
    scb = (c * c + c) + (c * 49 + c) + (c * c + c)  # 1×1, depth-wise 7×7 dilated, 1×1
    ccb = 2 * c + (c * 4 * c + 4 * c) + (4 * c * c + c)  # LayerNorm, 1×1 C→4C, 1×1 4C→C
    camn = scb + ccb
    head = c * (c // 2) * 9 + (c // 2) * 1 * 9  # 3×3 C→C/2, 3×3 C/2→1, no bias
    decoder = 2 * c * c + 4 * block + head  # 1×1 2C→C reduction, four blocks, head
    ca = (c * (c // 4) + c // 4) + ((c // 4) * c + c)  # MLP C→C/4→C with bias
    sa = 2 * 7 * 7 + 1  # 7×7 conv on [mean, max]
    gate = 2 * c * c * 7 * 7 + c  # dense 7×7 2C→C
    micm = ca + sa + gate
    assert (encoder, ngmm, camn, decoder, micm) == (181_600, 8_320, 44_736, 207_936, 403_699)

    model = PoMAI(get_config("paper"))
    counts = {
        name: sum(p.numel() for p in getattr(model, name).parameters())
        for name in ("encoder", "ngmm", "camn", "decoder", "micm")
    }
    assert counts == {"encoder": encoder, "ngmm": ngmm, "camn": camn, "decoder": decoder,
                      "micm": micm}
    total = sum(p.numel() for p in model.parameters())
    assert total == encoder + ngmm + camn + decoder + micm == 846_291
    stage_one = sum(counts[n] for n in STAGE_ONE)
    assert stage_one == 442_592


# -- safetensors -----------------------------------------------------------------------------


def test_safetensors_round_trip_reproduces_outputs(
    tmp_path: Path, narrow_config: PoMAIConfig
) -> None:
    config = narrow_config
    model = build(config, seed=0)
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    restored = build(config, seed=1)  # different initial weights
    restored.load_state_dict(load_file(str(path)), strict=True)
    ir, vis = images(2, 23, 19)
    with torch.no_grad():
        for stage in (1, 2):
            assert torch.equal(
                restored(ir, vis, stage=stage), model(ir, vis, stage=stage)  # type: ignore[arg-type]
            )
