"""Broadcast distortions: shapes, finiteness, real encoding, monotone by the teacher."""

from __future__ import annotations

import pytest
import torch

from hdrvideo.errors import InvalidInputError
from hdrvideo.nn.distortions import DISTORTIONS, FAMILIES, apply_distortion, codec_bytes, distortion_names
from hdrvideo.quality.pu21_metrics import MSSSIM_MIN_SIDE, pu21_msssim


@pytest.fixture(scope="module")
def scene() -> torch.Tensor:
    from hdrvideo.nn.procedural import procedural_scene

    return procedural_scene(3, MSSSIM_MIN_SIDE, MSSSIM_MIN_SIDE, peak_nits=1000.0)


def test_families_are_the_six_named() -> None:
    assert set(FAMILIES) == {"codec", "noise_blur", "banding", "clipping", "tone_mapping", "inverse_tone_mapping"}
    assert sum(len(v) for v in FAMILIES.values()) == len(DISTORTIONS)
    assert distortion_names("codec") == ["x265", "x264", "svtav1"]


@pytest.mark.parametrize("name", list(DISTORTIONS))
def test_finite_different_same_shape(name: str, scene: torch.Tensor) -> None:
    ref = scene[:, :64, :80].contiguous() if DISTORTIONS[name].family == "codec" else scene
    out = apply_distortion(name, ref, 0.8, torch.Generator().manual_seed(1))
    assert out.shape == ref.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all() and (out >= 0).all()
    assert not torch.equal(out, ref)


@pytest.mark.parametrize("encoder,name", [("libx265", "x265"), ("libx264", "x264"), ("libsvtav1", "svtav1")])
def test_codec_really_encodes(encoder: str, name: str, scene: torch.Tensor) -> None:
    ref = scene[:, :64, :64].contiguous()
    mild = apply_distortion(name, ref, 0.0)
    bytes_mild = codec_bytes(encoder)
    harsh = apply_distortion(name, ref, 1.0)
    assert bytes_mild > 0 and codec_bytes(encoder) > 0
    assert codec_bytes(encoder) < bytes_mild  # higher CRF, fewer bytes
    assert (mild - ref).abs().mean() < (harsh - ref).abs().mean()


def test_odd_sizes_come_back_the_same_size(scene: torch.Tensor) -> None:
    ref = scene[:, :37, :51].contiguous()
    assert apply_distortion("x265", ref, 0.5).shape == ref.shape


def test_stronger_levels_score_worse_by_the_teacher(scene: torch.Tensor) -> None:
    """Per family, the mean PU21-MS-SSIM falls from level 0.1 to 0.5 to 0.95."""
    for family, names in FAMILIES.items():
        means = []
        for level in (0.1, 0.5, 0.95):
            batch = torch.stack([apply_distortion(n, scene, level, torch.Generator().manual_seed(2)) for n in names])
            means.append(pu21_msssim(batch, scene.expand_as(batch)).mean().item())
        assert means[0] > means[1] > means[2], (family, means)


def test_deterministic_with_a_seeded_generator(scene: torch.Tensor) -> None:
    ref = scene[:, :32, :32]
    a = apply_distortion("pq_noise", ref, 0.5, torch.Generator().manual_seed(5))
    b = apply_distortion("pq_noise", ref, 0.5, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_bad_arguments_raise(scene: torch.Tensor) -> None:
    with pytest.raises(InvalidInputError, match="unknown distortion"):
        apply_distortion("nope", scene, 0.5)
    with pytest.raises(InvalidInputError, match="level"):
        apply_distortion("blur", scene, 1.5)
    with pytest.raises(InvalidInputError):
        apply_distortion("blur", scene[None], 0.5)
    with pytest.raises(InvalidInputError):
        distortion_names("nope")
