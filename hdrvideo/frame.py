"""The unit that flows through hdrvideo: one picture in the working space plus its side data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Frame:
    """One video frame or still in the working space.

    Attributes:
        data: ``(3, H, W)`` tensor, linear light, BT.2020 primaries, absolute luminance in
            cd/m² (see docs/ARCHITECTURE.md, "Working space"). float32 on CPU; float16 is
            allowed on GPU.
        index: 0-based position of the frame in its stream (decode order of output frames).
        pts_seconds: presentation time in seconds, or ``None`` for stills.
        side_data: per-frame metadata. Keys used by the readers:
            ``"mastering_display"`` (:class:`hdrvideo.io.metadata.MasteringDisplay`),
            ``"content_light_level"`` (:class:`hdrvideo.io.metadata.ContentLightLevel`),
            ``"hdr10plus"`` (:class:`hdrvideo.io.metadata.HDR10PlusMetadata`),
            ``"corrupt"`` (``True`` when the decoder flagged the frame as damaged);
            scorers add ``"scores"`` (``dict[str, float]``).
    """

    data: torch.Tensor
    index: int = 0
    pts_seconds: float | None = None
    side_data: dict[str, Any] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.data.shape[-2])

    @property
    def width(self) -> int:
        return int(self.data.shape[-1])
