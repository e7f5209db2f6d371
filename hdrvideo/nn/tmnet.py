"""TMNet: the real-time tone-mapping network (bilateral curve grid) and its training recipe.

Architecture (after HDRNet, Gharbi et al. 2017, "Deep Bilateral Learning for Real-Time Image
Enhancement", Fig. 2, scaled down for a 2-core CPU):

=====================  ===========================================  =======================
stage                  layers                                       output
=====================  ===========================================  =======================
input                  log-encoded RGB (:func:`hdrvideo.ops.tmnet.   ``(N, 3, 256, 256)``
                       network_input`)
low-level features     4 x (3x3 conv, stride 2, ReLU): 8, 16, 32,   ``(N, 32, 16, 16)``
                       32 channels
local path             2 x 3x3 conv (ReLU between)                  ``(N, 32, 16, 16)``
global path            2 x (3x3 conv stride 2, ReLU), FC 512->64,   ``(N, 32)``
                       ReLU, FC 64->32
fusion                 ReLU(local + global), 1x1 conv -> D          ``(N, 24, 16, 16)``
curve grid             ``v_k = sum_{j<=k} softplus(o_j)``           ``(N, 24, 16, 16)``, >= 0,
                                                                    monotone in k
=====================  ===========================================  =======================

Output: for each of 16 x 16 spatial cells and each of 24 input-intensity nodes (24/23 stop
apart, log2 luminance relative to the frame's log-average, -12..+12 stops), the output
display code value ``v`` (BT.1886, ``L = peak v^2.4``); the operator
(:mod:`hdrvideo.ops.tmnet`) clamps it to [0, 1], slices it at full resolution and applies
it. The output layer starts with small weights (x0.01) and the bias of
:func:`reinhard_bias`, so the untrained network is Reinhard et al. 2002's global operator
(key 0.18, :func:`reinhard_grid`) everywhere, and training only has to learn what improves on
it (the first recipe, from a log-linear start, ended at a mean validation TMQI of 0.77,
below every classic curve).

Training recipe (:func:`train`, registered as ``"tmnet"``): maximise the differentiable TMQI
(:func:`hdrvideo.quality.tmqi.tmqi_loss`) of the SDR output against the HDR input, on
384 px views of the real training images and procedural scenes (:class:`hdrvideo.nn.data.HDRPatchDataset`,
graded for a 1000 cd/m² display, as the validation protocol loads them), scored at their own
resolution, plus Eilertsen et al. 2019's single-frame temporal regulariser: the output of a
randomly moved view should be the moved output,
``alpha L_tmqi + (1 - alpha) |mu(f(T x)) - mu(T f(x))|_1`` (mu-law). Measured results and the
run history are in the model card, ``weights/tmnet.md``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from hdrvideo.io.atomic import write_text_atomic
from hdrvideo.ops.tmnet import GRID_BINS, INPUT_SIZE, SPAN_STOPS

__all__ = [
    "RECIPE_VERSION",
    "TMNet",
    "WEIGHTS_PATH",
    "reinhard_bias",
    "reinhard_grid",
    "build_tmnet",
    "forward_sdr",
    "train",
    "training_loss",
]

#: The shipped weights (produced by :func:`train`).
WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "tmnet.safetensors"
#: Version of the training recipe, stored in the weights' metadata.
RECIPE_VERSION = "tmnet-3"


#: Reinhard et al. 2002's key value ``a`` (eq. 2), the untrained network's curve.
REINHARD_KEY = 0.18


def reinhard_grid(bins: int = GRID_BINS) -> torch.Tensor:
    """The curve the untrained network predicts everywhere, ``(bins,)`` code values: Reinhard
    et al. 2002's global operator, ``L = a Y / Y_avg`` (eq. 2, ``a = 0.18``),
    ``L_d = L / (1 + L)`` (eq. 3), as a BT.1886 code value ``v = L_d^(1 / 2.4)``, at the bin
    centres ``Y / Y_avg = 2^((k / (bins - 1) - 1/2) SPAN_STOPS)``."""
    k = torch.arange(bins, dtype=torch.float64)
    rel = torch.exp2((k / (bins - 1) - 0.5) * SPAN_STOPS)
    L = REINHARD_KEY * rel
    return (L / (1 + L)).pow(1 / 2.4)


def reinhard_bias(bins: int = GRID_BINS) -> torch.Tensor:
    """Output-layer bias whose cumulative softplus is :func:`reinhard_grid`."""
    v = reinhard_grid(bins)
    inc = torch.diff(v, prepend=torch.zeros(1, dtype=v.dtype)).clamp(min=1e-4)
    return torch.log(torch.expm1(inc)).float()


def _conv(cin: int, cout: int, stride: int = 1, kernel: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)


class TMNet(nn.Module):
    """The curve-grid predictor (see the module table).

    ``forward(x)``: ``x`` ``(N, 3, 256, 256)`` float32 log-encoded RGB in [0, 1] ->
    ``(N, 24, 16, 16)`` float32 curve grid (output code values, monotone along dim 1).
    """

    def __init__(self, bins: int = GRID_BINS, width: int = 32) -> None:
        super().__init__()
        self.bins = bins
        self.low = nn.Sequential(
            _conv(3, 8, 2), nn.ReLU(inplace=True),
            _conv(8, 16, 2), nn.ReLU(inplace=True),
            _conv(16, width, 2), nn.ReLU(inplace=True),
            _conv(width, width, 2), nn.ReLU(inplace=True),
        )
        self.local = nn.Sequential(_conv(width, width), nn.ReLU(inplace=True), _conv(width, width))
        self.global_conv = nn.Sequential(
            _conv(width, width, 2), nn.ReLU(inplace=True),
            _conv(width, width, 2), nn.ReLU(inplace=True),
        )
        self.global_fc = nn.Sequential(nn.Linear(width * 16, 64), nn.ReLU(inplace=True), nn.Linear(64, width))
        self.head = nn.Conv2d(width, bins, 1)
        with torch.no_grad():
            self.head.weight.mul_(0.01)
            self.head.bias.copy_(reinhard_bias(bins))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.low(x)  # (N, 32, 16, 16)
        local = self.local(f)
        g = self.global_conv(f)  # (N, 32, 4, 4)
        g = self.global_fc(g.flatten(1)).view(g.shape[0], -1, 1, 1)
        fused = F.relu(local + g)
        increments = F.softplus(self.head(fused))
        return torch.cumsum(increments, dim=1)


def build_tmnet(weights: str | Path | None = WEIGHTS_PATH) -> TMNet:
    """A :class:`TMNet` with the shipped (or given) weights, eval mode, float32, CPU.

    ``weights=None`` gives the untrained network (log-linear map).

    Raises:
        InputNotFoundError: the weights file is missing.
        InvalidInputError: the file does not fit the architecture.
    """
    model = TMNet()
    if weights is not None:
        from hdrvideo.nn.training import load_weights

        load_weights(model, Path(weights))
    return model.eval()


def _example_inputs(batch: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(batch, 3, *INPUT_SIZE, generator=g),)


def _register() -> None:
    try:
        from hdrvideo.engines.registry import ModelSpec, register_model
    except ImportError:  # engines not installed in this checkout
        return
    register_model(ModelSpec(
        name="tmnet",
        description="real-time tone mapping: curve grid (24 bins x 16 x 16) from a 256x256 log frame",
        build=build_tmnet,
        example_inputs=_example_inputs,
        input_names=("features",),
        output_names=("grid",),
        dynamic_axes={"features": {0: "batch"}, "grid": {0: "batch"}},
        shape_profiles={"features": ((1, 3, *INPUT_SIZE), (1, 3, *INPUT_SIZE), (8, 3, *INPUT_SIZE))},
        weights_path=WEIGHTS_PATH if WEIGHTS_PATH.is_file() else None,
        opset=17,
    ))


_register()


# ----------------------------------------------------------------------------- training

#: Defaults of the recipe (the shipped weights were made with these).
TRAIN_DEFAULTS: dict[str, Any] = {
    "steps": 1500,
    "batch": 2,
    # Views of 384 x 384 pixels at 1-1.5 source pixels per output pixel, scored at that
    # resolution: TMQI depends on the pixel scale of the content (its contrast thresholds are
    # per spatial frequency), so the views keep the content at about the scale of the
    # full-resolution frames the operator is scored on (the previous recipe area-averaged
    # 512 px crops to 256 px and learnt nothing that helped at full resolution).
    "crop": 384,
    "size": 384,
    "pool": 160,  # distinct views, drawn once and cached (out_dir/pool-<recipe>-seed<seed>-...pt)
    "lr": 2e-3,
    "alpha": 0.9,  # Eilertsen et al. 2019: weight of the task loss (useful range 0.85-0.95)
    "procedural_fraction": 0.2,
    "peak_nits": 1000.0,  # grading of the HDR inputs (as the validation protocol loads them)
    "sdr_peak_nits": 100.0,
    "checkpoint_every": 50,
}


def forward_sdr(model: nn.Module, hdr: torch.Tensor, sdr_peak_nits: float = 100.0) -> torch.Tensor:
    """Network + full-resolution slicing on a batch: ``(N, 3, H, W)`` cd/m² -> SDR working
    space ``(N, 3, H, W)`` cd/m² in [0, ``sdr_peak_nits``] (differentiable, no smoothing)."""
    from hdrvideo.ops.tmnet import apply_grid, network_input

    features, anchor = network_input(hdr)
    grid = model(features)
    return apply_grid(hdr, grid.clamp(0.0, 1.0), anchor, peak_nits=sdr_peak_nits)


def training_loss(
    model: nn.Module, hdr: torch.Tensor, *, alpha: float, sdr_peak_nits: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``alpha (1 - TMQI) + (1 - alpha) |mu(f(T x)) - mu(T f(x))|_1``: the task loss is the
    differentiable TMQI of the display-encoded output against the HDR input, the regulariser
    Eilertsen et al. 2019's (:func:`hdrvideo.nn.losses.temporal_regularised_loss`), measured
    in the mu-law domain of the SDR output. Returns ``(loss, task, regulariser)``."""
    from hdrvideo.nn.losses import mu_law_l1, temporal_regularised_loss
    from hdrvideo.quality.tmqi import sdr_display_encode, tmqi_loss

    def net(x: torch.Tensor) -> torch.Tensor:
        return forward_sdr(model, x, sdr_peak_nits)

    def task(pred: torch.Tensor, target_hdr: torch.Tensor) -> torch.Tensor:
        return tmqi_loss(target_hdr, sdr_display_encode(pred, sdr_peak_nits))

    def regulariser(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return mu_law_l1(a, b, peak_nits=sdr_peak_nits)

    return temporal_regularised_loss(  # type: ignore[return-value]
        net, hdr, hdr, task, alpha=alpha, generator=generator, regulariser_fn=regulariser, return_terms=True
    )


def _pool(cfg: dict[str, Any], seed: int, out_dir: Path) -> torch.Tensor:
    """The recipe's fixed pool of training crops ``(P, 3, size, size)`` cd/m², cached in ``out_dir``."""
    from hdrvideo.io.atomic import atomic_output
    from hdrvideo.nn.data import HDRPatchDataset

    # The name carries everything the pool depends on: an out_dir from another recipe or
    # another pool configuration never feeds this one stale crops.
    path = out_dir / (f"pool-{RECIPE_VERSION}-seed{seed}-crop{cfg['crop']}-n{cfg['pool']}"
                      f"-proc{cfg['procedural_fraction']:g}-peak{cfg['peak_nits']:g}.pt")
    if path.is_file():
        return torch.load(path, weights_only=True)
    data = HDRPatchDataset(
        size=cfg["crop"], split="train", procedural_fraction=cfg["procedural_fraction"],
        length=cfg["pool"], seed=seed, pairs=False, peak_nits=cfg["peak_nits"],
    )
    views = []
    for i in range(cfg["pool"]):
        view = data[i]["hdr"].unsqueeze(0)
        if cfg["size"] != cfg["crop"]:
            view = F.interpolate(view, size=(cfg["size"], cfg["size"]), mode="area")
        views.append(view[0])
    crops = torch.stack(views).contiguous()
    with atomic_output(path, overwrite=True) as tmp:
        torch.save(crops, tmp)
    return crops


def train(out_dir: Path, *, steps: int | None = None, seed: int = 0, resume: bool = False, threads: int = 2) -> Path:
    """Train TMNet; write ``out_dir/tmnet.safetensors`` (metadata: recipe, steps, seed) and return it.

    Data: a pool of ``pool`` views (:class:`HDRPatchDataset`, split ``train``: the validation
    images are never seen; a ``procedural_fraction`` share of procedural scenes), each
    384 x 384 pixels at 1-1.5 source pixels per output pixel, exposure +-2 stops, graded
    for 1000 cd/m² (as the validation protocol loads the images), and scored by TMQI at that
    resolution. Step ``s`` takes ``batch`` views of the pool in a seeded order, with flips and
    RGB permutations (:func:`hdrvideo.nn.data.augment`). Adam, cosine learning rate, gradient
    clipping at 1. Seeded and reproducible at a fixed thread count; resumable
    (:class:`Checkpointer`); progress line on a terminal; a JSON log line every 20 steps in
    ``out_dir/train.log``; ``out_dir/train_summary.json`` gets the wall time (kept out of the
    weights' metadata so that a rerun writes the same bytes).
    """
    from hdrvideo.nn.data import augment
    from hdrvideo.nn.training import Checkpointer, save_weights, seed_everything, train_loop

    started = time.monotonic()
    cfg = dict(TRAIN_DEFAULTS)
    total = int(steps if steps is not None else cfg["steps"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(threads))
    seed_everything(seed)
    model = TMNet()
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(total, 1), eta_min=cfg["lr"] * 0.05)
    pool = _pool(cfg, seed, out_dir)
    terms: dict[str, float] = {}

    def loss_at_step(step: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        order = torch.randperm(pool.shape[0], generator=torch.Generator().manual_seed(seed + step // pool.shape[0]))
        first = (step * cfg["batch"]) % pool.shape[0]
        idx = [int(order[(first + i) % pool.shape[0]]) for i in range(cfg["batch"])]
        batch = torch.stack([augment(pool[i], g) for i in idx])
        loss, task, reg = training_loss(model, batch, alpha=cfg["alpha"], sdr_peak_nits=cfg["sdr_peak_nits"],
                                        generator=g)
        terms["tmqi"] = 1.0 - float(task)
        terms["temporal"] = float(reg)
        return loss

    with open(out_dir / "train.log", "a", encoding="utf-8") as log:
        result = train_loop(
            model, optimiser, loss_at_step, total, scheduler=schedule, checkpointer=Checkpointer(out_dir),
            checkpoint_every=cfg["checkpoint_every"], resume=resume, grad_clip_norm=1.0, label="tmnet",
            log_file=log, log_every=20,
            on_step=lambda step, value, extra: extra.setdefault("tmqi", []).append(terms.get("tmqi")),
        )
    model.eval()
    path = out_dir / "tmnet.safetensors"
    summary = {"recipe": RECIPE_VERSION, "steps": total, "seed": seed, "threads": int(threads),
               "start_step": result.start_step, "loop_seconds_this_call": round(result.wall_time_seconds, 1),
               "wall_seconds_this_call": round(time.monotonic() - started, 1),
               "pool_views": int(pool.shape[0])}
    write_text_atomic(out_dir / "train_summary.json", json.dumps(summary, indent=2) + "\n")
    tmqis = [t for t in result.extra.get("tmqi", []) if t is not None]
    save_weights(model, path, metadata={
        "recipe": RECIPE_VERSION,
        "steps": str(total),
        "seed": str(seed),
        "threads": str(threads),
        "train_tmqi_last20": f"{sum(tmqis[-20:]) / max(len(tmqis[-20:]), 1):.4f}" if tmqis else "",
    })
    return path


def _register_recipe() -> None:
    try:
        from hdrvideo.nn.recipes import register_recipe
    except ImportError:
        return
    register_recipe("tmnet", train)


_register_recipe()
