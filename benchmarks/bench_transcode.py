#!/usr/bin/env python3
"""HDR10 -> SDR transcode speed: hdrvideo against ffmpeg's zscale + tonemap chain.

Both sides read the same 1080p HDR10 clip (a pan over a real panorama with a hard cut,
made by scripts/make_sample.py from ../shared/data) and encode with x264 ``-preset
ultrafast``. hdrvideo runs the BT.2390 curve on max(R,G,B) with temporal peak detection
(``tonemap=curve=bt2390:intensity=maxrgb``, the fused native path; FFmpeg's ``tonemap``
also maps max(R,G,B)); ffmpeg runs the chain of issue #4:

    zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,
    tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p

Runs alternate (A B A B ...), after one warm-up round; the table gives medians of wall time,
frames per second and peak memory, and the ratio hdrvideo fps / ffmpeg fps.

Start-up (``python -c "import hdrvideo.api"`` / ``ffmpeg -version``) is timed in the same
rounds and reported beside the per-frame speed without it: importing torch costs hdrvideo
about 2 s on this machine, which a short clip cannot hide.

Usage: python benchmarks/bench_transcode.py [--repeats 5] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from common import RESULTS, Series, alternate, clip_1080p, machine_line, markdown_table

FFMPEG_CHAIN = ("zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
                "zscale=t=bt709:m=bt709:r=tv,format=yuv420p")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=0, help="x264 threads on both sides (0 = auto)")
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    hdrvideo = shutil.which("hdrvideo")
    if not ffmpeg or not hdrvideo:
        raise SystemExit("needs ffmpeg (Debian package, with zscale) and the hdrvideo command on PATH")
    clip = clip_1080p(args.seconds)
    frames = round(args.seconds * 24)
    out_a, out_b = RESULTS / "bench_hdrvideo.mp4", RESULTS / "bench_ffmpeg.mp4"
    ours = Series("hdrvideo bt2390 + temporal peak (fused)", [
        hdrvideo, "-nostats", "-i", str(clip), "-vf", "tonemap=curve=bt2390:intensity=maxrgb", "-c:v", "libx264",
        "-preset", "ultrafast", "-y", str(out_a)])
    theirs = Series("ffmpeg zscale+tonemap=hable", [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-nostats", "-y", "-i", str(clip), "-vf", FFMPEG_CHAIN,
        "-c:v", "libx264", "-preset", "ultrafast", "-threads", str(args.threads), "-an", str(out_b)])
    # Start-up alone (the imports a transcode makes before its first frame: torch is most of
    # it; ``hdrvideo --version`` no longer imports torch), to separate it from per-frame speed.
    ours_startup = Series("hdrvideo start-up (import hdrvideo.api)", [sys.executable, "-c", "import hdrvideo.api"])
    theirs_startup = Series("ffmpeg start-up (-version)", [ffmpeg, "-version"])
    alternate([ours, theirs, ours_startup, theirs_startup], args.repeats)
    rows = []
    for s, start in ((ours, ours_startup), (theirs, theirs_startup)):
        steady = frames / max(s.wall_median - start.wall_median, 1e-9)
        rows.append([s.name, f"{s.wall_median:.2f}", f"{frames / s.wall_median:.1f}", f"{start.wall_median:.2f}",
                     f"{steady:.1f}", f"{s.rss_median:.0f}"])
    ratio = theirs.wall_median / ours.wall_median
    steady_ratio = (theirs.wall_median - theirs_startup.wall_median) / (ours.wall_median - ours_startup.wall_median)
    print(f"machine: {machine_line()}; clip: {clip.name} ({frames} frames, 1920x1080); "
          f"medians of {args.repeats} alternating runs")
    print(markdown_table(["command", "wall s", "fps", "start-up s", "fps without start-up", "peak MB"], rows))
    print(f"\nhdrvideo / ffmpeg speed ratio (fps, whole run): {ratio:.2f}x; without start-up: {steady_ratio:.2f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_transcode.json").write_text(json.dumps({
        "machine": machine_line(), "frames": frames, "ratio": ratio, "ratio_without_startup": steady_ratio,
        "series": [{"name": s.name, "command": s.command, "wall_seconds": [r.wall_seconds for r in s.runs],
                    "peak_rss_mb": [r.peak_rss_mb for r in s.runs]} for s in (ours, theirs, ours_startup, theirs_startup)],
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
