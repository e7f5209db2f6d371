"""Every colour function keeps the input's device: checked on "meta" (no data, runs
anywhere) and, where there is one, on CUDA against the CPU result."""

from __future__ import annotations

import pytest
import torch

import hdrvideo.color as C

F64 = torch.float64

# name -> (function, scale of a typical input)
FUNCTIONS = {
    "eotf_ST2084": (C.eotf_ST2084, 1.0),
    "eotf_inverse_ST2084": (C.eotf_inverse_ST2084, 1000.0),
    "oetf_BT2100_HLG": (C.oetf_BT2100_HLG, 1.0),
    "oetf_inverse_BT2100_HLG": (C.oetf_inverse_BT2100_HLG, 1.0),
    "ootf_BT2100_HLG": (lambda x: C.ootf_BT2100_HLG(x, 1000.0, 0.01), 1.0),
    "ootf_inverse_BT2100_HLG": (lambda x: C.ootf_inverse_BT2100_HLG(x, 1000.0, 0.01), 1000.0),
    "eotf_BT2100_HLG": (lambda x: C.eotf_BT2100_HLG(x, 1000.0, 0.01), 1.0),
    "eotf_inverse_BT2100_HLG": (lambda x: C.eotf_inverse_BT2100_HLG(x, 1000.0, 0.01), 1000.0),
    "eotf_sRGB": (C.eotf_sRGB, 1.0),
    "eotf_inverse_sRGB": (C.eotf_inverse_sRGB, 1.0),
    "eotf_BT1886": (C.eotf_BT1886, 1.0),
    "eotf_inverse_BT1886": (C.eotf_inverse_BT1886, 100.0),
    "oetf_BT709": (C.oetf_BT709, 1.0),
    "oetf_inverse_BT709": (C.oetf_inverse_BT709, 1.0),
    "gamma_encode": (lambda x: C.gamma_encode(x, 2.2), 1.0),
    "gamma_decode": (lambda x: C.gamma_decode(x, 2.2), 1.0),
    "mu_law_encode": (C.mu_law_encode, 1.0),
    "mu_law_decode": (C.mu_law_decode, 1.0),
    "pu21_encode": (C.pu21_encode, 1000.0),
    "pu21_decode": (C.pu21_decode, 500.0),
    "rgb_to_ycbcr": (C.rgb_to_ycbcr, 1.0),
    "ycbcr_to_rgb": (C.ycbcr_to_rgb, 1.0),
    "ycbcr_to_codes": (C.ycbcr_to_codes, 1.0),
    "codes_to_ycbcr": (C.codes_to_ycbcr, 1023.0),
    "rgb_to_codes": (C.rgb_to_codes, 1.0),
    "codes_to_rgb": (C.codes_to_rgb, 1023.0),
    "rgb_to_ictcp": (C.rgb_to_ictcp, 1000.0),
    "ictcp_to_rgb": (C.ictcp_to_rgb, 0.3),
    "luminance": (C.luminance, 1000.0),
    "convert_primaries": (lambda x: C.convert_primaries(x, "bt709", "bt2020"), 1.0),
    **{f"decode_{t}": ((lambda t: lambda x: C.decode_transfer(x, t, peak_nits=400.0))(t), 1.0) for t in C.TRANSFERS},
    **{f"encode_{t}": ((lambda t: lambda x: C.encode_transfer(x, t, peak_nits=400.0))(t), 400.0) for t in C.TRANSFERS},
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_meta_device(name):
    f, _ = FUNCTIONS[name]
    x = torch.empty(2, 3, 4, 5, device="meta")
    y = f(x)
    assert y.device.type == "meta" and y.dtype == torch.float32
    assert y.shape[-2:] == (4, 5) and y.shape[0] == 2


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_cuda_matches_cpu(dtype):
    tol = {torch.float64: 1e-12, torch.float32: 1e-5, torch.float16: 2e-3}[dtype]
    for name, (f, scale) in FUNCTIONS.items():
        x = (torch.rand(2, 3, 8, 8, dtype=F64, generator=torch.Generator().manual_seed(0)) * scale).to(dtype)
        cpu = f(x)
        gpu = f(x.cuda())
        assert gpu.device.type == "cuda" and gpu.dtype == cpu.dtype, name
        assert torch.allclose(gpu.cpu().double(), cpu.double(), rtol=tol, atol=tol), name
        xg = x.cuda().double().requires_grad_()
        f(xg).sum().backward()
        assert torch.isfinite(xg.grad).all(), name
