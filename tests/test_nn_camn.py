"""CAMN (pomai.nn.camn): SCB, CCB and the outer residual of Eq. 4–5."""

from __future__ import annotations

import pytest
import torch

from pomai.config import PoMAIConfig
from pomai.nn.camn import CAMN, ChannelContextBlock, SpatialContextBlock, dilated_depthwise


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_camn_is_ccb_of_scb_plus_input(
    device: torch.device, dtype: torch.dtype, tolerance: dict
) -> None:
    torch.manual_seed(0)
    camn = CAMN(PoMAIConfig(width=8, heads=2)).to(device, dtype)
    x = torch.randn(2, 8, 11, 13, device=device, dtype=dtype)
    torch.testing.assert_close(camn(x), camn.ccb(camn.scb(x)) + x, **tolerance)
    with torch.no_grad():
        # Zero both inner output convolutions: SCB and CCB are identities, CAMN doubles x.
        camn.scb.conv_out.weight.zero_()
        camn.scb.conv_out.bias.zero_()
        camn.ccb.reduce.weight.zero_()
        camn.ccb.reduce.bias.zero_()
        assert torch.equal(camn(x), 2 * x)


def test_scb_formula_and_dilated_receptive_field() -> None:
    """Output pixel sees the input on a 7×7 lattice of spacing 3 (kernel 7, dilation 3)."""
    torch.manual_seed(1)
    scb = SpatialContextBlock(4, kernel=7, dilation=3)
    x = torch.randn(1, 4, 25, 25)
    expected = x + scb.conv_out(scb.dilated(torch.nn.functional.gelu(scb.conv_in(x))))
    torch.testing.assert_close(scb(x), expected)

    x.requires_grad_(True)
    scb(x)[0, :, 12, 12].sum().backward()
    assert x.grad is not None
    support = x.grad[0].abs().sum(dim=0) > 0
    lattice = torch.zeros(25, 25, dtype=torch.bool)
    lattice[3:22:3, 3:22:3] = True  # offsets -9, -6, ..., 9 around (12, 12): span 19
    assert torch.equal(support, lattice)
    assert scb.dilated.groups == 4  # depth-wise


def test_ccb_is_pointwise(device: torch.device, dtype: torch.dtype, tolerance: dict) -> None:
    """Norm and 1×1 convolutions only: pixels do not interact, so shuffling them commutes."""
    torch.manual_seed(2)
    ccb = ChannelContextBlock(8, expansion=2.0).to(device, dtype)
    x = torch.randn(2, 8, 6, 7, device=device, dtype=dtype)
    perm = torch.randperm(42, device=device)
    shuffle = lambda t: t.flatten(2)[:, :, perm].reshape(t.shape)  # noqa: E731
    torch.testing.assert_close(ccb(shuffle(x)), shuffle(ccb(x)),
                               **(tolerance or {"atol": 1e-6, "rtol": 1e-6}))
    norm = ccb.norm(x)
    expected = x + ccb.reduce(torch.nn.functional.gelu(ccb.expand(norm)))
    torch.testing.assert_close(ccb(x), expected, **tolerance)
    assert ccb.expand.out_channels == 16


def test_paper_parameter_counts() -> None:
    """Notes §5.2: SCB 11,520 + CCB 33,216 (ratio 4) = CAMN 44,736 at C = 64."""
    camn = CAMN(PoMAIConfig())
    scb = (64 * 64 + 64) + (64 * 49 + 64) + (64 * 64 + 64)
    ccb = (64 + 64) + (64 * 256 + 256) + (256 * 64 + 64)
    assert (n_params(camn.scb), n_params(camn.ccb)) == (scb, ccb) == (11_520, 33_216)
    assert n_params(camn) == 44_736


def test_odd_sizes_keep_shape(device: torch.device, dtype: torch.dtype) -> None:
    camn = CAMN(PoMAIConfig(width=4, heads=1, ca_reduction=1)).to(device, dtype)
    for h, w in ((1, 1), (5, 3), (37, 53)):
        x = torch.randn(2, 4, h, w, device=device, dtype=dtype)
        y = camn(x)
        assert y.shape == x.shape and y.device == x.device and y.dtype == dtype


@pytest.mark.parametrize(("kernel", "dilation"), [(7, 3), (5, 2), (3, 4), (3, 1)])
@pytest.mark.parametrize(("h", "w"), [(25, 25), (17, 23), (1, 1), (5, 64)])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_dilated_depthwise_by_sub_images_equals_the_dilated_convolution(
    kernel: int, dilation: int, h: int, w: int, memory_format: torch.memory_format
) -> None:
    """Sizes that are and are not multiples of the dilation, and smaller than it."""
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(6, 6, kernel, padding=dilation * (kernel - 1) // 2,
                           dilation=dilation, groups=6).double()
    x = torch.randn(2, 6, h, w, dtype=torch.float64).contiguous(memory_format=memory_format)
    torch.testing.assert_close(dilated_depthwise(x, conv), conv(x))
