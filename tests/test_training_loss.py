"""The fusion loss (pomai.training.loss, paper Eq. 14–18): each term by hand, SSIM against an
independent float64 numpy implementation, and every zero."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from pomai.training.loss import FusionLoss, gaussian_window, sobel_magnitude, ssim


def delta(size: int, row: int, col: int, value: float = 1.0) -> torch.Tensor:
    image = torch.zeros(1, 1, size, size)
    image[0, 0, row, col] = value
    return image


def numpy_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Mean SSIM, float64: 11×11 gaussian σ 1.5 (2-D, normalised), reflect padding 5,
    C1 = 0.01², C2 = 0.03² (data range 1), population (co)variances from local moments."""
    r = np.arange(11) - 5.0
    g = np.exp(-(r**2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()

    def local_mean(image: np.ndarray) -> np.ndarray:
        padded = np.pad(image, 5, mode="reflect")
        return np.einsum("ijkl,kl->ij", sliding_window_view(padded, (11, 11)), window)

    mx, my = local_mean(x), local_mean(y)
    vx = local_mean(x * x) - mx**2
    vy = local_mean(y * y) - my**2
    cov = local_mean(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def test_gaussian_window() -> None:
    w = gaussian_window()
    assert w.shape == (11,)
    torch.testing.assert_close(w.sum(), torch.tensor(1.0))
    assert torch.equal(w, w.flip(0)) and int(w.argmax()) == 5
    # Ratio of neighbouring taps: exp(-(1² - 0²) / (2·1.5²)).
    torch.testing.assert_close(w[6] / w[5], torch.tensor(np.exp(-1 / 4.5), dtype=torch.float32))


@pytest.mark.parametrize(("h", "w"), [(16, 16), (13, 21), (40, 33)])
def test_ssim_matches_independent_numpy_implementation(h: int, w: int) -> None:
    rng = np.random.default_rng(h * w)
    x = rng.random((h, w))
    y = np.clip(0.6 * x + 0.4 * rng.random((h, w)), 0, 1)  # correlated, not identical
    ours = ssim(
        torch.tensor(x, dtype=torch.float32)[None, None],
        torch.tensor(y, dtype=torch.float32)[None, None],
        gaussian_window(),
    )
    assert abs(float(ours) - numpy_ssim(x, y)) < 2e-5
    # Batch: the mean over images of the per-image means (equal sizes).
    xb = torch.tensor(np.stack([x, y]), dtype=torch.float32)[:, None]
    yb = torch.tensor(np.stack([y, x]), dtype=torch.float32)[:, None]
    assert abs(float(ssim(xb, yb, gaussian_window())) - numpy_ssim(x, y)) < 2e-5


def test_ssim_of_an_image_with_itself_is_one() -> None:
    x = torch.rand(2, 1, 20, 17, generator=torch.Generator().manual_seed(0))
    assert float(ssim(x, x, gaussian_window())) == 1.0
    assert float(ssim(x, 1 - x, gaussian_window())) < 0.0  # anti-correlated structure


def test_sobel_magnitude_of_a_delta_by_hand() -> None:
    """Sobel x and y responses to a unit impulse are the (flipped) kernels; |gx| + |gy|:
    corners 1 + 1, edge midpoints 2 + 0, centre 0."""
    kernels = FusionLoss().sobel
    mag = sobel_magnitude(delta(5, 2, 2), kernels)[0, 0]
    expected = torch.zeros(5, 5)
    expected[1:4, 1:4] = torch.tensor([[2.0, 2.0, 2.0], [2.0, 0.0, 2.0], [2.0, 2.0, 2.0]])
    assert torch.equal(mag, expected)
    # Zero padding: a constant image has gradient only at the border.
    const = sobel_magnitude(torch.ones(1, 1, 4, 4), kernels)[0, 0]
    assert torch.equal(const[1:3, 1:3], torch.zeros(2, 2))
    assert float(const[0, 0]) == 3.0 + 3.0  # |0+2+1| for x and y at the corner
    assert float(const[0, 1]) == 0.0 + 4.0  # top edge: x cancels, y sees 1+2+1


def test_terms_by_hand_with_fused_zero() -> None:
    """8×8: I = unit impulse at (2, 2), V = 0.5 impulse at (5, 5) (Sobel supports disjoint),
    F = 0. L_mse = (1 + 0.25)/64, L_int = (1 + 0.5)/64, L_grad = (16 + 8)/64."""
    ir, vis, fused = delta(8, 2, 2), delta(8, 5, 5, 0.5), torch.zeros(1, 1, 8, 8)
    terms = FusionLoss()(fused, ir, vis)
    torch.testing.assert_close(terms.mse, torch.tensor(1.0 / 64 + 0.25 / 64))
    torch.testing.assert_close(terms.intensity, torch.tensor(1.5 / 64))
    torch.testing.assert_close(terms.gradient, torch.tensor(24.0 / 64))
    # SSIM term from the numpy reference.
    expected_ssim = (1 - numpy_ssim(np.zeros((8, 8)), ir[0, 0].double().numpy())) + (
        1 - numpy_ssim(np.zeros((8, 8)), vis[0, 0].double().numpy())
    )
    assert abs(float(terms.ssim) - expected_ssim) < 2e-5
    expected_total = 5 * expected_ssim + 1.25 / 64 + 1.5 / 64 + 10 * 24.0 / 64
    assert abs(float(terms.total) - expected_total) < 1e-4


def test_terms_by_hand_with_fused_equal_to_infrared() -> None:
    """Same sources, F = I: L_mse = 0 + (1 + 0.25)/64, L_int = |1-1|·… + 0.5/64 (F misses
    V's impulse), L_grad = 8/64 (F lacks V's Sobel ring, which is 0.5 · 16)."""
    ir, vis = delta(8, 2, 2), delta(8, 5, 5, 0.5)
    terms = FusionLoss()(ir.clone(), ir, vis)
    torch.testing.assert_close(terms.mse, torch.tensor(1.25 / 64))
    torch.testing.assert_close(terms.intensity, torch.tensor(0.5 / 64))
    torch.testing.assert_close(terms.gradient, torch.tensor(8.0 / 64))
    # SSIM(F, I) = 1 exactly, so only the visible half of L_ssim remains.
    expected_ssim = 1 - numpy_ssim(ir[0, 0].double().numpy(), vis[0, 0].double().numpy())
    assert abs(float(terms.ssim) - expected_ssim) < 2e-5


def test_intensity_uses_pixelwise_maximum() -> None:
    ir = torch.tensor([[0.2, 0.9], [0.5, 0.1]]).view(1, 1, 2, 2)
    vis = torch.tensor([[0.7, 0.3], [0.5, 0.4]]).view(1, 1, 2, 2)
    fused = torch.tensor([[0.7, 0.8], [0.0, 0.4]]).view(1, 1, 2, 2)
    # max = [[0.7, 0.9], [0.5, 0.4]]; |F - max| = [[0, 0.1], [0.5, 0]]
    intensity = torch.nn.functional.l1_loss(fused, torch.maximum(ir, vis))
    torch.testing.assert_close(intensity, torch.tensor(0.6 / 4))
    # The loss needs >= 6 pixels a side (reflect padding of the SSIM window): tile to 8×8.
    terms = FusionLoss()(*(t.repeat(1, 1, 4, 4) for t in (fused, ir, vis)))
    torch.testing.assert_close(terms.intensity, torch.tensor(0.6 / 4))
    # MSE summed over the two sources: (F-I)² = [.25,.01,.25,.09], (F-V)² = [0,.25,.25,0].
    torch.testing.assert_close(terms.mse, torch.tensor(0.6 / 4 + 0.5 / 4))


def test_every_term_is_zero_when_all_images_are_equal() -> None:
    x = torch.rand(2, 1, 24, 24, generator=torch.Generator().manual_seed(1))
    terms = FusionLoss()(x, x.clone(), x.clone())
    assert float(terms.ssim) == 0.0
    assert float(terms.mse) == 0.0
    assert float(terms.intensity) == 0.0
    assert float(terms.gradient) == 0.0
    assert float(terms.total) == 0.0


def test_intensity_and_gradient_zero_at_their_targets() -> None:
    """F = max(I, V) zeroes L_int; where sources are flat (I = V = F = const) L_grad is 0."""
    g = torch.Generator().manual_seed(2)
    ir, vis = torch.rand(1, 1, 12, 12, generator=g), torch.rand(1, 1, 12, 12, generator=g)
    assert float(FusionLoss()(torch.maximum(ir, vis), ir, vis).intensity) == 0.0
    const = torch.full((1, 1, 12, 12), 0.3)
    assert float(FusionLoss()(const, const, torch.zeros_like(const)).gradient) == 0.0


def test_weights_and_gradient_flow() -> None:
    g = torch.Generator().manual_seed(3)
    ir, vis = torch.rand(2, 1, 16, 16, generator=g), torch.rand(2, 1, 16, 16, generator=g)
    fused = torch.rand(2, 1, 16, 16, generator=g, requires_grad=True)
    loss = FusionLoss()
    terms = loss(fused, ir, vis)
    assert loss.weights == (5.0, 1.0, 1.0, 10.0)  # paper §4.1
    expected = 5 * terms.ssim + terms.mse + terms.intensity + 10 * terms.gradient
    torch.testing.assert_close(terms.total, expected)
    custom = FusionLoss(weights=(0.0, 0.0, 1.0, 0.0))(fused, ir, vis)
    torch.testing.assert_close(custom.total, terms.intensity)
    terms.total.backward()
    assert fused.grad is not None and bool(fused.grad.abs().gt(0).all())
    # Non-persistent buffers: the loss adds nothing to a checkpoint.
    assert loss.state_dict() == {}


def test_images_smaller_than_the_ssim_window_get_a_clear_error() -> None:
    x = torch.rand(1, 1, 5, 40)
    with pytest.raises(ValueError, match=r"at least 6×6 pixels.*--crop"):
        FusionLoss()(x, x, x)
