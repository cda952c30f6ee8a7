"""Restormer blocks of the encoder and decoder (pomai.nn.restormer, pomai.nn.layernorm)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pomai.nn import restormer
from pomai.nn.cpu_inference import blocked_inference
from pomai.nn.layernorm import ChannelLayerNorm
from pomai.nn.restormer import GDFN, MDTA, RestormerBlock, pixel_gram


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_channel_layernorm_matches_definition() -> None:
    torch.manual_seed(0)
    norm = ChannelLayerNorm(6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 6, 5, 7) * 3 + 1
    mean = x.mean(dim=1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=1, keepdim=True)  # biased variance
    expected = (x - mean) / torch.sqrt(var + 1e-5) * norm.weight.view(1, -1, 1, 1) + norm.bias.view(
        1, -1, 1, 1
    )
    torch.testing.assert_close(norm(x), expected, atol=1e-5, rtol=1e-5)
    # Same result for channels-last memory (the layout the comment says is copy-free).
    channels_last = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(norm(channels_last), expected, atol=1e-5, rtol=1e-5)
    # Per pixel: no statistics shared between pixels or batch elements.
    torch.testing.assert_close(norm(x[1:, :, 2:3, 4:5]), norm(x)[1:, :, 2:3, 4:5])


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("heads", [1, 2, 4])
def test_mdta_matches_reference_formula(memory_format: torch.memory_format, heads: int) -> None:
    """qkv = DW3x3(Conv1x1(x)); per head softmax(norm(q) norm(k)ᵀ τ) v over channels.
    Output and gradients (input and every weight) equal the per-head formula."""
    torch.manual_seed(1)
    c = 8
    mdta = MDTA(c, heads, bias=False).to(memory_format=memory_format)
    with torch.no_grad():
        mdta.temperature.copy_(torch.linspace(0.7, 1.9, heads).view(heads, 1, 1))
    x = torch.randn(2, c, 5, 6).to(memory_format=memory_format).requires_grad_()

    def reference(x: torch.Tensor) -> torch.Tensor:
        qkv = mdta.qkv_dwconv(mdta.qkv(x))
        q, k, v = qkv.chunk(3, dim=1)
        out = []
        for h in range(heads):
            rows = slice(h * c // heads, (h + 1) * c // heads)
            qh = F.normalize(q[:, rows].flatten(2), dim=-1)
            kh = F.normalize(k[:, rows].flatten(2), dim=-1)
            attn = (qh @ kh.transpose(1, 2) * mdta.temperature[h]).softmax(-1)  # (B, C/h, C/h)
            out.append(attn @ v[:, rows].flatten(2))
        return mdta.project_out(torch.cat(out, 1).reshape(2, c, 5, 6))

    got, expected = mdta(x), reference(x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    weights = torch.randn_like(expected)
    inputs = (x, *mdta.parameters())
    got_grads = torch.autograd.grad((got * weights).sum(), inputs)
    expected_grads = torch.autograd.grad((expected * weights).sum(), inputs)
    for a, b in zip(got_grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("length", [64, 70, 100])  # whole chunks, a remainder, one chunk short
def test_pixel_gram_in_chunks_equals_one_product(length: int) -> None:
    torch.manual_seed(0)
    a = torch.randn(3, 4, length, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, 5, length, dtype=torch.float64, requires_grad=True)
    chunked = pixel_gram(a, b, chunk=16 if length < 100 else 64)
    direct = a @ b.transpose(-2, -1)
    torch.testing.assert_close(chunked, direct)
    weights = torch.randn_like(direct)
    chunked_grads = torch.autograd.grad((chunked * weights).sum(), (a, b))
    direct_grads = torch.autograd.grad((direct * weights).sum(), (a, b))
    for got, expected in zip(chunked_grads, direct_grads, strict=True):
        torch.testing.assert_close(got, expected)


def test_mdta_on_the_test_device_matches_cpu(device: torch.device) -> None:
    """On CUDA the Gram matrices are summed in chunks (pixel_gram); same attention.

    In float64 whatever ``--dtype``: in float32 the two orders of summation differ by about
    1e-4, which would hide nothing but fail at random.
    """
    torch.manual_seed(2)
    mdta = MDTA(16, 2, bias=False).double()
    x = torch.randn(2, 16, 96, 100, dtype=torch.float64)  # 9,600 pixels: 2 chunks + remainder
    expected = mdta(x)
    torch.testing.assert_close(mdta.to(device)(x.to(device)).cpu(), expected)


def test_gdfn_matches_reference_formula() -> None:
    torch.manual_seed(2)
    gdfn = GDFN(8, 2.0, bias=False)
    assert gdfn.project_out.in_channels == 16
    x = torch.randn(1, 8, 6, 5)
    a, g = gdfn.dwconv(gdfn.project_in(x)).chunk(2, dim=1)
    torch.testing.assert_close(gdfn(x), gdfn.project_out(F.gelu(a) * g))


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_pointwise_depthwise_equals_a_channel_slice_of_both(
    memory_format: torch.memory_format,
) -> None:
    torch.manual_seed(3)
    pointwise = torch.nn.Conv2d(4, 12, 1)
    depthwise = torch.nn.Conv2d(12, 12, 3, padding=1, groups=12)
    x = torch.randn(2, 4, 7, 5).contiguous(memory_format=memory_format)
    part = restormer.pointwise_depthwise(x, pointwise, depthwise, slice(4, 10))
    torch.testing.assert_close(part, depthwise(pointwise(x))[:, 4:10])
    assert part.is_contiguous(memory_format=memory_format)


def test_block_is_two_residual_sub_blocks() -> None:
    """With both output projections zeroed the block is the identity (pre-norm residuals)."""
    torch.manual_seed(3)
    block = RestormerBlock(8, 2, 2.0, bias=False)
    x = torch.randn(2, 8, 7, 9)
    with torch.no_grad():
        block.attn.project_out.weight.zero_()
        assert not torch.equal(block(x), x)  # the FFN still contributes
        block.ffn.project_out.weight.zero_()
        assert torch.equal(block(x), x)


@pytest.mark.parametrize("bias", [False, True])
def test_block_parameter_count(bias: bool) -> None:
    """C = 64, 8 heads, expansion 2 (notes §3.1): MDTA 18,120 + GDFN 26,880 + LNs 256."""
    block = RestormerBlock(64, 8, 2.0, bias=bias)
    mdta = 64 * 192 + 192 * 9 + 64 * 64 + 8  # qkv 1x1, depth-wise 3x3, projection, τ
    gdfn = 64 * 256 + 256 * 9 + 128 * 64  # project_in, depth-wise 3x3, project_out
    norms = 2 * (64 + 64)
    assert (mdta, gdfn, mdta + gdfn + norms) == (18_120, 26_880, 45_256)
    biases = (192 + 192 + 64 + 256 + 256 + 64) if bias else 0
    assert n_params(block) == 45_256 + biases


@pytest.mark.parametrize(("h", "w"), [(1, 1), (37, 53), (3, 2)])
def test_block_any_size(h: int, w: int) -> None:
    block = RestormerBlock(8, 4, 2.0, bias=False)
    x = torch.randn(3, 8, h, w)
    assert block(x).shape == x.shape


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("bias", [False, True])
def test_blocked_cpu_inference_equals_whole_image(
    monkeypatch: pytest.MonkeyPatch, memory_format: torch.memory_format, bias: bool
) -> None:
    """Without autograd on the CPU, MDTA and GDFN run in blocks of rows (here three rows of
    every image, the last block shorter); the result is the whole-image computation's."""
    monkeypatch.setattr(restormer, "BLOCK_PIXELS", 3 * 9)
    torch.manual_seed(4)
    block = RestormerBlock(8, 2, 2.0, bias=bias).double().to(memory_format=memory_format)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    x = torch.randn(2, 8, 10, 9, dtype=torch.float64).contiguous(memory_format=memory_format)
    for layer in (block.attn, block.ffn, block):
        whole = layer(x)  # autograd on: one whole-image computation
        with torch.no_grad():
            assert blocked_inference(x)
            blocked = layer(x)
        torch.testing.assert_close(blocked, whole)
        assert blocked.is_contiguous(memory_format=memory_format)


def test_blocked_mdta_keeps_a_batch_of_images_apart() -> None:
    torch.manual_seed(5)
    mdta = MDTA(8, 2, bias=False).double()
    x = torch.randn(3, 8, 6, 7, dtype=torch.float64)
    with torch.no_grad():
        batched = mdta(x)
        single = torch.cat([mdta(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single)
