"""Open a video (or an EXR/Radiance still, or a ``frame_%04d.exr`` sequence) and print
per-frame light statistics in cd/m².

    python examples/iterate_frames.py input.mkv

Each frame's ``data`` is a ``(3, H, W)`` float32 tensor of linear BT.2020 light in cd/m²,
whatever the file's own signalling (PQ, HLG, SDR), so the numbers below are physical.
"""

import sys

import torch

import hdrvideo.api as hv


def main(path: str) -> None:
    with hv.open(path) as reader:
        info = reader.info
        print(f"{info.path}: {info.width}x{info.height} {info.hdr_format} "
              f"{info.spec.primaries}/{info.spec.transfer}, rate {info.rate}, frames {info.frame_count}")
        for frame in reader:
            max_rgb = frame.data.amax(dim=0)  # CTA-861.3 measures max(R, G, B)
            sample = max_rgb.flatten()[:: max(1, max_rgb.numel() // 100_000)]
            p99 = torch.quantile(sample, 0.99).item()
            print(f"frame {frame.index:5d}  t={frame.pts_seconds or 0:7.3f}s  "
                  f"max={max_rgb.max().item():8.1f}  p99={p99:8.1f}  mean={max_rgb.mean().item():7.1f} cd/m²")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: iterate_frames.py INPUT")
    main(sys.argv[1])
