"""TMQI (Yeganeh & Wang 2013): against an independent numpy/scipy transcription of TMQI.m,
hand-derived cases, scale invariance, batching, gradients, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import signal, stats

from hdrvideo.errors import InvalidInputError
from hdrvideo.quality.tmqi import (
    TMQI_A,
    TMQI_ALPHA,
    TMQI_BETA,
    sdr_display_encode,
    statistical_naturalness,
    tmqi,
)

Y709 = np.array([0.2126, 0.7152, 0.0722])


# --------------------------------------------------------------------------- independent reference
def _fspecial_gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    r = np.arange(size) - (size - 1) / 2
    xx, yy = np.meshgrid(r, r)
    h = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    return h / h.sum()


def _slocal(img1: np.ndarray, img2: np.ndarray, window: np.ndarray, sf: float) -> float:
    c1, c2 = 0.01, 10.0
    mu1 = signal.correlate2d(img1, window, "valid")
    mu2 = signal.correlate2d(img2, window, "valid")
    s1sq = signal.correlate2d(img1 * img1, window, "valid") - mu1 * mu1
    s2sq = signal.correlate2d(img2 * img2, window, "valid") - mu2 * mu2
    s1, s2 = np.sqrt(np.maximum(0, s1sq)), np.sqrt(np.maximum(0, s2sq))
    s12 = signal.correlate2d(img1 * img2, window, "valid") - mu1 * mu2
    csf = 100 * 2.6 * (0.0192 + 0.114 * sf) * np.exp(-((0.114 * sf) ** 1.1))
    u = 128 / (1.4 * csf)
    p1 = stats.norm.cdf(s1, u, u / 3)
    p2 = stats.norm.cdf(s2, u, u / 3)
    smap = ((2 * p1 * p2 + c1) / (p1 * p1 + p2 * p2 + c1)) * ((s12 + c2) / (s1 * s2 + c2))
    return float(smap.mean())


def _imfilter_down(x: np.ndarray) -> np.ndarray:
    # imfilter(x, ones(2)/4, 'symmetric', 'same'): centre at (1,1) of the 2x2 kernel
    p = np.pad(x, ((0, 1), (0, 1)), mode="symmetric")
    f = (p[:-1, :-1] + p[1:, :-1] + p[:-1, 1:] + p[1:, 1:]) / 4
    return f[::2, ::2]


def _naturalness(l_ldr: np.ndarray) -> float:
    u = l_ldr.mean()
    h, w = l_ldr.shape
    padded = np.zeros((math.ceil(h / 11) * 11, math.ceil(w / 11) * 11))
    padded[:h, :w] = l_ldr  # blkproc pads partial blocks with zeros
    i1 = np.zeros_like(padded)  # blkproc: each block filled with its std (n - 1)
    for i in range(0, padded.shape[0], 11):
        for j in range(0, padded.shape[1], 11):
            i1[i : i + 11, j : j + 11] = padded[i : i + 11, j : j + 11].std(ddof=1)
    sig = float(i1[:h, :w].mean())  # mean2 of I1, the picture's size
    mode = (4.4 - 1) / (4.4 + 10.1 - 2)
    pc = stats.beta.pdf(sig / 64.29, 4.4, 10.1) / stats.beta.pdf(mode, 4.4, 10.1)
    pb = stats.norm.pdf(u, 115.94, 27.99) / stats.norm.pdf(115.94, 115.94, 27.99)
    return float(pb * pc)


def reference_tmqi(hdr_rgb: np.ndarray, ldr_rgb255: np.ndarray) -> tuple[float, float, float]:
    """TMQI.m transcribed with numpy/scipy (H, W, 3 arrays; BT.709 radiance; LDR 0-255)."""
    l_hdr = hdr_rgb @ Y709
    l_ldr = ldr_rgb255 @ Y709
    lmin, lmax = l_hdr.min(), l_hdr.max()
    l_hdr = np.round((2**32 - 1) / (lmax - lmin)) * (l_hdr - lmin)
    window = _fspecial_gaussian()
    weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    f, s_local = 32.0, []
    a, b = l_hdr, l_ldr
    for _ in range(5):
        f /= 2
        s_local.append(_slocal(a, b, window, f))
        a, b = _imfilter_down(a), _imfilter_down(b)
    S = float(np.prod(np.power(s_local, weights)))
    N = _naturalness(l_ldr)
    return 0.8012 * S**0.3046 + (1 - 0.8012) * N**0.7088, S, N


def _scene(h: int, w: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth HDR scene (BT.709 radiance, cd/m², ~12 stops) and a tone-mapped LDR of it."""
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(1, 3, h // 8, w // 8, generator=g), size=(h, w),
                                           mode="bicubic", align_corners=False)[0]
    detail = torch.rand(3, h, w, generator=g) * 0.3
    hdr = torch.exp2((base * 12 - 4) + detail).double()
    ldr = (hdr / (hdr + hdr.mean())).pow(1 / 2.2)
    ldr = torch.round(ldr.clamp(0, 1) * 255) / 255
    return hdr, ldr


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("shape,seed", [((176, 200), 0), ((189, 181), 1)])
def test_matches_independent_transcription_of_tmqi_m(shape, seed):
    hdr, ldr = _scene(*shape, seed)
    q_ref, s_ref, n_ref = reference_tmqi(hdr.permute(1, 2, 0).numpy(), (ldr * 255).permute(1, 2, 0).numpy())
    r = tmqi(hdr, ldr, primaries="bt709", quantize=True)
    assert float(r.S) == pytest.approx(s_ref, rel=1e-9, abs=1e-12)
    assert float(r.N) == pytest.approx(n_ref, rel=1e-9, abs=1e-12)
    assert float(r.Q) == pytest.approx(q_ref, rel=1e-9, abs=1e-12)


def test_q_is_the_published_combination():
    hdr, ldr = _scene(176, 176, 2)
    r = tmqi(hdr, ldr, primaries="bt709")
    expected = TMQI_A * float(r.S) ** TMQI_ALPHA + (1 - TMQI_A) * float(r.N) ** TMQI_BETA
    assert float(r.Q) == pytest.approx(expected, rel=1e-12)
    assert (TMQI_A, TMQI_ALPHA, TMQI_BETA) == (0.8012, 0.3046, 0.7088)


def test_identical_structure_gives_s_near_one():
    # HDR luminance an affine function of the LDR's: the structure term is exactly 1, and a
    # strongly textured LDR makes both psychometric terms ~1 at every scale.
    g = torch.Generator().manual_seed(3)
    codes = torch.rand(1, 1, 22, 22, generator=g)
    codes = torch.nn.functional.interpolate(codes, size=(176, 176), mode="nearest")[0, 0] * 200 + 20
    ldr = (codes / 255).expand(3, -1, -1).double()
    hdr = (codes * 7.0 + 3.0).expand(3, -1, -1).double()
    r = tmqi(hdr, ldr, primaries="bt709", quantize=False)
    assert float(r.S) > 0.995
    assert torch.all(r.s_local > 0.99)


def test_naturalness_of_constant_mid_grey_from_the_pdfs():
    # sig = 0 -> betapdf(0, 4.4, 10.1) = 0 -> N = 0 for any mean; the brightness factor alone
    # is the Gaussian pdf ratio, 1 at the mode 115.94.
    grey = torch.full((1, 1, 33, 33), 115.94, dtype=torch.float64)
    assert float(statistical_naturalness(grey)[0]) == 0.0
    # blocks with a known std: half the pixels +d, half -d around 115.94 (11x11 blocks, n-1)
    d = 10.0
    block = torch.full((11, 11), 115.94, dtype=torch.float64)
    block.view(-1)[0::2] += d
    block.view(-1)[1::2] -= d
    img = block.repeat(3, 3).view(1, 1, 33, 33)
    u = float(img.mean())
    sig = float(block.std(unbiased=True))
    pb = math.exp(-((u - 115.94) ** 2) / (2 * 27.99**2))
    mode = 3.4 / 12.5
    x = sig / 64.29
    pc = (x / mode) ** 3.4 * ((1 - x) / (1 - mode)) ** 9.1
    assert float(statistical_naturalness(img)[0]) == pytest.approx(pb * pc, rel=1e-12)


def test_hdr_scale_invariance():
    hdr, ldr = _scene(176, 192, 4)
    base = tmqi(hdr, ldr)
    for k in (1e-3, 0.37, 203.0, 5e3):
        assert float(tmqi(hdr * k, ldr).Q) == pytest.approx(float(base.Q), abs=1e-6)


def test_batch_equals_single_pictures():
    a = _scene(176, 176, 5)
    b = _scene(176, 176, 6)
    batch = tmqi(torch.stack([a[0], b[0]]), torch.stack([a[1], b[1]]))
    for i, (h, l) in enumerate((a, b)):
        single = tmqi(h, l)
        assert float(batch.Q[i]) == pytest.approx(float(single.Q), rel=1e-12)
    assert batch.Q.shape == (2,) and batch.s_local.shape == (2, 5)


def test_gradient_matches_finite_difference_in_ldr():
    hdr, ldr = _scene(176, 176, 7)
    ldr = ldr.clone().requires_grad_(True)
    q = tmqi(hdr, ldr, quantize=False).Q
    (grad,) = torch.autograd.grad(q, ldr)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    g = torch.Generator().manual_seed(8)
    direction = torch.randn(ldr.shape, generator=g, dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():
        plus = tmqi(hdr, ldr + eps * direction, quantize=False).Q
        minus = tmqi(hdr, ldr - eps * direction, quantize=False).Q
    numeric = float(plus - minus) / (2 * eps)
    assert float((grad * direction).sum()) == pytest.approx(numeric, rel=1e-4, abs=1e-8)


def test_quantised_straight_through_gradient_is_finite():
    hdr, ldr = _scene(176, 176, 9)
    ldr = ldr.float().requires_grad_(True)
    q = tmqi(hdr.float(), ldr, quantize=True).Q
    q.backward()
    assert torch.isfinite(ldr.grad).all() and ldr.grad.abs().sum() > 0


def test_bad_input_raises():
    hdr, ldr = _scene(176, 176, 10)
    with pytest.raises(InvalidInputError):
        tmqi(hdr, ldr[:, :100])
    with pytest.raises(InvalidInputError):
        tmqi(hdr[:, :150, :150], ldr[:, :150, :150])  # too small for five scales
    with pytest.raises(InvalidInputError):
        tmqi(hdr[0], ldr[0])


def test_sdr_display_encode_is_bt1886_of_the_bt709_picture():
    x = torch.tensor([0.0, 1.0, 18.0, 100.0, 250.0]).view(1, 5, 1).expand(3, 5, 1).contiguous()  # greys
    v = sdr_display_encode(x, 100.0)
    expected = (torch.tensor([0.0, 1.0, 18.0, 100.0, 100.0]) / 100) ** (1 / 2.4)
    torch.testing.assert_close(v[1, :, 0], expected, atol=1e-5, rtol=1e-5)
