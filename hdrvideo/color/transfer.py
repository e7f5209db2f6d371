"""One registry of transfer functions, so that a file's tag can say ``transfer="pq"``.

:func:`decode_transfer` turns a non-linear signal (0-1) into display light in cd/m²;
:func:`encode_transfer` is its exact inverse. What each name means:

==========  =========================================================  ==============  =========
name        signal -> display light                                    peak_nits       black_nits
==========  =========================================================  ==============  =========
``pq``      SMPTE ST 2084 EOTF (absolute)                              ignored         ignored
``hlg``     BT.2100-2 HLG EOTF incl. OOTF, ``L_W = peak_nits``         display peak    ``L_B``
``srgb``    IEC 61966-2-1 EOTF x ``peak_nits``                         white level     ignored
``bt1886``  BT.1886 Annex 1 EOTF, ``L_W = peak_nits``                  white level     ``L_B``
``gamma22`` pure power 2.2 x ``peak_nits`` (BT.470 System M)           white level     ignored
``gamma28`` pure power 2.8 x ``peak_nits`` (BT.470 System B, G)        white level     ignored
``linear``  signal x ``peak_nits``                                      white level     ignored
==========  =========================================================  ==============  =========

For SDR, ``peak_nits`` is where reference white is placed in the working space (BT.2408:
203 cd/m² when mixing with HDR, 100 for SDR-to-SDR work).

Shapes: ``(*, 3, H, W)`` (HLG needs the three channels together; the others are
element-wise but are given the same shape contract). Any device and floating dtype,
differentiable. :func:`encode_transfer` does not clip its result to [0, 1]: clamping to the
representable range is the caller's decision; negative light is guarded (it never gives NaN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from hdrvideo.color._safe import check_channels, check_positive, choose, promote_half
from hdrvideo.color.hlg import eotf_BT2100_HLG, eotf_inverse_BT2100_HLG
from hdrvideo.color.pq import eotf_inverse_ST2084, eotf_ST2084
from hdrvideo.color.sdr import (
    eotf_BT1886,
    eotf_inverse_BT1886,
    eotf_inverse_sRGB,
    eotf_sRGB,
    gamma_decode,
    gamma_encode,
)
from hdrvideo.errors import InvalidInputError

__all__ = ["TRANSFERS", "TRANSFER_FUNCTIONS", "TransferFunction", "decode_transfer", "encode_transfer"]

Fn = Callable[[torch.Tensor, float, float], torch.Tensor]


@dataclass(frozen=True)
class TransferFunction:
    """One transfer: ``decode(V, peak_nits, black_nits)`` -> cd/m², ``encode`` its inverse."""

    name: str
    description: str
    decode: Fn
    encode: Fn


def _relative(decode_rel: Callable[[torch.Tensor], torch.Tensor], encode_rel: Callable[[torch.Tensor], torch.Tensor]):
    return (
        lambda V, peak, black: decode_rel(V) * peak,
        lambda L, peak, black: encode_rel(L / peak),
    )


_RECORDS = [
    TransferFunction(
        "pq", "SMPTE ST 2084 perceptual quantiser (absolute, 0-10000 cd/m²)",
        lambda V, peak, black: eotf_ST2084(V),
        lambda L, peak, black: eotf_inverse_ST2084(L),
    ),
    TransferFunction(
        "hlg", "ITU-R BT.2100-2 hybrid log-gamma, EOTF with OOTF for a display of peak_nits",
        lambda V, peak, black: eotf_BT2100_HLG(V, L_W=peak, L_B=black),
        lambda L, peak, black: eotf_inverse_BT2100_HLG(L, L_W=peak, L_B=black),
    ),
    TransferFunction("srgb", "IEC 61966-2-1 sRGB EOTF, white at peak_nits", *_relative(eotf_sRGB, eotf_inverse_sRGB)),
    TransferFunction(
        "bt1886", "ITU-R BT.1886 (gamma 2.4 with black level), white at peak_nits",
        lambda V, peak, black: eotf_BT1886(V, L_B=black, L_W=peak),
        lambda L, peak, black: eotf_inverse_BT1886(L, L_B=black, L_W=peak),
    ),
    TransferFunction(
        "gamma22", "pure power 2.2 (BT.470 System M), white at peak_nits",
        *_relative(lambda V: gamma_decode(V, 2.2), lambda L: gamma_encode(L, 2.2)),
    ),
    TransferFunction(
        "gamma28", "pure power 2.8 (BT.470 System B, G), white at peak_nits",
        *_relative(lambda V: gamma_decode(V, 2.8), lambda L: gamma_encode(L, 2.8)),
    ),
    TransferFunction("linear", "linear light, signal 1 at peak_nits", *_relative(lambda V: V, lambda L: L)),
]

#: name -> :class:`TransferFunction`.
TRANSFER_FUNCTIONS: dict[str, TransferFunction] = {t.name: t for t in _RECORDS}

#: Valid transfer names.
TRANSFERS: tuple[str, ...] = tuple(TRANSFER_FUNCTIONS)


def _lookup(transfer: str, peak_nits: float, black_nits: float) -> tuple[TransferFunction, float, float]:
    record = TRANSFER_FUNCTIONS[choose("transfer", transfer, TRANSFERS)]
    peak = check_positive(peak_nits, "peak_nits")
    black = float(black_nits)
    if not 0 <= black < peak:
        raise InvalidInputError(f"black_nits must satisfy 0 <= black_nits < peak_nits ({peak}), got {black!r}")
    return record, peak, black


@promote_half
def decode_transfer(
    V: torch.Tensor, transfer: str, *, peak_nits: float, black_nits: float = 0.0
) -> torch.Tensor:
    """Non-linear signal -> display light in cd/m² (see the module table).

    ============  ============================================  ==========
    Domain        ``V``: non-linear R'G'B' signal, (*,3,H,W)     0-1
    Range         display linear light, same shape               cd/m²
    ============  ============================================  ==========

    Args:
        V: the signal, any floating dtype/device.
        transfer: one of :data:`TRANSFERS`.
        peak_nits: display peak (hlg) or reference white (SDR transfers), cd/m²; ignored
            by pq.
        black_nits: display black, cd/m², used by hlg and bt1886 only.

    Raises:
        InvalidInputError: unknown transfer, bad peak/black, or not ``(*, 3, H, W)``.
    """
    record, peak, black = _lookup(transfer, peak_nits, black_nits)
    check_channels(V, "V")
    return record.decode(V, peak, black)


@promote_half
def encode_transfer(
    L: torch.Tensor, transfer: str, *, peak_nits: float, black_nits: float = 0.0
) -> torch.Tensor:
    """Display light in cd/m² -> non-linear signal; the inverse of :func:`decode_transfer`.

    ============  ============================================  ==========
    Domain        ``L``: display linear light, (*,3,H,W)         cd/m²
    Range         non-linear R'G'B' signal, same shape           0-1 (not clipped)
    ============  ============================================  ==========

    Light above the peak gives signals above 1: clip them if the output needs it.
    """
    record, peak, black = _lookup(transfer, peak_nits, black_nits)
    check_channels(L, "L")
    return record.encode(L, peak, black)
