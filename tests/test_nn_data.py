"""Training data: real image splits, scaling, SDR photos, crops, camera curves, patches, procedural scenes."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("skimage")

from hdrvideo.color import luminance  # noqa: E402
from hdrvideo.errors import InvalidInputError  # noqa: E402
from hdrvideo.nn import data  # noqa: E402
from hdrvideo.nn.data import (  # noqa: E402
    NATURAL_IMAGES,
    VALIDATION_IMAGES,
    HDRPatchDataset,
    augment,
    best_exposure,
    camera_response,
    make_sdr,
    master_to_display,
    random_crop,
    real_hdr_images,
    sdr_images,
)
from hdrvideo.nn.procedural import procedural_scene, procedural_sequence  # noqa: E402


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- real images


def test_splits_disjoint_and_validation_present(shared_data):
    train = {i.name for i in real_hdr_images("train", shared_data)}
    val = {i.name for i in real_hdr_images("val", shared_data)}
    everything = {i.name for i in real_hdr_images("all", shared_data)}
    assert val and train
    assert not train & val
    assert val == set(VALIDATION_IMAGES)
    assert train | val == everything == set(NATURAL_IMAGES)
    for image in real_hdr_images("val", shared_data):
        assert image.path.is_file()
    # synthetic charts are never training data
    assert not any(n.startswith("TestImages_") or n in ("DisplayWindow_t09", "imagers_scale") for n in everything)


def test_bad_split():
    with pytest.raises(InvalidInputError, match="split"):
        real_hdr_images("test")


def test_load_scale_rule_and_grading(shared_data):
    image = next(i for i in real_hdr_images("val", shared_data) if i.name == "ScanLines_Desk")
    scene = image.load_scene(1000.0)
    assert torch.isfinite(scene).all() and (scene >= 0).all()  # the file has negatives
    p99 = torch.quantile(luminance(scene).flatten(), 0.99).item()
    assert p99 == pytest.approx(500.0, rel=1e-3)
    graded = image.load(1000.0)
    assert graded.shape == scene.shape and graded.dtype == torch.float32
    assert graded.max() <= 1000.0 and graded.max() > 900.0
    assert torch.equal(graded, master_to_display(scene, 1000.0, 600.0))
    graded.zero_()  # a copy: the cache is untouched
    assert image.load(1000.0).max() > 900.0


def test_master_to_display_knee_and_peak():
    x = torch.tensor([0.0, 100.0, 600.0, 800.0, 5000.0, 1e6])
    y = master_to_display(x, 1000.0, 600.0)
    assert torch.equal(y[:3], x[:3])
    assert y[3] == pytest.approx(600 + 400 * math.tanh(0.5))
    assert (y <= 1000.0).all() and y[-1] == pytest.approx(1000.0)
    assert (y[1:] >= y[:-1]).all()


def test_sdr_images():
    images = sdr_images()
    assert len(images) >= 4
    for name, t in images:
        assert t.dim() == 3 and t.shape[0] == 3 and t.dtype == torch.float32
        assert 0.0 <= t.min() and t.max() <= 1.0 and t.std() > 0.05, name


# --------------------------------------------------------------------------- crops and augmentation


def test_random_crop_deterministic_and_upsamples():
    x = torch.rand(3, 40, 50)
    a = random_crop(x, 16, gen(1))
    b = random_crop(x, 16, gen(1))
    assert a.shape == (3, 16, 16) and torch.equal(a, b)
    small = random_crop(x, (64, 32), gen(2))
    assert small.shape == (3, 64, 32)
    batch = random_crop(torch.rand(2, 2, 3, 10, 10), 8, gen(3))
    assert batch.shape == (2, 2, 3, 8, 8)


def test_augment_same_for_pair():
    x = torch.rand(3, 8, 8)
    pair = torch.stack([x, x])
    for seed in range(6):
        out = augment(pair, gen(seed))
        assert torch.equal(out[0], out[1])
        assert sorted(out[0].flatten().tolist()) == sorted(x.flatten().tolist())


# --------------------------------------------------------------------------- camera model


def test_camera_response_formula():
    H = torch.tensor([0.0, 0.1, 0.5, 1.0, 4.0], dtype=torch.float64)
    n, sigma = 0.9, 0.6
    expected = ((1 + sigma) * H**n / (H**n + sigma)).clamp(0, 1)
    assert torch.allclose(camera_response(H, "sigmoid", n=n, sigma=sigma), expected)
    assert camera_response(H, "sigmoid", n=1.7, sigma=2.0)[3] == pytest.approx(1.0)  # f(1) = 1
    g = camera_response(H, "gamma22")
    assert g[2] == pytest.approx(0.5 ** (1 / 2.2)) and g[-1] == 1.0
    with pytest.raises(InvalidInputError, match="sigmoid, gamma22"):
        camera_response(H, "log")


def test_camera_response_random_parameters_in_range():
    # drawn parameters give valid curves: monotone, 0 at 0, saturated at 1
    H = torch.linspace(0, 2, 101)
    for seed in range(20):
        y = camera_response(H, generator=gen(seed))
        assert y[0] == 0 and (y[1:] >= y[:-1]).all() and y[-1] == 1.0


def test_best_exposure_maximises_well_exposed():
    torch.manual_seed(0)
    # a scene whose luminance is log-uniform over 12 stops
    y = torch.exp2(torch.rand(1, 64, 64) * 12) * 0.01
    hdr = y.expand(3, -1, -1).contiguous()

    def well(s: float) -> int:
        v = (luminance(hdr) * s).clamp(0, 1)
        return int(((v >= 0.05) & (v <= 0.95)).sum())

    s = best_exposure(hdr)
    assert well(s) >= max(well(s * f) for f in (0.5, 0.8, 0.9, 1.1, 1.25, 2.0))
    assert best_exposure(torch.zeros(3, 4, 4)) == 1.0


def test_make_sdr_quantised_in_range():
    hdr = procedural_scene(5, 32, 32)
    sdr = make_sdr(hdr, gen(0))
    assert sdr.shape == hdr.shape and 0 <= sdr.min() and sdr.max() <= 1
    assert torch.equal(torch.round(sdr * 255), sdr * 255)
    assert make_sdr(torch.stack([hdr, hdr]), gen(0)).shape == (2, 3, 32, 32)


# --------------------------------------------------------------------------- procedural


@pytest.mark.parametrize("peak", [1000.0, 4000.0])
def test_procedural_scene_properties(peak):
    stops = []
    for seed in range(6):
        x = procedural_scene(seed, 64, 96, peak_nits=peak)
        assert x.shape == (3, 64, 96) and x.dtype == torch.float32
        assert torch.isfinite(x).all() and (x >= 0).all()
        assert x.max() <= peak and x.max() > 0.9 * peak
        y = luminance(x).flatten().clamp(min=1e-4)
        stops.append(math.log2(torch.quantile(y, 0.999) / torch.quantile(y, 0.001)))
    assert min(stops) > 6 and max(stops) > 10


def test_procedural_deterministic():
    assert torch.equal(procedural_scene(3, 32, 32), procedural_scene(3, 32, 32))
    assert not torch.equal(procedural_scene(3, 32, 32), procedural_scene(4, 32, 32))


def test_procedural_sequence_motion_and_cut():
    seq = procedural_sequence(7, 48, 64, 6, motion_px=2.0, cut_at=4)
    assert seq.shape == (6, 3, 48, 64) and torch.isfinite(seq).all()
    d = [(seq[t + 1] - seq[t]).abs().mean().item() for t in range(5)]
    assert d[3] > 2 * max(d[:3] + d[4:])  # the cut is the largest change
    still = procedural_sequence(7, 32, 32, 3, motion_px=0.0)
    # no translation; only the slow zoom moves pixels
    assert (still[1] - still[0]).abs().mean() < (seq[1] - seq[0]).abs().mean() + 1
    with pytest.raises(InvalidInputError):
        procedural_sequence(1, 32, 32, 3, cut_at=3)


# --------------------------------------------------------------------------- dataset


def test_dataset_deterministic_per_seed_and_index(shared_data):
    a = HDRPatchDataset(size=32, length=50, seed=1, pairs=True)
    b = HDRPatchDataset(size=32, length=50, seed=1, pairs=True)
    c = HDRPatchDataset(size=32, length=50, seed=2, pairs=True)
    sources = set()
    for i in range(8):
        x, y = a[i], b[i]
        assert x["source"] == y["source"]
        assert x["hdr"].numpy().tobytes() == y["hdr"].numpy().tobytes()
        assert torch.equal(x["hdr_next"], y["hdr_next"])
        assert x["hdr"].shape == (3, 32, 32) and x["hdr"].max() <= 1000.0 and (x["hdr"] >= 0).all()
        sources.add(x["source"].split(":")[0])
    assert sources == {"real", "procedural"}
    assert not torch.equal(torch.stack([a[i]["hdr"] for i in range(4)]), torch.stack([c[i]["hdr"] for i in range(4)]))


def test_dataset_validation_split_uses_only_validation_images(shared_data):
    ds = HDRPatchDataset(size=16, split="val", procedural_fraction=0.0, length=20, seed=0)
    names = {ds[i]["source"].removeprefix("real:") for i in range(10)}
    assert names <= set(VALIDATION_IMAGES)


def test_dataset_pairs_are_close_frames(shared_data):
    ds = HDRPatchDataset(size=32, procedural_fraction=0.0, length=10, seed=3, pairs=True, motion_px=1.0)
    other = HDRPatchDataset(size=32, procedural_fraction=0.0, length=10, seed=4)
    for i in range(3):
        item = ds[i]
        near = (item["hdr"] - item["hdr_next"]).abs().mean()
        far = (item["hdr"] - other[i]["hdr"]).abs().mean()
        assert near < far


def test_dataset_bad_arguments():
    with pytest.raises(InvalidInputError):
        HDRPatchDataset(size=4)
    with pytest.raises(InvalidInputError):
        HDRPatchDataset(procedural_fraction=1.5)
    ds = HDRPatchDataset(size=16, procedural_fraction=1.0, length=2)
    with pytest.raises(IndexError):
        ds[2]


def test_shared_data_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HDRVIDEO_SHARED_DATA", str(tmp_path))
    assert data.shared_data_root() == tmp_path
