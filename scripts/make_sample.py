#!/usr/bin/env python3
"""Make the bundled HDR10 sample: a pan across a real HDR panorama with a hard cut.

Source images (from ../shared/data): ``radiance/quarry_01_1k.hdr`` (Poly Haven, CC0), a
bright open landscape, and ``exr/Tiles_GoldenGate.exr`` (OpenEXR sample images, BSD-3), a
dimmer bay view. Scene value 1.0 is placed at 203 cd/m² (BT.2408 reference
white), so skies and the sun reach the thousands of cd/m² and PQ clips at 10000.

The clip pans a window across the first image, cuts hard to the second and pans on:
the shape the temporal tone-mapping tests and benchmarks need (smooth motion, then a cut).

Usage:
    python scripts/make_sample.py OUT.mkv [--width 640 --height 360 --seconds 3 --fps 24]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from hdrvideo.frame import Frame
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.io.images import read_image
from hdrvideo.io.metadata import MasteringDisplay
from hdrvideo.io.video_writer import VideoWriter
from hdrvideo.nn.data import master_to_display

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
IMAGES = ("radiance/quarry_01_1k.hdr", "exr/Tiles_GoldenGate.exr")

#: A P3-D65 1000 cd/m² mastering display, the most common HDR10 grading set-up.
MASTERING_P3_1000 = MasteringDisplay(
    red=(0.680, 0.320),
    green=(0.265, 0.690),
    blue=(0.150, 0.060),
    white_point=(0.3127, 0.3290),
    min_luminance_nits=0.0001,
    max_luminance_nits=1000.0,
)


def pan_frames(image: torch.Tensor, count: int, width: int, height: int, start: float, stop: float):
    """Crop windows of a panorama ``(3, h, w)``, moving from ``start`` to ``stop`` (0-1 of the travel).

    The panorama is first scaled so its height equals 1.5 x the window height; the window
    moves by sub-pixel steps (bilinear resampling), as a camera pan would.
    """
    scale = 1.5 * height / image.shape[-2]
    big = F.interpolate(image[None], scale_factor=scale, mode="bilinear", align_corners=False)[0]
    travel_x = big.shape[-1] - width - 1
    travel_y = big.shape[-2] - height - 1
    for i in range(count):
        t = start + (stop - start) * i / max(count - 1, 1)
        x0, y0 = t * travel_x, 0.5 * travel_y
        ys = torch.linspace(y0, y0 + height - 1, height)
        xs = torch.linspace(x0, x0 + width - 1, width)
        grid_y = ys[:, None].expand(height, width) / (big.shape[-2] - 1) * 2 - 1
        grid_x = xs[None, :].expand(height, width) / (big.shape[-1] - 1) * 2 - 1
        grid = torch.stack([grid_x, grid_y], dim=-1)[None]
        yield F.grid_sample(big[None], grid, mode="bilinear", align_corners=True)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--crf", type=int, default=22)
    parser.add_argument("--codec", default="libx265")
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder holding the two images")
    args = parser.parse_args(argv)

    images = [read_image(args.shared / name).data for name in IMAGES]
    total = round(args.seconds * args.fps)
    first = total * 3 // 5
    spec = ColorSpec(primaries="bt2020", transfer="pq", matrix="bt2020nc", range="limited", bit_depth=10)
    sequences = [
        pan_frames(images[0], first, args.width, args.height, 0.10, 0.45),
        pan_frames(images[1], total - first, args.width, args.height, 0.30, 0.55),
    ]
    with VideoWriter(
        args.output,
        spec=spec,
        codec=args.codec,
        rate=args.fps,
        crf=args.crf,
        preset=args.preset,
        mastering_display=MASTERING_P3_1000,
        overwrite=True,
    ) as writer:
        index = 0
        for sequence in sequences:
            for picture in sequence:
                writer.write(Frame(master_to_display(picture), index=index, pts_seconds=index / args.fps))
                index += 1
    report = writer.report
    print(f"{args.output}: {report.frames} frames, {report.width}x{report.height}, "
          f"MaxCLL {report.content_light_level.max_cll_nits:g}, MaxFALL {report.content_light_level.max_fall_nits:g} cd/m², "
          f"{report.bytes} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
