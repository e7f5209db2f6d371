#!/usr/bin/env python3
"""Whole-process speed of the generic path with and without its native kernels.

Four jobs on the 96-frame 1080p HDR10 clip (``common.clip_1080p``, x264 ``-preset
ultrafast`` where there is output): the default ``-vf tonemap`` (ICtCp intensity, not on the
fused path), ``-vf tonemap=curve=net``, ``hdrvideo monitor`` (full resolution, NR score) and
``intensity=maxrgb`` kept off the fused path (``--no-fused``, as a chain the fused kernel
cannot take runs). Each runs as ``hdrvideo`` and as ``benchmarks/torch_paths.py`` (the same
command with the native Y'CbCr <-> linear conversion and the tone-mapping kernels on linear
frames turned off), alternating A B A B
after a warm-up round; the fused ``intensity=maxrgb`` transcode is timed beside them for
scale. The table gives medians of wall time and peak memory and the native / torch ratio.

Usage: python benchmarks/bench_generic.py [--repeats 3] [--seconds 4]
"""

from __future__ import annotations

import argparse
import shutil
import sys

from common import RESULTS, ROOT, Series, alternate, clip_1080p, machine_line, markdown_table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    hdrvideo = shutil.which("hdrvideo")
    if not hdrvideo:
        raise SystemExit("needs the hdrvideo command on PATH (scripts/setup)")
    clip = str(clip_1080p(args.seconds))
    torch_paths = [sys.executable, str(ROOT / "benchmarks" / "torch_paths.py")]
    out = str(RESULTS / "bench_generic.mp4")
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-nostats", "-y", out]
    jobs = [
        ("-vf tonemap (default, ICtCp)", ["-i", clip, "-vf", "tonemap", *encode]),
        ("-vf tonemap=curve=net", ["-i", clip, "-vf", "tonemap=curve=net", *encode]),
        ("monitor (full resolution, NR score)", ["monitor", clip, "-q"]),
        ("-vf tonemap=intensity=maxrgb --no-fused", ["-i", clip, "-vf", "tonemap=intensity=maxrgb", "--no-fused",
                                                     *encode]),
    ]
    pairs = [(Series(name, [hdrvideo, *argv]), Series(name, [*torch_paths, *argv])) for name, argv in jobs]
    fused = Series("-vf tonemap=intensity=maxrgb (fused kernel)",
                   [hdrvideo, "-i", clip, "-vf", "tonemap=intensity=maxrgb", *encode])
    alternate([s for pair in pairs for s in pair] + [fused], args.repeats)
    rows = []
    for native, torch in pairs:
        rows.append([native.name, f"{native.wall_median:.1f}", f"{torch.wall_median:.1f}",
                     f"{native.wall_median / torch.wall_median:.2f}",
                     f"{native.rss_median:.0f} / {torch.rss_median:.0f}"])
    rows.append([fused.name, f"{fused.wall_median:.1f}", "", "", f"{fused.rss_median:.0f}"])
    print(f"machine: {machine_line()}; clip: {round(args.seconds * 24)} frames 1920x1080 HDR10; "
          f"medians of {args.repeats} alternating runs, whole process with start-up")
    print(markdown_table(["job", "native s", "torch paths s", "ratio", "peak MiB native / torch"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
