"""``nriqa``: a small no-reference quality network for HDR frames, its data and its recipe.

The network predicts, from the distorted frame alone, the score a full-reference teacher
gives it against the pristine frame. The **teacher is PU21-MS-SSIM**
(:func:`hdrvideo.quality.pu21_metrics.pu21_msssim`, 0..1, higher is better). ColorVideoVDP
(cvvdp 0.5.7) would be fast enough (55 ms per 192x192 pair on one thread against 12 ms for
PU21-MS-SSIM, measured with a stand-in for torchvision), but it does not import in the
project's environment without torchvision (see :mod:`hdrvideo.quality.cvvdp_adapter`), and a
recipe must run where the project runs. The whole scored dataset (10022 distorted crops,
codecs included) builds in under 5 minutes on the shared two-core machine (model card).

Design (nearest published design: NoR-VDPNet, Banterle et al. 2020/2023, which needs ~3 s per
1080p frame here; this one is a few ms):

- **Patches at native resolution.** Down-sampling a 1080p frame to ~224 px erases exactly
  what broadcast chains add (noise, blocking, banding), so the network looks at a fixed
  ``GRID x GRID`` grid of ``PATCH x PATCH`` patches (3x3 of 64x64) centred on the cells of
  the frame, at native resolution (:func:`extract_patches`). At training time the crops are
  ``CROP = GRID * PATCH = 192`` pixels, so the patches tile the crop the teacher scored.
- **Input encoding.** Each patch is encoded per RGB channel: ``pu21`` (PU21
  ``banding_glare`` divided by ``PU(10000) ~ 595.39``, as the seed paper found better than
  by 255), ``pq`` (ST 2084 signal), ``log`` (``log10`` of 0.005-10000 cd/m² mapped to 0-1) or,
  for SDR pre-training, ``srgb`` (sRGB encoding of the 100 cd/m² display's light).
- **Network.** Per patch: the encoded RGB and its high-pass residual (minus the 5x5 local
  mean) amplified by :data:`HP_GAIN` ``= 64`` (6 channels), five 3x3 conv layers
  (16-32-48-64-96 channels, stride 2 in the first four: 64 -> 32 -> 16 -> 8 -> 4) with batch
  norm and ReLU, global average pooling -> 96 features; the frame features are their mean and
  standard deviation over the patches (192, the CORAL features) -> MLP 192-64-1 -> softplus
  -> ``z``; the score is ``1 + 1e-2 - 10^-z`` (:func:`distance_to_score`: the teacher's 0-1
  range, trained on the spread-out scale ``z`` with an L1 loss).

Recipe (:func:`train`, registered as ``"nriqa"``): references are crops of the real HDR
training images (:func:`hdrvideo.nn.data.real_hdr_images`), procedural HDR scenes and SDR
images from scikit-image shown on a 100 cd/m² display, each distorted by every distortion
of :mod:`hdrvideo.nn.distortions` at the training levels and scored by the teacher. Held out:
the real ``val`` split and held-out procedural seeds (content) at the held-out levels.
Configurations measured (the ablation): ``hdr_pu21`` (a: HDR only, PU21 input), ``hdr_pq``
and ``hdr_log`` (input-encoding ablation), ``sdr_ft`` (b: SDR pre-training with sRGB inputs,
then PU21 HDR fine-tuning), ``sdr_ft_coral`` (c: b + CORAL between SDR and HDR batch
features, Sun & Saenko 2016, ``||C_s - C_t||_F^2 / (4 d^2)``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from hdrvideo.color.pq import eotf_ST2084, eotf_inverse_ST2084
from hdrvideo.color.pu21 import pu21_encode
from hdrvideo.color.sdr import eotf_inverse_sRGB
from hdrvideo.errors import InputNotFoundError, InvalidInputError
from hdrvideo.io.atomic import write_text_atomic

__all__ = [
    "CONFIGS",
    "CROP",
    "ENCODINGS",
    "GRID",
    "HP_GAIN",
    "PATCH",
    "PU21_NORM",
    "NRIQANet",
    "Split",
    "WEIGHTS_PATH",
    "build_dataset",
    "build_split",
    "correlations",
    "distance_to_score",
    "encode_input",
    "extract_patches",
    "load_nriqa",
    "predict",
    "reference_crops",
    "score_to_distance",
    "train",
]

PATCH = 64
GRID = 3
CROP = GRID * PATCH
#: ``PU(10000)`` with ``banding_glare``: the PU21 network inputs are divided by it.
PU21_NORM = float(pu21_encode(torch.tensor(10000.0, dtype=torch.float64)))
ENCODINGS = ("pu21", "pq", "log", "srgb")
WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "nriqa.safetensors"
CARD_PATH = WEIGHTS_PATH.with_suffix(".md")

_LOG_MIN, _LOG_MAX = math.log10(0.005), math.log10(10000.0)


def encode_input(x: torch.Tensor, encoding: str = "pu21") -> torch.Tensor:
    """Encode linear BT.2020 light (cd/m², any shape) into the network's 0-1-ish input.

    ``pu21``: ``pu21_encode(x) / PU(10000)``; ``pq``: ST 2084 inverse EOTF; ``log``:
    ``(log10 x - log10 0.005) / (log10 10000 - log10 0.005)``; ``srgb``: sRGB inverse EOTF of
    ``x / 100`` clipped to 0-1 (a 100 cd/m² SDR display).
    """
    if encoding == "pu21":
        return pu21_encode(x) / PU21_NORM
    if encoding == "pq":
        return eotf_inverse_ST2084(x.clamp(0, 10000))
    if encoding == "log":
        return (x.clamp(0.005, 10000).log10() - _LOG_MIN) / (_LOG_MAX - _LOG_MIN)
    if encoding == "srgb":
        return eotf_inverse_sRGB((x / 100.0).clamp(0, 1))
    raise InvalidInputError(f"unknown input encoding {encoding!r}; valid: {', '.join(ENCODINGS)}")


def extract_patches(x: torch.Tensor, grid: int = GRID, patch: int = PATCH) -> torch.Tensor:
    """The ``grid x grid`` native-resolution patches of each frame.

    Args:
        x: ``(3, H, W)`` or ``(N, 3, H, W)`` (any values). Frames smaller than
            ``grid * patch`` on a side are first resized up (bilinear) to at least that size.

    Returns:
        ``(N, grid * grid, 3, patch, patch)``: patch ``(i, j)`` is centred on the centre of
        cell ``(i, j)`` of a ``grid x grid`` division of the frame.
    """
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] != 3:
        raise InvalidInputError(f"expected (3, H, W) or (N, 3, H, W) frames, got {tuple(x.shape)}")
    n, _, h, w = x.shape
    need = grid * patch
    if h < need or w < need:
        scale = need / min(h, w)
        h2, w2 = max(need, math.ceil(h * scale)), max(need, math.ceil(w * scale))
        x = F.interpolate(x, size=(h2, w2), mode="bilinear", align_corners=False)
        h, w = h2, w2
    tops = [min(h - patch, max(0, round((i + 0.5) * h / grid - patch / 2))) for i in range(grid)]
    lefts = [min(w - patch, max(0, round((j + 0.5) * w / grid - patch / 2))) for j in range(grid)]
    patches = [x[:, :, t : t + patch, l : l + patch] for t in tops for l in lefts]
    return torch.stack(patches, dim=1)


#: Offset of the training target ``z = -log10(1 + EPS - score)``: 0 (score 0) to 2 (score 1).
EPS = 1e-2


def score_to_distance(score: torch.Tensor) -> torch.Tensor:
    """Teacher score (0..1) -> training target ``z = -log10(1 + EPS - score)`` (0..2).

    MS-SSIM crowds near 1 (median 0.98 on the training set); ``z`` spreads it evenly, so the L1
    loss weighs the small distortions as much as the large ones. Monotone: ranks are kept.
    """
    return -torch.log10((1 + EPS - score).clamp(min=EPS))


def distance_to_score(z: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`score_to_distance`, clamped to 0..1."""
    return (1 + EPS - torch.pow(10.0, -z)).clamp(0, 1)


#: Gain of the high-pass input channels (measured: held-out SROCC 0.29 with gain 1, 0.57 with
#: 32, after 400 steps of the ``hdr_pu21`` configuration; see the model card).
HP_GAIN = 64.0


class NRIQANet(nn.Module):
    """The network: encoded patches ``(N, P, 3, 64, 64)`` (P >= 2) -> scores ``(N,)`` in 0-1.

    :meth:`features` gives the ``(N, 192)`` frame features (mean and standard deviation over
    the patches of the 96 per-patch features), the ones CORAL aligns between domains.
    """

    FEATURES = 96

    def __init__(self) -> None:
        super().__init__()
        chans = (6, 16, 32, 48, 64, self.FEATURES)
        layers: list[nn.Module] = []
        for i in range(5):
            layers += [
                nn.Conv2d(chans[i], chans[i + 1], 3, stride=2 if i < 4 else 1, padding=1),
                nn.BatchNorm2d(chans[i + 1]),
                nn.ReLU(),
            ]
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(2 * self.FEATURES, 64), nn.ReLU(), nn.Linear(64, 1))

    def features(self, patches: torch.Tensor) -> torch.Tensor:
        n, p = patches.shape[:2]
        x = patches.flatten(0, 1)
        # The encoded patch and its high-pass residual (minus a 5x5 local mean), the way
        # NR-IQA CNNs since Kang et al. 2014 normalise locally: distortions live there. The
        # residual is amplified by HP_GAIN: one PU21 JND is ~1/595 of the input range, and
        # unscaled the first convolution sees the residual swamped by the picture itself.
        hp = x - F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)
        x = torch.cat([x, HP_GAIN * hp], dim=1)
        f = self.trunk(x).mean(dim=(2, 3)).view(n, p, -1)
        # Mean and spread over the patches: a distortion confined to parts of the frame
        # (banding in the sky, blocking in flat areas) shows in the spread.
        return torch.cat([f.mean(1), f.std(1)], dim=1)

    def distance(self, features: torch.Tensor) -> torch.Tensor:
        """The head: frame features ``(N, 192)`` -> ``z = -log10(1 + EPS - score)`` ``(N,)``, >= 0."""
        return F.softplus(self.head(features))[:, 0]

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return distance_to_score(self.distance(self.features(patches)))


# -- weights, engine registration --------------------------------------------------------------
def load_nriqa(path: str | Path | None = None) -> tuple[NRIQANet, dict[str, str]]:
    """The network with the shipped (or given) weights, in eval mode, and their metadata.

    Raises:
        InputNotFoundError: the weights file is missing (the message says how to train them).
        InvalidInputError: not a safetensors file, or tensors that do not fit the network.
    """
    from hdrvideo.nn.training import load_weights

    path = Path(path) if path is not None else WEIGHTS_PATH
    if not path.is_file():
        raise InputNotFoundError(f"nriqa weights not found at {path} (train them: hdrvideo train nriqa --out DIR)")
    net = NRIQANet()
    meta = load_weights(net, path)
    return net.eval(), meta


def _register() -> None:
    try:
        from hdrvideo.engines.registry import ModelSpec, register_model
    except ImportError:  # engines not built in this tree
        return

    def example_inputs(batch: int) -> tuple[torch.Tensor, ...]:
        return (torch.rand(batch, GRID * GRID, 3, PATCH, PATCH),)

    register_model(
        ModelSpec(
            name="nriqa",
            description="no-reference HDR quality (PU21-MS-SSIM teacher), 3x3 native 64 px patches",
            build=lambda: load_nriqa()[0],
            example_inputs=example_inputs,
            input_names=("patches",),
            output_names=("score",),
            dynamic_axes={"patches": {0: "batch"}, "score": {0: "batch"}},
            shape_profiles={
                "patches": ((1, GRID * GRID, 3, PATCH, PATCH), (4, GRID * GRID, 3, PATCH, PATCH),
                            (32, GRID * GRID, 3, PATCH, PATCH))
            },
            weights_path=WEIGHTS_PATH,
        )
    )


try:
    _register()
except Exception as error:  # noqa: BLE001 - a registry clash must not break importing the network
    import warnings

    warnings.warn(f"nriqa: engine registration failed: {error}", stacklevel=1)


# -- dataset -----------------------------------------------------------------------------------
#: Levels of every distortion in the training set, and the held-out ones of the evaluation.
TRAIN_LEVELS = (0.05, 0.35, 0.65, 0.95)
EVAL_LEVELS = (0.2, 0.5, 0.8)
SDR_PEAK_NITS = 100.0
#: Crops per real HDR training image and procedural training scenes (seeds 0..N-1).
HDR_TRAIN_CROPS = 8
TRAIN_PROCEDURAL_SEEDS = 72


@dataclass
class Split:
    """A scored set: distorted crops as PQ codes ``(M, 3, CROP, CROP)`` uint16 (0-65535),
    teacher scores ``(M,)``, distortion index ``(M,)`` (-1 = pristine), level ``(M,)``."""

    pq: np.ndarray
    score: np.ndarray
    distortion: np.ndarray
    level: np.ndarray

    def light(self, index: np.ndarray | slice) -> torch.Tensor:
        """Linear cd/m² ``(B, 3, CROP, CROP)`` float32 of the selected samples."""
        codes = torch.from_numpy(self.pq[index].astype(np.float32)) / 65535.0
        return eotf_ST2084(codes)

    def encoded(self, index: np.ndarray | slice, encoding: str) -> torch.Tensor:
        """The selected samples encoded for the network, ``(B, 3, CROP, CROP)`` float32."""
        codes = torch.from_numpy(self.pq[index].astype(np.int32))
        return _code_lut(encoding)[codes]


_LUTS: dict[str, torch.Tensor] = {}


def _code_lut(encoding: str) -> torch.Tensor:
    """A 65536-entry table of the encoding of every 16-bit PQ code (exact; a gather per batch)."""
    if encoding not in _LUTS:
        light = eotf_ST2084(torch.arange(65536, dtype=torch.float64) / 65535.0)
        _LUTS[encoding] = encode_input(light, encoding).float()
    return _LUTS[encoding]


def _crops(image: torch.Tensor, n: int, rng: np.random.Generator) -> list[torch.Tensor]:
    """``n`` random native-resolution ``(3, CROP, CROP)`` crops of a ``(3, H, W)`` picture
    (:func:`hdrvideo.nn.data.random_crop`, seeded from ``rng``)."""
    from hdrvideo.nn.data import random_crop

    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    return [random_crop(image, CROP, generator) for _ in range(n)]


def _sdr_pictures(data) -> list[torch.Tensor]:
    """The photographs of :func:`hdrvideo.nn.data.sdr_images` (scikit-image's, no download)."""
    return [t for _name, t in data.sdr_images()]


def reference_crops(domain: str, split: str, seed: int, crops_per_image: int) -> list[torch.Tensor]:
    """Pristine ``(3, CROP, CROP)`` cd/m² references of one domain and split.

    ``hdr``: the real HDR images of ``split`` (:func:`hdrvideo.nn.data.real_hdr_images`),
    each graded (:meth:`~hdrvideo.nn.data.HDRImage.load`) for a display peak drawn
    log-uniformly in 1000-4000 cd/m², plus procedural scenes
    (:func:`hdrvideo.nn.procedural.procedural_scene`; train: seeds 0 to
    ``TRAIN_PROCEDURAL_SEEDS - 1``, val: held-out seeds
    1000-1007) when that module is present. ``sdr``: scikit-image's photographs
    (:func:`hdrvideo.nn.data.sdr_images`) shown on a 100 cd/m² sRGB display (BT.709 light
    converted to BT.2020); train only.
    """
    from hdrvideo.color.primaries import convert_primaries
    from hdrvideo.color.sdr import eotf_sRGB
    from hdrvideo.nn import data

    rng = np.random.default_rng(seed)
    out: list[torch.Tensor] = []
    if domain == "hdr":
        for image in data.real_hdr_images(split):
            peak = float(np.exp(rng.uniform(np.log(1000.0), np.log(4000.0))))
            out += _crops(image.load(peak_nits=peak).float(), crops_per_image, rng)
        try:
            from hdrvideo.nn import procedural
        except ImportError:
            procedural = None
        if procedural is not None:
            try:
                seeds = range(TRAIN_PROCEDURAL_SEEDS) if split == "train" else range(1000, 1008)
                for s in seeds:
                    peak = float(np.exp(rng.uniform(np.log(1000.0), np.log(4000.0))))
                    out.append(procedural.procedural_scene(s, CROP, CROP, peak_nits=peak).float())
            except Exception as error:  # noqa: BLE001 - the real images still make a dataset
                import warnings

                warnings.warn(f"nriqa: procedural scenes unavailable ({error}); real images only", stacklevel=2)
    elif domain == "sdr":
        for srgb in _sdr_pictures(data):
            light = convert_primaries(eotf_sRGB(srgb) * SDR_PEAK_NITS, "bt709", "bt2020").clamp(min=0)
            out += _crops(light, crops_per_image, rng)
    else:
        raise InvalidInputError(f"unknown domain {domain!r}")
    return [c.clamp(0, 10000).contiguous() for c in out]


def build_split(references: list[torch.Tensor], levels: tuple[float, ...], seed: int, label: str) -> Split:
    """Distort every reference by every distortion at every level and score by the teacher."""
    from hdrvideo.nn.distortions import DISTORTIONS, apply_distortion
    from hdrvideo.progress import Progress
    from hdrvideo.quality.pu21_metrics import pu21_msssim

    names = list(DISTORTIONS)
    total = len(references) * (1 + len(names) * len(levels))
    pq = np.empty((total, 3, CROP, CROP), np.uint16)
    score, dist, lev = np.empty(total, np.float32), np.empty(total, np.int16), np.empty(total, np.float32)
    gen = torch.Generator().manual_seed(seed)
    progress = Progress(total_frames=total, label=label, force=True)
    k = 0
    for ref in references:
        items = [(-1, 0.0, ref)] + [
            (i, level, apply_distortion(n, ref, level, gen)) for i, n in enumerate(names) for level in levels
        ]
        batch = torch.stack([it[2] for it in items])
        s = pu21_msssim(batch, ref.expand_as(batch))
        for (i, level, img), sc in zip(items, s):
            pq[k] = (eotf_inverse_ST2084(img.clamp(0, 10000)) * 65535).round().numpy().astype(np.uint16)
            score[k], dist[k], lev[k] = float(sc), i, level
            k += 1
        progress.update(k)
    progress.close()
    return Split(pq, score, dist, lev)


def _save_split(path: Path, split: Split) -> None:
    from hdrvideo.io.atomic import atomic_output

    with atomic_output(path, overwrite=True) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, pq=split.pq, score=split.score, distortion=split.distortion, level=split.level)


def _load_split(path: Path) -> Split:
    with np.load(path) as z:
        return Split(z["pq"], z["score"], z["distortion"], z["level"])


def build_dataset(out_dir: Path, seed: int = 0) -> dict[str, Split]:
    """Build (or load from ``out_dir/dataset``) the three splits: ``hdr_train``, ``sdr_train``,
    ``hdr_val`` (held-out content at held-out levels)."""
    cache = Path(out_dir) / "dataset"
    cache.mkdir(parents=True, exist_ok=True)
    plan = {
        "hdr_train": lambda: (reference_crops("hdr", "train", seed, HDR_TRAIN_CROPS), TRAIN_LEVELS),
        "sdr_train": lambda: (reference_crops("sdr", "train", seed + 1, 6), TRAIN_LEVELS),
        "hdr_val": lambda: (reference_crops("hdr", "val", seed + 2, 3), EVAL_LEVELS),
    }
    splits = {}
    for name, make in plan.items():
        path = cache / f"{name}-seed{seed}.npz"
        if not path.exists():
            refs, levels = make()
            _save_split(path, build_split(refs, levels, seed, name))
        splits[name] = _load_split(path)
    return splits


# -- training ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    """One row of the ablation."""

    name: str
    encoding: str = "pu21"
    sdr_pretrain: bool = False
    coral_weight: float = 0.0


CONFIGS = (
    Config("hdr_pu21"),
    Config("hdr_pq", encoding="pq"),
    Config("hdr_log", encoding="log"),
    Config("sdr_ft", sdr_pretrain=True),
    Config("sdr_ft_coral", sdr_pretrain=True, coral_weight=1.0),
)


#: Patches of the 3x3 grid seen per sample in a training step (a random subset: cheaper
#: steps; the frame feature is a mean over patches, so a subset estimates it).
TRAIN_PATCHES = 5


def _batch(
    split: Split, idx: np.ndarray, encoding: str, flip: bool, rng: np.random.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    x = split.encoded(np.asarray(idx), encoding)
    if flip:
        x = x.flip(-1)
    patches = extract_patches(x)
    if rng is not None:
        patches = patches[:, torch.from_numpy(rng.permutation(GRID * GRID)[:TRAIN_PATCHES])]
    return patches, torch.from_numpy(split.score[idx])


def predict(net: NRIQANet, split: Split, encoding: str, batch: int = 64) -> np.ndarray:
    """Scores ``(M,)`` of every sample of ``split`` (all 9 patches)."""
    out = []
    net.eval()
    with torch.inference_mode():
        for s in range(0, len(split.score), batch):
            idx = np.arange(s, min(s + batch, len(split.score)))
            out.append(net(_batch(split, idx, encoding, False)[0]).numpy())
    return np.concatenate(out)


def correlations(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(SROCC, PLCC)."""
    from scipy.stats import pearsonr, spearmanr

    return float(spearmanr(pred, target).statistic), float(pearsonr(pred, target).statistic)


def _fit(
    net: NRIQANet,
    hdr: Split,
    steps: int,
    encoding: str,
    rng: np.random.Generator,
    *,
    sdr: Split | None = None,
    coral_weight: float = 0.0,
    lr: float = 2e-3,
    batch: int = 16,
    log: Callable[[str], None] = print,
    label: str = "",
) -> None:
    from hdrvideo.nn.losses import coral_loss

    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    net.train()
    t0 = time.time()
    for step in range(steps):
        idx = rng.integers(0, len(hdr.score), batch)
        x, y = _batch(hdr, idx, encoding, bool(rng.random() < 0.5), rng)
        feats = net.features(x)
        loss = F.l1_loss(net.distance(feats), score_to_distance(y))
        if coral_weight > 0 and sdr is not None:
            sidx = rng.integers(0, len(sdr.score), batch)
            xs, ys = _batch(sdr, sidx, "srgb", bool(rng.random() < 0.5), rng)
            fs = net.features(xs)
            loss = loss + F.l1_loss(net.distance(fs), score_to_distance(ys)) + coral_weight * coral_loss(fs, feats)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 200 == 0 or step + 1 == steps:
            log(f"{label} step {step + 1}/{steps} loss {loss.item():.4f} ({time.time() - t0:.0f} s)")
    net.eval()


def train(
    out_dir: Path,
    *,
    steps: int | None = None,
    seed: int = 0,
    resume: bool = True,
    threads: int = 2,
    only: tuple[str, ...] | None = None,
) -> Path | None:
    """The ``nriqa`` recipe: dataset, the five ablation configurations, the shipped weights.

    ``steps``: HDR steps of each configuration (default 800; SDR pre-training uses 2/3 of it).
    Each finished configuration is saved under ``out_dir/runs/NAME.safetensors`` with its
    scores, so a resumed run skips it. The best configuration by held-out SROCC is written to
    ``out_dir/nriqa.safetensors`` with ``out_dir/ablation.json``; returns that path.
    """
    from hdrvideo.nn.training import (
        ModelCard,
        count_parameters,
        load_weights,
        save_weights,
        seed_everything,
        weights_sha256,
        write_model_card,
    )

    torch.set_num_threads(threads)
    out_dir = Path(out_dir)
    runs = out_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    steps = 800 if steps is None else int(steps)
    splits = build_dataset(out_dir, seed)
    hdr, sdr, val = splits["hdr_train"], splits["sdr_train"], splits["hdr_val"]
    results: dict[str, dict] = {}
    pretrained: dict[str, torch.Tensor] | None = None
    for cfg in CONFIGS:
        if only is not None and cfg.name not in only:
            continue
        path = runs / f"{cfg.name}.safetensors"
        meta_path = runs / f"{cfg.name}.json"
        if resume and path.exists() and meta_path.exists():
            row = json.loads(meta_path.read_text())
            if row.get("steps") == steps:  # a finished row of this run; other steps: train again
                results[cfg.name] = row
                continue
        seed_everything(seed)
        rng = np.random.default_rng(seed)
        net = NRIQANet()
        t0 = time.time()
        if cfg.sdr_pretrain:
            pre = runs / "sdr_pretrain.safetensors"
            if pretrained is None and resume and pre.exists():
                load_weights(net, pre)
                pretrained = {k: v.clone() for k, v in net.state_dict().items()}
            if pretrained is None:
                _fit(net, sdr, max(1, steps * 2 // 3), "srgb", rng, label="sdr_pretrain")
                pretrained = {k: v.clone() for k, v in net.state_dict().items()}
                save_weights(net, pre, metadata={"config": "sdr_pretrain"})
            net.load_state_dict(pretrained)
        _fit(net, hdr, steps, cfg.encoding, rng, sdr=sdr, coral_weight=cfg.coral_weight,
             lr=1e-3 if cfg.sdr_pretrain else 2e-3, label=cfg.name)
        pred = predict(net, val, cfg.encoding)
        srocc, plcc = correlations(pred, val.score)
        row = {"config": cfg.name, "encoding": cfg.encoding, "sdr_pretrain": cfg.sdr_pretrain,
               "coral_weight": cfg.coral_weight, "steps": steps, "srocc": srocc, "plcc": plcc,
               "seconds": round(time.time() - t0, 1)}
        save_weights(net, path, metadata={k: str(v) for k, v in row.items()})
        write_text_atomic(meta_path, json.dumps(row, indent=1))
        results[cfg.name] = row
        print(f"{cfg.name}: SROCC {srocc:.4f} PLCC {plcc:.4f}")
    if only is not None:  # a partial run (rows trained in parallel processes): no final weights
        return None
    best = max(results.values(), key=lambda r: r["srocc"])
    final = out_dir / "nriqa.safetensors"
    net = NRIQANet()
    load_weights(net, runs / f"{best['config']}.safetensors")
    metadata = {k: str(v) for k, v in best.items()} | {"teacher": "pu21_msssim", "seed": str(seed)}
    save_weights(net, final, metadata=metadata)
    write_text_atomic(out_dir / "ablation.json", json.dumps(results, indent=1))
    write_model_card(
        out_dir / "nriqa.md",
        ModelCard(
            name="nriqa",
            description=(
                "No-reference HDR quality: predicts PU21-MS-SSIM (0..1, higher is better) of a frame "
                "against its unseen pristine version from 3x3 native-resolution 64x64 patches, "
                f"{best['encoding']} input. Shipped configuration: {best['config']} (best held-out SROCC)."
            ),
            data=(
                f"hdr_train {len(hdr.score)} scored crops (real train split x {len(TRAIN_LEVELS)} levels x "
                f"13 distortions + pristine, {HDR_TRAIN_CROPS} crops per real image, procedural seeds "
                f"0-{TRAIN_PROCEDURAL_SEEDS - 1}), sdr_train {len(sdr.score)} "
                f"(scikit-image photos on a 100 cd/m² display), held-out hdr_val {len(val.score)} "
                f"(val split + procedural seeds 1000-1007 at levels {EVAL_LEVELS})"
            ),
            steps=steps,
            wall_time_seconds=float(sum(float(r["seconds"]) for r in results.values())),
            parameters=count_parameters(net),
            seed=seed,
            command="hdrvideo train nriqa --out DIR",
            results=[{k: r[k] for k in ("config", "encoding", "sdr_pretrain", "coral_weight", "steps", "srocc",
                                        "plcc", "seconds")} for r in results.values()],
            extra={"teacher": "PU21-MS-SSIM (hdrvideo.quality.pu21_metrics.pu21_msssim)",
                   "weights sha256": weights_sha256(final)},
        ),
    )
    return final


def _register_recipe() -> None:
    try:
        from hdrvideo.nn.recipes import register_recipe
    except ImportError:
        return
    register_recipe("nriqa", train)


_register_recipe()
