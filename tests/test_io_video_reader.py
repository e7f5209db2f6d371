"""The PyAV reader: working-space values, signalling, metadata, windows, real files."""

from __future__ import annotations

import math

import pytest
import torch

from hdrvideo.color.hlg import eotf_BT2100_HLG
from hdrvideo.color.pq import eotf_ST2084
from hdrvideo.errors import HDRVideoWarning
from hdrvideo.io.video_reader import VideoReader
from tests.media import encode_clip, ramp_planes

FFV1 = {"codec": "ffv1", "options": {}}


def expected_ramp_signal(width: int) -> torch.Tensor:
    """Normalised Y' of the ramp's columns (limited range 10-bit: (code - 64) / 876)."""
    codes = torch.tensor(ramp_planes(width, 2, 0)[0][0].astype("float64"))
    return (codes - 64) / 876


def test_pq_ramp_decodes_to_st2084_luminance(tmp_path):
    clip = encode_clip(tmp_path / "pq.mkv", frames=2, **FFV1)
    with VideoReader(clip) as reader:
        frame = next(iter(reader))
    assert frame.data.shape == (3, 72, 128) and frame.data.dtype == torch.float32
    row = frame.data[:, 60].double()  # below the moving patch: neutral grey
    expected = eotf_ST2084(expected_ramp_signal(128))
    torch.testing.assert_close(row, expected.expand(3, -1), rtol=1e-4, atol=1e-3)
    assert row.max() == pytest.approx(10000.0, rel=1e-4)


def test_hlg_ramp_decodes_through_the_ootf(tmp_path):
    clip = encode_clip(tmp_path / "hlg.mkv", frames=1, codes=(9, 18, 9, 1), **FFV1)
    with VideoReader(clip, hlg_display_peak_nits=1000.0) as reader:
        frame = next(iter(reader))
        assert reader.info.hdr_format == "HLG"
    row = frame.data[:, 60].double()
    signal = expected_ramp_signal(128).expand(3, 1, -1)
    expected = eotf_BT2100_HLG(signal, L_W=1000.0)[:, 0]
    torch.testing.assert_close(row, expected, rtol=1e-4, atol=1e-3)
    assert row.max() == pytest.approx(1000.0, rel=1e-3)


def test_sdr_white_lands_at_the_stated_level(tmp_path):
    clip = encode_clip(tmp_path / "sdr.mkv", frames=1, codes=(1, 1, 1, 1), **FFV1)
    for white in (100.0, 203.0):
        with VideoReader(clip, sdr_white_nits=white) as reader:
            frame = next(iter(reader))
        assert frame.data[1, 60, -1].item() == pytest.approx(white, rel=1e-4)
        assert frame.data[:, 60, 0].abs().max().item() < 1e-3


def test_saturated_patch_keeps_its_hue(tmp_path):
    clip = encode_clip(tmp_path / "pq.mkv", frames=1, **FFV1)
    with VideoReader(clip) as reader:
        frame = next(iter(reader))
    patch = frame.data[:, 8, 2]  # inside the patch: Cr high, Cb low -> red dominates blue
    assert patch[0] > patch[1] and patch[0] > patch[2]


def test_hdr10_metadata_reaches_frames_and_info(hdr10_clip):
    with VideoReader(hdr10_clip) as reader:
        info = reader.info
        frames = list(reader)
    assert info.hdr_format == "HDR10" and info.spec.transfer == "pq"
    assert info.mastering_display.max_luminance_nits == pytest.approx(1000.0)
    assert info.mastering_display.min_luminance_nits == pytest.approx(0.005)
    assert info.content_light_level.max_cll_nits == 1000
    assert info.content_light_level.max_fall_nits == 400
    assert len(frames) == 6 and [f.index for f in frames] == list(range(6))
    assert frames[1].pts_seconds == pytest.approx(1 / 24, abs=1e-3)  # MKV: millisecond timestamps
    assert frames[0].side_data["mastering_display"] == info.mastering_display
    assert all(torch.isfinite(f.data).all() for f in frames)


def test_lossy_hevc_is_close_to_the_lossless_decode(hdr10_clip, tmp_path):
    lossless = encode_clip(tmp_path / "ref.mkv", frames=1, **FFV1)
    with VideoReader(hdr10_clip) as a, VideoReader(lossless) as b:
        x, y = next(iter(a)).data, next(iter(b)).data
    from hdrvideo.color.pq import eotf_inverse_ST2084

    err = (eotf_inverse_ST2084(x.clamp(min=0)) - eotf_inverse_ST2084(y)).abs()
    assert err.mean() < 4 / 1023  # within a few 10-bit PQ codes on average


@pytest.mark.parametrize("container", ["mkv", "hevc"])
def test_window_start_and_duration(tmp_path, container):
    clip = encode_clip(tmp_path / f"clip.{container}", frames=24, options={"x265-params": "keyint=8:log-level=error"})
    with VideoReader(clip, start_seconds=0.5, duration_seconds=0.25) as reader:
        frames = list(reader)
    times = [f.pts_seconds for f in frames]
    assert len(frames) == 6
    assert times[0] == pytest.approx(0.5, abs=1e-3)
    assert frames[0].index == 0


def test_override_fixes_a_mistagged_file(tmp_path):
    clip = encode_clip(tmp_path / "untagged.mkv", frames=1, codes=(2, 2, 9, 1), **FFV1)
    with pytest.warns(HDRVideoWarning, match="--assume"):
        reader = VideoReader(clip)
    assert reader.info.spec.transfer == "bt1886" and not reader.info.spec.signalled
    reader.close()
    with VideoReader(clip, override={"transfer": "pq", "primaries": "bt2020"}) as reader:
        assert reader.info.hdr_format == "HDR10"
        frame = next(iter(reader))
    assert frame.data.max().item() == pytest.approx(10000.0, rel=1e-4)


def test_odd_frame_size_with_420_reads(tmp_path):
    clip = encode_clip(tmp_path / "odd.mkv", frames=2, width=65, height=37, **FFV1)
    with VideoReader(clip) as reader:
        frame = next(iter(reader))
    assert frame.data.shape == (3, 37, 65)
    assert torch.isfinite(frame.data).all()


# -- real files -----------------------------------------------------------------------------
REAL = [
    ("hdr10/sample_with_colr_mdcv_and_clli.mp4", "HDR10"),
    ("hdr10/hdr10-av1.mp4", "HDR10"),
    ("hdr10plus/ToS-s01.h265", "HDR10+"),
    ("hdr10plus/ToS-s07.h265", "HDR10+"),
    ("hdr10plus/hdr10-video-with-sdr-container.mp4", "HDR10+"),
    ("hlg/hlg10-color-test.mp4", "HLG"),
    ("metadata_only/hdr10plus_regular.mkv", "HDR10+"),
    ("metadata_only/dovi_p81_regular.mkv", "HDR10"),
]


@pytest.mark.parametrize("name,fmt", REAL)
def test_real_clips_decode_to_plausible_light(shared_data, name, fmt):
    with VideoReader(shared_data / "video" / name) as reader:
        assert reader.info.hdr_format == fmt
        frame = next(iter(reader))
    x = frame.data
    assert torch.isfinite(x).all()
    peak = 1000.0 if fmt == "HLG" else 10000.0
    assert x.min() >= 0 and x.max() <= peak * 1.0001
    if not name.startswith("metadata_only/"):  # those carry metadata over black pictures
        assert x.max() > 1.0


def test_hdr10plus_dynamic_metadata_per_frame(shared_data):
    with VideoReader(shared_data / "video/metadata_only/hdr10plus_regular.mkv") as reader:
        frames = [f for _, f in zip(range(3), reader)]
    assert all("hdr10plus" in f.side_data for f in frames)


def test_untagged_vp9_warns_and_guesses_sdr(shared_data):
    with pytest.warns(HDRVideoWarning, match="signalling incomplete"):
        reader = VideoReader(shared_data / "video/other/roadtrip-vp92-10bit.webm")
    with reader:
        assert reader.info.spec.matrix == "bt2020nc"
        assert reader.info.spec.primaries == "bt2020"
        assert reader.info.hdr_format == "SDR"
        assert math.isfinite(next(iter(reader)).data.sum().item())


def test_avif_still_reads_as_hdr10(shared_data):
    with pytest.warns(HDRVideoWarning, match="side data could not be read"):
        reader = VideoReader(shared_data / "stills/colors_hdr_rec2020.avif")
    with reader:
        assert reader.info.spec.transfer == "pq" and reader.info.spec.range == "full"
        frames = list(reader)
    assert len(frames) == 1 and frames[0].data.shape == (3, 200, 200)
    assert torch.isfinite(frames[0].data).all() and frames[0].data.max() > 100


def test_untagged_y4m_with_override(shared_data):
    path = shared_data / "stills/cosmos1650_yuv444_10bpc_p3pq.y4m"
    with pytest.warns(HDRVideoWarning, match="signalling incomplete"):
        VideoReader(path).close()
    with VideoReader(path, override={"primaries": "p3d65", "transfer": "pq", "matrix": "bt709"}) as reader:
        assert reader.info.chroma_subsampling == "4:4:4" and reader.info.spec.range == "full"
        frame = next(iter(reader))
    assert frame.data.shape == (3, 428, 1024)
    assert torch.isfinite(frame.data).all() and 0 < frame.data.max() <= 10000


def test_window_end_keeps_frames_decoded_with_a_later_one(tmp_path):
    # One packet can yield several frames (B-frame reordering flushes): the ones inside the
    # window must be delivered even when a later one in the same batch is past its end.
    clip = encode_clip(tmp_path / "clip.mkv", frames=6)
    with VideoReader(clip, duration_seconds=0.1) as reader:
        assert len(list(reader)) == 3  # frames at 0, 1/24 and 2/24 s
