"""Broadcast-chain distortions of HDR pictures, for training and testing quality networks.

Every distortion is a function ``(reference, level, generator) -> distorted`` on one
picture in the working space:

============  ===============================================  =====================
Domain        ``reference``: ``(3, H, W)`` float32, linear       cd/m², BT.2020
              BT.2020 light, H, W >= 16
              ``level``: strength in [0, 1] (0 = mildest,
              1 = most severe)
Range         ``(3, H, W)`` float32, same device                 cd/m², BT.2020
============  ===============================================  =====================

They are grouped in families (:data:`FAMILIES`): ``codec`` (real x265 / x264 / SVT-AV1
compression through PyAV, 10-bit PQ 4:2:0), ``noise_blur`` (Gaussian noise in PQ, photon
noise in linear light, Gaussian blur), ``banding`` (PQ bit-depth reduction), ``clipping``
(hard clip at a low peak), ``tone_mapping`` (a harsh global curve; also the signalling
mistakes of a broadcast chain, which render the tones wrong: PQ read as HLG or as gamma 2.4,
BT.709 primaries read as BT.2020) and ``inverse_tone_mapping`` (an 8-bit SDR grade of the
picture naively expanded back to HDR).

The signalling mistakes are blended with the right picture in the PQ domain by ``level``
(``PQ(out) = (1 - level) PQ(ref) + level PQ(wrong)``) so that they have a strength too.

Codec distortions encode three frames in memory (the picture shifted by -1, 0, +1 pixel, a
slow pan, so inter prediction is exercised) with ``preset`` ultrafast / 12 and decode the
middle one; the CRF grows linearly with ``level`` over the range in :data:`CODEC_CRF`.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from collections.abc import Callable
from dataclasses import dataclass

import av
import torch
import torch.nn.functional as F

from hdrvideo.color.hlg import eotf_BT2100_HLG
from hdrvideo.color.luminance import luminance
from hdrvideo.color.pq import eotf_ST2084, eotf_inverse_ST2084
from hdrvideo.color.primaries import convert_primaries
from hdrvideo.errors import InvalidInputError
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.io.convert import frame_to_working, working_to_frame

__all__ = [
    "CODEC_CRF",
    "DISTORTIONS",
    "FAMILIES",
    "Distortion",
    "apply_distortion",
    "codec_bytes",
    "distortion_names",
]

DistortionFn = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]

#: CRF at level 0 and at level 1 for each encoder (libx265 and libx264: 0-51, SVT-AV1: 0-63).
CODEC_CRF: dict[str, tuple[int, int]] = {"libx265": (22, 51), "libx264": (22, 51), "libsvtav1": (30, 63)}

# SVT-AV1 prints its configuration banner at every encoder start unless told to log errors only.
os.environ.setdefault("SVT_LOG", "1")

_PQ_SPEC = ColorSpec(primaries="bt2020", transfer="pq", matrix="bt2020nc", range="limited", bit_depth=10)


@dataclass(frozen=True)
class Distortion:
    """One distortion: its name, family, one-line description and function."""

    name: str
    family: str
    description: str
    fn: DistortionFn


def _check(reference: torch.Tensor, level: float) -> None:
    if not isinstance(reference, torch.Tensor) or reference.dim() != 3 or reference.shape[0] != 3:
        shape = tuple(reference.shape) if isinstance(reference, torch.Tensor) else type(reference).__name__
        raise InvalidInputError(f"expected a (3, H, W) picture, got {shape}")
    if min(reference.shape[-2:]) < 16:
        raise InvalidInputError(f"pictures must be at least 16x16 pixels, got {tuple(reference.shape[-2:])}")
    if not 0.0 <= float(level) <= 1.0:
        raise InvalidInputError(f"level must be in [0, 1], got {level}")


def _pq(x: torch.Tensor) -> torch.Tensor:
    return eotf_inverse_ST2084(x.clamp(min=0))


def _blend_pq(reference: torch.Tensor, wrong: torch.Tensor, level: float) -> torch.Tensor:
    return eotf_ST2084(torch.lerp(_pq(reference), _pq(wrong), level))


# -- codec -----------------------------------------------------------------------------------
_last_codec_bytes: dict[str, int] = {}


def codec_bytes(encoder: str) -> int:
    """Bytes of the last encode by ``encoder`` in this process (for tests and logs)."""
    return _last_codec_bytes.get(encoder, 0)


def _encode_decode(reference: torch.Tensor, encoder: str, crf: int) -> torch.Tensor:
    h, w = reference.shape[-2:]
    ph, pw = (-h) % 8, (-w) % 8  # even sizes for 4:2:0; multiples of 8 for SVT-AV1
    x = F.pad(reference[None], (0, pw, 0, ph), mode="replicate")[0] if ph or pw else reference
    frames = [torch.roll(x, shifts=s, dims=-1) for s in (-1, 0, 1)]
    enc = av.CodecContext.create(encoder, "w")
    enc.width, enc.height = x.shape[-1], x.shape[-2]
    enc.pix_fmt = "yuv420p10le"
    enc.time_base = Fraction(1, 25)
    enc.framerate = Fraction(25, 1)
    if encoder == "libx265":
        enc.options = {"crf": str(crf), "preset": "ultrafast", "x265-params": "log-level=error"}
    elif encoder == "libx264":
        enc.options = {"crf": str(crf), "preset": "ultrafast"}
    else:
        enc.options = {"crf": str(crf), "preset": "12"}
    packets = []
    for i, f in enumerate(frames):
        vf = working_to_frame(f.cpu(), _PQ_SPEC, pix_fmt="yuv420p10le")
        vf.pts = i
        packets.extend(enc.encode(vf))
    packets.extend(enc.encode(None))
    _last_codec_bytes[encoder] = sum(p.size for p in packets)
    dec = av.CodecContext.create({"libx265": "hevc", "libx264": "h264", "libsvtav1": "libdav1d"}[encoder], "r")
    if encoder != "libsvtav1" and enc.extradata:
        dec.extradata = enc.extradata
    decoded = []
    for p in packets:
        decoded.extend(dec.decode(p))
    decoded.extend(dec.decode(None))
    decoded.sort(key=lambda f: f.pts if f.pts is not None else 0)
    if len(decoded) != 3:
        raise RuntimeError(f"{encoder}: decoded {len(decoded)} frames of 3")
    out = frame_to_working(decoded[1], _PQ_SPEC).to(reference.device)
    return out[:, :h, :w].contiguous()


def _codec(encoder: str) -> DistortionFn:
    lo, hi = CODEC_CRF[encoder]

    def fn(reference: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
        return _encode_decode(reference, encoder, round(lo + (hi - lo) * level))

    return fn


# -- noise and blur --------------------------------------------------------------------------
def pq_noise(reference: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise on the PQ signal, sigma = 0.002 + 0.04 level (PQ code 0-1 units)."""
    pq = _pq(reference)
    noise = torch.randn(pq.shape, generator=generator, dtype=pq.dtype).to(pq.device)
    return eotf_ST2084((pq + (0.002 + 0.04 * level) * noise).clamp(0, 1))


def photon_noise(reference: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Signal-dependent (shot) noise in linear light: std = sqrt(g L), g = 0.05 + 8 level cd/m²."""
    g = 0.05 + 8.0 * level
    noise = torch.randn(reference.shape, generator=generator, dtype=reference.dtype).to(reference.device)
    return (reference + (g * reference.clamp(min=0)).sqrt() * noise).clamp(min=0)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    y = F.pad(x[None], (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, g.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    return F.conv2d(y, g.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)[0]


def blur(reference: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Gaussian blur of the linear picture, sigma = 0.4 + 3.6 level pixels."""
    return _gaussian_blur(reference, 0.4 + 3.6 * level)


# -- banding, clipping -----------------------------------------------------------------------
def banding(reference: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """PQ signal quantised to ``10 - 6 level`` bits (10 bits down to 4), no dither."""
    steps = 2.0 ** (10 - 6 * level) - 1
    return eotf_ST2084(torch.round(_pq(reference) * steps) / steps)


def clipping(reference: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Each channel clipped at a peak from 4000 cd/m² (level 0) down to 100 (level 1), log-spaced."""
    peak = math.exp(math.log(4000.0) + (math.log(100.0) - math.log(4000.0)) * level)
    return reference.clamp(0, peak)


# -- tone rendering --------------------------------------------------------------------------
def tone_curve(reference: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """A harsh global curve on luminance, ``Y' = Y / (1 + Y / P)``, P from 4000 down to 40 cd/m²."""
    P = math.exp(math.log(4000.0) + (math.log(40.0) - math.log(4000.0)) * level)
    Y = luminance(reference).clamp(min=1e-6)
    return reference * ((1.0 / (1.0 + Y / P)))


def pq_as_hlg(reference: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """The PQ signal displayed as HLG on a 1000 cd/m² display (BT.2100 EOTF), PQ-blended by level."""
    wrong = eotf_BT2100_HLG(_pq(reference), L_W=1000.0)
    return _blend_pq(reference, wrong, level)


def pq_as_gamma(reference: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """The PQ signal displayed as gamma 2.4 SDR at 100 cd/m², PQ-blended by level."""
    wrong = 100.0 * _pq(reference).pow(2.4)
    return _blend_pq(reference, wrong, level)


def bt709_as_bt2020(reference: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """BT.709 RGB read as BT.2020 RGB (oversaturation), PQ-blended by level."""
    rgb709 = convert_primaries(reference, "bt2020", "bt709").clamp(min=0)
    return _blend_pq(reference, rgb709, level)


def inverse_tone_mapping(reference: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """SDR-ised then naively expanded.

    SDR grade: clip at white ``W`` (4000 cd/m² at level 0 down to 150 at level 1, log-spaced),
    gamma 1/2.4, 8-bit codes; expansion: ``W * V^(2.4 (1 + 0.5 level))`` (a wrong gamma that
    darkens mid-tones, as a naive inverse tone mapper does).
    """
    W = math.exp(math.log(4000.0) + (math.log(150.0) - math.log(4000.0)) * level)
    V = torch.round((reference / W).clamp(0, 1).pow(1 / 2.4) * 255) / 255
    return W * V.pow(2.4 * (1 + 0.5 * level))


#: Every distortion by name.
DISTORTIONS: dict[str, Distortion] = {
    d.name: d
    for d in (
        Distortion("x265", "codec", "HEVC (x265, ultrafast), 10-bit PQ 4:2:0, CRF 22-51", _codec("libx265")),
        Distortion("x264", "codec", "H.264 (x264, ultrafast), 10-bit PQ 4:2:0, CRF 22-51", _codec("libx264")),
        Distortion("svtav1", "codec", "AV1 (SVT-AV1, preset 12), 10-bit PQ 4:2:0, CRF 30-63", _codec("libsvtav1")),
        Distortion("pq_noise", "noise_blur", pq_noise.__doc__.splitlines()[0], pq_noise),
        Distortion("photon_noise", "noise_blur", photon_noise.__doc__.splitlines()[0], photon_noise),
        Distortion("blur", "noise_blur", blur.__doc__.splitlines()[0], blur),
        Distortion("banding", "banding", banding.__doc__.splitlines()[0], banding),
        Distortion("clipping", "clipping", clipping.__doc__.splitlines()[0], clipping),
        Distortion("tone_curve", "tone_mapping", tone_curve.__doc__.splitlines()[0], tone_curve),
        Distortion("pq_as_hlg", "tone_mapping", pq_as_hlg.__doc__.splitlines()[0], pq_as_hlg),
        Distortion("pq_as_gamma", "tone_mapping", pq_as_gamma.__doc__.splitlines()[0], pq_as_gamma),
        Distortion("bt709_as_bt2020", "tone_mapping", bt709_as_bt2020.__doc__.splitlines()[0], bt709_as_bt2020),
        Distortion("inverse_tone_mapping", "inverse_tone_mapping", "8-bit SDR grade naively expanded to HDR",
                   inverse_tone_mapping),
    )
}

#: Family -> names of its distortions.
FAMILIES: dict[str, tuple[str, ...]] = {}
for _d in DISTORTIONS.values():
    FAMILIES[_d.family] = FAMILIES.get(_d.family, ()) + (_d.name,)


def distortion_names(family: str | None = None) -> list[str]:
    """Names of every distortion, or of one family's."""
    if family is None:
        return list(DISTORTIONS)
    if family not in FAMILIES:
        raise InvalidInputError(f"unknown distortion family {family!r}; valid: {', '.join(FAMILIES)}")
    return list(FAMILIES[family])


def apply_distortion(
    name: str, reference: torch.Tensor, level: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply the distortion ``name`` at ``level`` to a ``(3, H, W)`` cd/m² picture.

    Raises:
        InvalidInputError: unknown name, bad shape or level outside [0, 1].
    """
    if name not in DISTORTIONS:
        raise InvalidInputError(f"unknown distortion {name!r}; valid: {', '.join(DISTORTIONS)}")
    _check(reference, level)
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    out = DISTORTIONS[name].fn(reference.float(), float(level), generator)
    return torch.nan_to_num(out, nan=0.0, posinf=10000.0).clamp(0, 10000.0).to(torch.float32)
