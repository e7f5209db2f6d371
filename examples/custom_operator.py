"""Write your own operator, register it, and use it in a filter chain string.

    python examples/custom_operator.py input.mkv output.mkv

An operator works in the working space (linear BT.2020 light, cd/m²), so this one is
written once in physical units and works on HDR10, HLG and SDR input alike. To make it
available to ``hdrvideo -vf`` from an installed package, declare it as an entry point:

    [project.entry-points."hdrvideo.operators"]
    vignette = "mypackage.ops:Vignette"
"""

import sys

import torch

from hdrvideo.api import Pipeline, transcode
from hdrvideo.ops.base import Operator, Option, register


@register
class Vignette(Operator):
    """Darken the corners: light x (1 - strength * r²), r = 1 at the corners."""

    name = "vignette"
    description = "darken towards the corners (example operator)"
    options = (
        Option("strength", float, 0.3, "darkening at the corners, 0-1", minimum=0.0, maximum=1.0),
    )

    def process(self, x: torch.Tensor, frame=None) -> torch.Tensor:
        height, width = x.shape[-2:]
        ys = torch.linspace(-1, 1, height, device=x.device, dtype=x.dtype).view(-1, 1)
        xs = torch.linspace(-1, 1, width, device=x.device, dtype=x.dtype).view(1, -1)
        r2 = (xs**2 + ys**2) / 2
        return x * (1 - self.strength * r2)


def main(source: str, target: str) -> None:
    # 1. as a filter string, like `hdrvideo -i IN -vf vignette=strength=0.5 OUT`
    report = transcode(source, target, "vignette=strength=0.5", overwrite=True)
    print(f"wrote {report.output.path}: {report.frames} frames")
    # 2. as an object in a chain, iterating the processed frames without writing a file
    for frame in Pipeline(source, [Vignette(strength=1.0)], max_frames=2):
        corner, centre = frame.data[:, 0, 0].max().item(), frame.data[:, frame.height // 2, frame.width // 2].max().item()
        print(f"frame {frame.index}: corner {corner:.1f} cd/m², centre {centre:.1f} cd/m²")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: custom_operator.py INPUT OUTPUT")
    main(sys.argv[1], sys.argv[2])
