"""The run-time no-reference quality scorer: frames in the working space -> ``nriqa`` scores.

:class:`NRScorer` cuts each frame into the network's 3x3 native-resolution 64x64 patches
(:func:`hdrvideo.nn.nriqa.extract_patches`), encodes them as the shipped weights were
trained (PU21 ``banding_glare`` / ``PU(10000)``) and runs the network through an engine
(:func:`hdrvideo.engines.load_engine`: torch, ONNX Runtime or TensorRT).

Scale: :attr:`NRScorer.scale` = ``"PU21-MS-SSIM (0..1, higher is better)"``: the predicted
PU21-MS-SSIM (:func:`hdrvideo.quality.pu21_metrics.pu21_msssim`) of the frame against its
unseen pristine version, as measured on 192x192 crops at training time.
"""

from __future__ import annotations

import functools
import threading

import torch

from hdrvideo.errors import InvalidInputError
from hdrvideo.nn.nriqa import WEIGHTS_PATH, encode_input, extract_patches, load_nriqa

__all__ = ["NRScorer", "load_scorer"]

SCALE = "PU21-MS-SSIM (0..1, higher is better)"

#: ONNX Runtime threads for CPU scoring. One: measured per 1080p frame, 3.28 ms with one
#: thread against 5.64 ms with two on a quiet 2-core machine, and 4.5 ms against 153 ms when
#: other work (decoding, encoding, the pipeline) fills both cores (hdrvideo/nn/weights/nriqa.md).
CPU_THREADS = 1


class NRScorer:
    """Score frames with the shipped ``nriqa`` network.

    Args:
        backend: ``"auto"``, ``"torch"``, ``"onnxruntime"`` or ``"tensorrt"`` (engines).
        device: where the network runs (``"cpu"``, ``"cuda"``...).
        threads: ONNX Runtime intra-op threads; default :data:`CPU_THREADS` on the CPU.

    Raises:
        InvalidInputError: the shipped weights are missing; bad backend/device names.
        UnsupportedError: the backend is not installed (from the engines).
    """

    scale: str = SCALE

    def __init__(self, backend: str = "auto", device: str | torch.device = "cpu", threads: int | None = None) -> None:
        from hdrvideo.engines import load_engine

        self.device = torch.device(device)
        _, meta = load_nriqa(WEIGHTS_PATH)  # the card metadata: encoding, teacher
        self.metadata = meta
        self.encoding = meta.get("encoding", "pu21")
        self._lock = threading.Lock()
        if threads is None and self.device.type == "cpu":
            threads = CPU_THREADS
        self._engine = load_engine("nriqa", backend=backend, device=self.device, threads=threads)
        self.backend = getattr(self._engine, "backend", backend)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """The encoded network input ``(N, 9, 3, 64, 64)`` of frames ``(3, H, W)``/``(N, 3, H, W)``."""
        if not isinstance(x, torch.Tensor):
            raise InvalidInputError(f"expected a torch tensor, got {type(x).__name__}")
        if x.dim() not in (3, 4) or x.shape[-3] != 3:
            raise InvalidInputError(f"expected (3, H, W) or (N, 3, H, W) frames, got {tuple(x.shape)}")
        # Patches first (a strided view of 9 x 64 x 64 pixels), then clean and encode them:
        # touching every pixel of a 1080p frame would cost more than the network.
        patches = torch.nan_to_num(extract_patches(x).float(), nan=0.0, posinf=10000.0, neginf=0.0)
        return encode_input(patches, self.encoding).to(self.device)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Scores of frames.

        Args:
            x: ``(3, H, W)`` or ``(N, 3, H, W)`` linear BT.2020 light in cd/m², any resolution
                (frames under 192 px on a side are resized up first), any device.

        Returns:
            ``(N,)`` float32 on the CPU, on :attr:`scale` (0..1, higher is better).
        """
        patches = self.patches(x)
        with self._lock, torch.inference_mode():
            out = self._engine(patches)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.reshape(-1).float().cpu()

    __call__ = score


@functools.lru_cache(maxsize=8)
def _cached(backend: str, device: str) -> NRScorer:
    return NRScorer(backend, device)


def load_scorer(backend: str = "auto", device: str | torch.device = "cpu") -> NRScorer:
    """A shared :class:`NRScorer` per ``(backend, device)`` (built once, thread-safe calls)."""
    return _cached(backend, str(torch.device(device)))
