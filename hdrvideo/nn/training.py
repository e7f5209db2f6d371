"""Training machinery: seeding, weights (safetensors), resumable checkpoints, model cards,
and a step loop with a progress line.

- Weights ship as safetensors (no pickle, loads without running code), written atomically,
  with ``dict[str, str]`` metadata (model name, recipe, data, steps...).
- :class:`Checkpointer` saves everything needed to continue a run bit-for-bit: model,
  optimizer, scheduler, the data generator, torch/numpy/Python global RNG states, the step
  and an ``extra`` dict; ``out_dir/checkpoint.pt``, written atomically.
- Determinism of the data does not rest on the checkpoint: :func:`step_batches` draws the
  items of step ``s`` as indices ``[s * B, (s + 1) * B)`` of a dataset that is itself
  deterministic per index (:class:`hdrvideo.nn.data.HDRPatchDataset`), so a resumed run
  sees exactly the batches the uninterrupted run would have.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import torch

from hdrvideo.errors import InputNotFoundError, InvalidInputError, OutputError
from hdrvideo.io.atomic import atomic_output
from hdrvideo.progress import Progress, format_seconds

__all__ = [
    "CHECKPOINT_NAME",
    "Checkpointer",
    "ModelCard",
    "TrainProgress",
    "TrainResult",
    "count_parameters",
    "load_weights",
    "save_weights",
    "seed_everything",
    "step_batches",
    "train_loop",
    "weights_sha256",
    "write_model_card",
]

CHECKPOINT_NAME = "checkpoint.pt"


# --------------------------------------------------------------------------- seeding


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's ``random``, numpy and torch (CPU and CUDA) with ``seed``.

    Returns:
        A new CPU ``torch.Generator`` seeded with ``seed``: pass it explicitly to data and
        transform sampling (and save it in checkpoints) rather than relying on global state.
    """
    seed = int(seed)
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- weights


def save_weights(module: torch.nn.Module, path: Path, metadata: dict[str, str]) -> None:
    """Write ``module``'s state dict as safetensors at ``path``, atomically (replaces a file).

    Tensors are saved contiguous, on the CPU; tensors sharing storage (tied weights) are
    saved once (``safetensors.torch.save_model``). ``metadata`` must map ``str`` to ``str``.

    Raises:
        InvalidInputError: metadata that is not ``dict[str, str]``.
        OutputError: the folder does not exist or the path is a folder.
    """
    from safetensors.torch import save_model

    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise InvalidInputError("weights metadata must map str to str (json.dumps other values)")
    with atomic_output(path, overwrite=True) as tmp:
        save_model(module, str(tmp), metadata=dict(metadata), force_contiguous=True)


def load_weights(module: torch.nn.Module, path: Path) -> dict[str, str]:
    """Load safetensors weights into ``module`` (strict: every key, every shape) and return the metadata.

    Raises:
        InputNotFoundError: no file at ``path``.
        InvalidInputError: not a safetensors file, or its tensors do not fit ``module``
            (missing/unexpected keys, shape mismatch), with the first differences named.
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: weights file not found")
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = dict(fh.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InvalidInputError(f"{path}: not a readable safetensors file ({exc})") from exc
    expected = module.state_dict()
    # save_model drops duplicates of shared tensors: accept keys whose storage twin is present.
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    shapes = [
        f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in tensors
        if k in expected and tensors[k].shape != expected[k].shape
    ]
    if unexpected or shapes:
        parts = []
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:5]}")
        if shapes:
            parts.append(f"shape mismatch {shapes[:5]}")
        if missing:
            parts.append(f"missing keys {missing[:5]}")
        raise InvalidInputError(f"{path}: weights do not fit {type(module).__name__}: " + "; ".join(parts))
    result = module.load_state_dict(tensors, strict=False)
    really_missing = [k for k in result.missing_keys if not _shares_storage_with_loaded(module, k, tensors)]
    if really_missing:
        raise InvalidInputError(
            f"{path}: weights do not fit {type(module).__name__}: missing keys {really_missing[:5]}"
        )
    return metadata


def _shares_storage_with_loaded(module: torch.nn.Module, key: str, loaded: dict[str, torch.Tensor]) -> bool:
    state = module.state_dict(keep_vars=True)
    target = state[key]
    return any(
        k in loaded and k != key and v.data_ptr() == target.data_ptr() and v.shape == target.shape
        for k, v in state.items()
    )


def weights_sha256(path: Path) -> str:
    """The SHA-256 of a file, hex (for model cards and integrity checks of shipped weights)."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: file not found")
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- checkpoints


class Checkpointer:
    """Resumable training state in ``out_dir/checkpoint.pt``, written atomically.

    What is saved: ``step``, model and optimizer state dicts, the scheduler's (when given),
    the data ``generator``'s state (when given), torch's CPU (and CUDA) RNG, numpy's and
    Python's RNG states, and ``extra`` (any picklable dict: losses so far, best score...).
    Loading restores all of them, so the steps after a resume compute the same numbers as
    an uninterrupted run (on the same device and software).
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / CHECKPOINT_NAME

    def exists(self) -> bool:
        return self.path.is_file()

    def save(
        self,
        step: int,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any | None = None,
        generator: torch.Generator | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Path:
        """Write the state after ``step`` completed steps; returns the checkpoint path."""
        import numpy as np

        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.out_dir}: cannot create the output folder ({exc})") from exc
        state = {
            "format": 1,
            "step": int(step),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "generator": generator.get_state() if generator is not None else None,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy_rng": np.random.get_state(),
            "python_rng": random.getstate(),
            "extra": dict(extra or {}),
        }
        with atomic_output(self.path, overwrite=True) as tmp:
            torch.save(state, tmp)
        return self.path

    def load(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[int, dict[str, Any]] | None:
        """Restore the saved state into the given objects.

        Returns:
            ``(step, extra)``, or ``None`` when there is no checkpoint.

        Raises:
            InvalidInputError: the checkpoint is unreadable or does not fit ``model``.
        """
        import numpy as np

        if not self.path.is_file():
            return None
        try:
            # Our own file, holding optimizer state and RNG states (not only tensors).
            state = torch.load(self.path, map_location="cpu", weights_only=False)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, OSError, EOFError, ValueError) as exc:
            raise InvalidInputError(f"{self.path}: cannot resume from this checkpoint ({exc})") from exc
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        if generator is not None and state.get("generator") is not None:
            generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        np.random.set_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
        return int(state["step"]), dict(state.get("extra") or {})


# --------------------------------------------------------------------------- model cards


@dataclass
class ModelCard:
    """What a shipped model was trained on and what it measured.

    Attributes:
        name: model name (the recipe's).
        description: one paragraph: what it does, architecture.
        data: what it was trained on (sources, splits, sizes).
        steps: optimisation steps.
        wall_time_seconds: training wall time.
        parameters: trainable parameter count.
        seed: the run's seed.
        command: the command that reproduces it.
        results: rows of the results table (dicts with the same keys, in column order).
        notes: anything else (limitations, what was not measured).
        extra: further ``key: value`` lines (device, weights SHA-256...).
    """

    name: str
    description: str
    data: str
    steps: int
    wall_time_seconds: float
    parameters: int
    seed: int
    command: str
    results: list[dict[str, Any]] = field(default_factory=list)
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render_model_card(card: ModelCard) -> str:
    """The markdown text of :func:`write_model_card`."""
    lines = [
        f"# {card.name}",
        "",
        card.description.strip(),
        "",
        "## Training",
        "",
        f"- data: {card.data}",
        f"- steps: {card.steps}",
        f"- wall time: {format_seconds(card.wall_time_seconds)} ({card.wall_time_seconds:.0f} s)",
        f"- parameters: {card.parameters:,}",
        f"- seed: {card.seed}",
        f"- command: `{card.command}`",
    ]
    lines += [f"- {k}: {v}" for k, v in card.extra.items()]
    if card.results:
        columns: list[str] = []
        for row in card.results:
            columns += [k for k in row if k not in columns]
        lines += ["", "## Results", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for row in card.results:
            lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    if card.notes.strip():
        lines += ["", "## Notes", "", card.notes.strip()]
    return "\n".join(lines) + "\n"


def write_model_card(path: Path, card: ModelCard) -> None:
    """Write ``card`` as markdown at ``path`` (atomically, replacing a file)."""
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(render_model_card(card), encoding="utf-8")


# --------------------------------------------------------------------------- the step loop


class TrainProgress(Progress):
    """:class:`hdrvideo.progress.Progress` showing steps, loss, it/s and ETA::

        tmnet  step=  120/2000  loss=0.03412  it/s= 4.2  time=0:00:28  eta=0:07:27  [#---]   6%
    """

    def __init__(self, total_steps: int, *, start_step: int = 0, **kwargs: Any) -> None:
        super().__init__(total_steps, **kwargs)
        self.start_step = int(start_step)
        self.loss: float | None = None

    def line(self) -> str:
        elapsed = self.elapsed_seconds
        done = self.frames - self.start_step
        rate = done / elapsed if elapsed > 0 else 0.0
        parts = [self.label] if self.label else []
        parts.append(f"step={self.frames:5d}/{self.total_frames}")
        if self.loss is not None:
            parts.append(f"loss={self.loss:.5g}")
        parts.append(f"it/s={rate:5.2f}")
        parts.append(f"time={format_seconds(elapsed)}")
        if self.total_frames:
            if rate > 0 and self.frames < self.total_frames:
                parts.append(f"eta={format_seconds((self.total_frames - self.frames) / rate)}")
            frac = min(self.frames / self.total_frames, 1.0)
            filled = int(round(frac * self.width))
            parts.append(f"[{'#' * filled}{'-' * (self.width - filled)}] {frac * 100:3.0f}%")
        return "  ".join(parts)


@dataclass
class TrainResult:
    """What :func:`train_loop` did.

    Attributes:
        start_step: the step it started from (0, or the checkpoint's).
        steps: the step count reached.
        losses: the loss of every step run in this call (``float``), in order.
        wall_time_seconds: this call's wall time.
        extra: the ``extra`` dict restored from the checkpoint and updated by ``on_step``.
    """

    start_step: int
    steps: int
    losses: list[float]
    wall_time_seconds: float
    extra: dict[str, Any]


def train_loop(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_at_step: Callable[[int], torch.Tensor],
    steps: int,
    *,
    scheduler: Any | None = None,
    generator: torch.Generator | None = None,
    checkpointer: Checkpointer | None = None,
    checkpoint_every: int = 500,
    resume: bool = False,
    grad_clip_norm: float | None = None,
    progress: bool | TrainProgress = True,
    label: str = "train",
    log_file: TextIO | None = None,
    log_every: int = 100,
    on_step: Callable[[int, float, dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Run optimisation steps ``start .. steps - 1``, with checkpoints and a progress line.

    Each step: ``optimizer.zero_grad(set_to_none=True)``; ``loss = loss_at_step(step)``
    (the caller draws its batch for ``step``, e.g. with :func:`step_batches` or from
    ``generator``, and computes the loss); ``loss.backward()``; optional gradient-norm
    clipping; ``optimizer.step()``; ``scheduler.step()``. A non-finite loss stops the run
    with an error naming the step (the last checkpoint stays valid).

    Args:
        model: put in ``train()`` mode first.
        optimizer, scheduler: stepped every step (scheduler per step, not per epoch).
        loss_at_step: ``step -> scalar loss`` with a graph to ``model``'s parameters.
        steps: the total number of steps of the run (not of this call).
        generator: the data generator saved/restored with checkpoints.
        checkpointer: where to save every ``checkpoint_every`` steps and at the end.
        resume: start from the checkpoint when there is one (else from step 0).
        grad_clip_norm: clip the global gradient norm to this value.
        progress: draw :class:`TrainProgress` on stderr when it is a terminal (``True``),
            never (``False``), or use the given instance.
        label: the progress line's first word.
        log_file: where to write a line every ``log_every`` steps (JSON: step, loss, lr,
            seconds); useful under nohup where the progress line is not drawn.
        on_step: ``(step, loss, extra) -> None`` after each step (``extra`` is checkpointed).

    Returns:
        :class:`TrainResult`.
    """
    if steps < 0:
        raise InvalidInputError(f"steps must be non-negative, got {steps}")
    start, extra = 0, {}
    if resume and checkpointer is not None:
        restored = checkpointer.load(model, optimizer, scheduler, generator)
        if restored is not None:
            start, extra = restored
    if isinstance(progress, TrainProgress):
        bar = progress
    else:
        bar = TrainProgress(steps, start_step=start, enabled=bool(progress), label=label)
    bar.update(start)
    bar.start()
    model.train()
    losses: list[float] = []
    t0 = time.monotonic()
    step = start
    try:
        for step in range(start, steps):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_at_step(step)
            value = float(loss.detach())
            if not torch.isfinite(torch.tensor(value)):
                raise InvalidInputError(f"{label}: loss is {value} at step {step}; stopping (lower the learning rate?)")
            loss.backward()
            if grad_clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(value)
            if on_step is not None:
                on_step(step, value, extra)
            bar.loss = value
            bar.update(step + 1)
            done = step + 1
            if log_file is not None and (done % log_every == 0 or done == steps):
                lr = optimizer.param_groups[0].get("lr")
                print(
                    json.dumps({"step": done, "loss": value, "lr": lr, "seconds": round(time.monotonic() - t0, 2)}),
                    file=log_file,
                    flush=True,
                )
            if checkpointer is not None and checkpoint_every > 0 and done % checkpoint_every == 0 and done < steps:
                checkpointer.save(done, model, optimizer, scheduler, generator, extra)
        if checkpointer is not None and steps > start:
            checkpointer.save(steps, model, optimizer, scheduler, generator, extra)
    except KeyboardInterrupt:
        bar.close(interrupted=True)
        raise
    bar.close()
    return TrainResult(start, max(steps, start), losses, time.monotonic() - t0, extra)


def step_batches(
    dataset: torch.utils.data.Dataset,
    batch_size: int,
    start_step: int,
    steps: int,
    *,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> Iterator[Any]:
    """The batches of steps ``start_step .. steps - 1``: step ``s`` collates items
    ``[s * batch_size, (s + 1) * batch_size)`` (modulo ``len(dataset)``), in order.

    With a dataset that is deterministic per index, the batch of a step does not depend on
    where a run started, so resumed runs see the same data. ``num_workers > 0`` prepares
    batches in worker processes (a ``DataLoader`` over the index list; the order is kept).
    """
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be positive, got {batch_size}")
    n = len(dataset)  # type: ignore[arg-type]
    indices = [(s * batch_size + i) % n for s in range(start_step, steps) for i in range(batch_size)]
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=indices,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=False,
    )
    yield from loader

