"""HLG <-> PQ conversion per ITU-R BT.2408 (display-referred, 1000 cd/m² HLG display): no tone
curve, the light stays where it was."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch

from hdrvideo.api import transcode
from hdrvideo.color.hlg import eotf_BT2100_HLG
from hdrvideo.color.pq import eotf_inverse_ST2084
from hdrvideo.io.video_reader import VideoReader
from tests.media import encode_clip, ramp_planes


def _luma_row(path) -> np.ndarray:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    return frame.to_ndarray()[60].astype(np.float64)  # a neutral row of the ramp (below the patch)


def test_hlg_to_pq_keeps_display_light(tmp_path):
    hlg = encode_clip(tmp_path / "hlg.mkv", frames=2, codes=(9, 18, 9, 1), codec="ffv1", options={})
    out = tmp_path / "pq.mkv"
    report = transcode(hlg, out, "", to="hdr10", codec="ffv1")
    assert (report.output_spec.transfer, report.output_spec.primaries) == ("pq", "bt2020")
    # Expected PQ codes, independently: HLG signal -> BT.2100 EOTF at 1000 cd/m² -> PQ -> 10-bit limited.
    signal = (torch.tensor(ramp_planes(128, 2, 0)[0][0].astype(np.float64)) - 64) / 876
    light = eotf_BT2100_HLG(signal.expand(3, 1, -1), L_W=1000.0)[1, 0]
    expected = (eotf_inverse_ST2084(light) * 876 + 64).numpy()
    assert np.abs(_luma_row(out) - expected).max() <= 1.0
    # BT.2408's anchor: HLG 75 % (reference white) lands at about 203 cd/m² (PQ ~ 0.58).
    column = int(np.argmin(np.abs(signal.numpy() - 0.75)))
    assert light[column].item() == pytest.approx(203.0, rel=0.02)


def test_pq_to_hlg_and_back_round_trips(tmp_path):
    pq = encode_clip(tmp_path / "pq.mkv", frames=1, codec="ffv1", options={})
    hlg, back = tmp_path / "hlg.mkv", tmp_path / "back.mkv"
    transcode(pq, hlg, "", to="hlg", codec="ffv1")
    transcode(hlg, back, "", to="hdr10", codec="ffv1")
    with VideoReader(pq) as a, VideoReader(back) as b:
        x, y = next(iter(a)).data, next(iter(b)).data
    # Neutral rows (below the saturated patch) up to the HLG display's 1000 cd/m² round-trip.
    # Saturated bright colours need scene light above 1 after HLG's inverse OOTF: HLG cannot
    # code them, so they are not expected back.
    neutral = x[:, 30:], y[:, 30:]
    inside = neutral[0].amax(dim=0) < 950
    err = (eotf_inverse_ST2084(neutral[0]) - eotf_inverse_ST2084(neutral[1])).abs()[:, inside]
    assert err.max() < 3 / 876
    assert y.amax() <= 1000 * 1.005  # nothing brighter than the HLG display (one 10-bit PQ step ~0.4 %)
