"""Synthetic test media made with PyAV directly (independent of hdrvideo's own writer).

Pictures are built from integer code values with numpy, so tests know exactly what was
coded: a limited-range 10-bit luma ramp from code 64 to 940 across the width, neutral
chroma, and a 16x16 saturated patch that moves one pixel per frame.
"""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

HDR10_X265 = (
    "colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:range=limited:hdr10=1:"
    "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):"
    "max-cll=1000,400:log-level=error"
)
HLG_X265 = "colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc:range=limited:log-level=error"


def ramp_planes(width: int, height: int, index: int, bits: int = 10) -> list[np.ndarray]:
    """Y'CbCr 4:2:0 planes: luma ramp (limited range) + a moving saturated patch."""
    scale = 2 ** (bits - 8)
    lo, hi = 16 * scale, 235 * scale
    luma = np.tile(np.linspace(lo, hi, width).round().astype(np.uint16), (height, 1))
    cw, ch = (width + 1) // 2, (height + 1) // 2
    cb = np.full((ch, cw), 128 * scale, np.uint16)
    cr = np.full((ch, cw), 128 * scale, np.uint16)
    x = (index * 2) % max(cw - 8, 1)
    cr[2:10, x : x + 8] = 200 * scale
    cb[2:10, x : x + 8] = 90 * scale
    dtype = np.uint8 if bits == 8 else np.uint16
    return [luma.astype(dtype), cb.astype(dtype), cr.astype(dtype)]


def planes_frame(planes: list[np.ndarray], pix_fmt: str) -> av.VideoFrame:
    height, width = planes[0].shape
    vf = av.VideoFrame(width, height, pix_fmt)
    for plane, array in zip(vf.planes, planes):
        row = plane.line_size // array.dtype.itemsize
        padded = np.zeros((plane.height, row), dtype=array.dtype)
        padded[: array.shape[0], : array.shape[1]] = array
        plane.update(padded.tobytes())
    return vf


def encode_clip(
    path: Path,
    *,
    frames: int = 6,
    width: int = 128,
    height: int = 72,
    codec: str = "libx265",
    pix_fmt: str = "yuv420p10le",
    rate: int = 24,
    codes: tuple[int, int, int, int] = (9, 16, 9, 1),
    options: dict[str, str] | None = None,
    audio: bool = False,
) -> Path:
    """Encode a ramp clip; ``codes`` = (primaries, trc, colorspace, range) H.273 code points."""
    bits = 8 if pix_fmt in ("yuv420p", "yuv444p") else 10
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        cc = stream.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = codes
        if options is None and codec == "libx265":
            options = {"x265-params": HDR10_X265 if codes[1] == 16 else HLG_X265}
        cc.options = dict(options or {})
        audio_stream = out.add_stream("aac", rate=48000) if audio else None
        for i in range(frames):
            vf = planes_frame(ramp_planes(width, height, i, bits), pix_fmt)
            vf.pts = i
            vf.time_base = Fraction(1, rate)
            vf.color_primaries, vf.color_trc, vf.colorspace, vf.color_range = codes
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        if audio_stream is not None:
            samples = int(48000 * frames / rate)
            tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
            af = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            af.sample_rate, af.pts = 48000, 0
            for packet in audio_stream.encode(af):
                out.mux(packet)
            for packet in audio_stream.encode(None):
                out.mux(packet)
    return path


def audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=48000)
        tone = (0.1 * np.sin(np.arange(4800) / 10)).astype(np.int16)
        af = av.AudioFrame.from_ndarray(tone[None], format="s16", layout="mono")
        af.sample_rate, af.pts = 48000, 0
        for packet in stream.encode(af):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def ffprobe_json(*args: str) -> dict:
    """Run ffprobe (the independent oracle) and parse its JSON."""
    import json

    exe = shutil.which("ffprobe")
    assert exe, "ffprobe missing"
    out = subprocess.run([exe, "-v", "error", "-of", "json", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)
