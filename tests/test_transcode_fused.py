"""transcode() takes the fused hot path when it can, and it gives the generic path's pictures."""

from __future__ import annotations

import av
import numpy as np
import pytest

from hdrvideo.api import transcode
from hdrvideo.cli import main
from tests.media import encode_clip


@pytest.fixture(scope="module")
def hdr10_source(tmp_path_factory):
    return encode_clip(tmp_path_factory.mktemp("fused") / "src.mkv", frames=8, width=128, height=72)


def _planes(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray().astype(np.int32) for f in container.decode(video=0)])


@pytest.mark.parametrize("chain,fused", [
    ("tonemap=curve=bt2390:intensity=maxrgb", True),
    ("tonemap=curve=hable:intensity=luminance,gamut=mode=clip", True),
    ("tonemap=curve=bt2390", False),  # ictcp intensity: generic path
    ("tonemap=curve=bt2390:intensity=maxrgb,gamut=mode=perceptual", False),
])
def test_fast_path_is_taken_only_where_supported(hdr10_source, tmp_path, chain, fused):
    report = transcode(hdr10_source, tmp_path / "out.mkv", chain, codec="ffv1")
    assert report.fused is fused
    assert report.frames == 8


@pytest.mark.parametrize("chain", ["tonemap=curve=bt2390:intensity=maxrgb",
                                   "tonemap=curve=bt2390:intensity=maxrgb:target=hdr10:peak_nits=600"])
def test_fused_and_generic_paths_agree(hdr10_source, tmp_path, chain):
    fast = transcode(hdr10_source, tmp_path / "fast.mkv", chain, codec="ffv1")
    slow = transcode(hdr10_source, tmp_path / "slow.mkv", chain, codec="ffv1", fast=False)
    assert fast.fused and not slow.fused
    assert fast.output_spec == slow.output_spec
    diff = np.abs(_planes(tmp_path / "fast.mkv") - _planes(tmp_path / "slow.mkv"))
    # Same numbers up to table interpolation and (8-bit) differently seeded dither.
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 4


def test_cli_no_fused_flag(hdr10_source, tmp_path):
    out = tmp_path / "generic.mkv"
    assert main(["-nostats", "-i", str(hdr10_source), "-vf", "tonemap=curve=bt2390:intensity=maxrgb",
                 "-c:v", "ffv1", "--no-fused", str(out)]) == 0
    assert _planes(out).shape[0] == 8


@pytest.mark.parametrize("chain,fast", [("tonemap=curve=bt2390:intensity=maxrgb", True),
                                        ("tonemap=curve=bt2390", False)])
def test_same_input_gives_the_same_output_bytes(hdr10_source, tmp_path, chain, fast):
    """Temporal adaptation is deterministic, and so is the file (bit-exact muxing, seeded dither)."""
    outputs = [tmp_path / f"run{i}.mkv" for i in (1, 2)]
    for out in outputs:
        transcode(hdr10_source, out, chain, codec="libx264", fast=fast)
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
