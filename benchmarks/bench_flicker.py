#!/usr/bin/env python3
"""Temporal stability of tone mapping on a real clip with a hard cut.

Input: the 1080p HDR10 pan-with-cut clip (scripts/make_sample.py over two real panoramas).
For each variant the output is decoded back to display light and reduced to one number per
frame, log2 of mean luminance; the flicker figure is the RMS of the second difference of
(output - input) log2 mean luminance, in stops, away from the cut
(:func:`hdrvideo.quality.flicker.flicker_report`). "Settle" counts the frames after the cut
until the output stays within 0.05 stops of its new level.

Variants: hdrvideo BT.2390 with temporally smoothed peak (the default), the same with a
per-frame peak (no smoothing), ffmpeg's static Hable curve (zscale + tonemap), and a
600 cd/m² HDR10 target. Each hdrvideo variant runs twice to check that the same input gives
the same output bytes. A contact sheet of frames around the cut is saved as PNG.

Usage: python benchmarks/bench_flicker.py [--seconds 4]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys

import torch

from common import RESULTS, clip_1080p, machine_line, markdown_table
from hdrvideo.api import png_bytes
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.io.video_reader import VideoReader
from hdrvideo.quality.flicker import detect_cuts, flicker_report

FFMPEG_CHAIN = ("zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
                "zscale=t=bt709:m=bt709:r=tv,format=yuv420p")


def log2_means(path, **reader_options) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Per-frame log2 mean luminance (cd/m²) and a few frames kept for the contact sheet."""
    values, kept = [], []
    with VideoReader(path, **reader_options) as reader:
        for frame in reader:
            x = frame.data[:, ::4, ::4]
            y = 0.2627 * x[0] + 0.6780 * x[1] + 0.0593 * x[2]
            values.append(torch.log2(y.mean().clamp(min=1e-6)))
            kept.append(frame.data[:, ::4, ::4].clone())
    return torch.stack(values), kept


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    hdrvideo, ffmpeg = shutil.which("hdrvideo"), shutil.which("ffmpeg")
    clip = clip_1080p(args.seconds)
    variants = {
        "hdrvideo bt2390, smoothed peak (default)": ["tonemap=curve=bt2390:intensity=maxrgb", "sdr"],
        "hdrvideo bt2390, per-frame peak": ["tonemap=curve=bt2390:intensity=maxrgb:source_peak=frame", "sdr"],
        "hdrvideo hable, smoothed peak": ["tonemap=curve=hable:intensity=maxrgb", "sdr"],
        "hdrvideo bt2390 ictcp (generic path)": ["tonemap=curve=bt2390", "sdr"],
        "hdrvideo bt2390 -> HDR10 600 cd/m²": ["tonemap=curve=bt2390:intensity=maxrgb:target=hdr10:peak_nits=600",
                                               "hdr10"],
    }
    input_log2, input_frames = log2_means(clip)
    cuts = detect_cuts(input_log2)
    rows, results, sheets = [], {}, {}
    for name, (chain, kind) in variants.items():
        outputs = []
        for attempt in range(2):
            out = RESULTS / f"flicker_{len(results)}_{attempt}.mkv"
            codec = ["-c:v", "libx264", "-crf", "16"] if kind == "sdr" else ["-c:v", "libx265", "-crf", "16"]
            subprocess.run([hdrvideo, "-nostats", "-i", str(clip), "-vf", chain, *codec, "-y", str(out)], check=True)
            outputs.append(out)
        deterministic = sha256(outputs[0]) == sha256(outputs[1])
        out_log2, frames = log2_means(outputs[0], sdr_white_nits=100.0)
        report = flicker_report(input_log2, out_log2)
        results[name] = {"flicker_stops": report.flicker_stops, "settle_frames": report.settle_frames,
                         "deterministic": deterministic, "cuts": report.cuts}
        rows.append([name, f"{report.flicker_stops:.4f}", ", ".join(map(str, report.settle_frames)) or "-",
                     "yes" if deterministic else "NO"])
        sheets[name] = frames
    if ffmpeg:
        out = RESULTS / "flicker_ffmpeg_hable.mkv"
        subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(clip), "-vf", FFMPEG_CHAIN,
                        "-c:v", "libx264", "-crf", "16", str(out)], check=True)
        out_log2, frames = log2_means(out, sdr_white_nits=100.0)
        report = flicker_report(input_log2, out_log2)
        name = "ffmpeg zscale + tonemap=hable (static)"
        results[name] = {"flicker_stops": report.flicker_stops, "settle_frames": report.settle_frames}
        rows.append([name, f"{report.flicker_stops:.4f}", ", ".join(map(str, report.settle_frames)) or "-", "n/a"])
        sheets[name] = frames
    print(f"machine: {machine_line()}; clip: {clip.name}; input cuts at frames {cuts}")
    print(markdown_table(["variant", "flicker (stops, RMS 2nd diff vs input)", "frames to settle after cut",
                          "same bytes twice"], rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_flicker.json").write_text(json.dumps(results, indent=2, default=str))
    save_contact_sheet(sheets, cuts, RESULTS / "contact_sheet.png")
    print(f"\ncontact sheet: {RESULTS / 'contact_sheet.png'}")
    return 0


def save_contact_sheet(sheets: dict[str, list[torch.Tensor]], cuts: list[int], path) -> None:
    """Rows = variants, columns = frames before/around/after the cut, SDR-rendered."""
    first = next(iter(sheets.values()))
    cut = cuts[0] if cuts else len(first) // 2
    picks = sorted({0, cut // 2, max(cut - 1, 0), cut, min(cut + 3, len(first) - 1), len(first) - 1})
    rows = []
    for frames in sheets.values():
        tiles = [frames[i].clamp(min=0) for i in picks if i < len(frames)]
        rows.append(torch.cat(tiles, dim=-1))
    sheet = torch.cat(rows, dim=-2)
    # Outputs are display light (SDR white at 100 cd/m², HDR up to 600): shown with white at 100.
    spec = ColorSpec(primaries="bt709", transfer="srgb", matrix="rgb", range="full", bit_depth=8,
                     peak_nits=100.0, white_nits=100.0)
    path.write_bytes(png_bytes(sheet, spec))


if __name__ == "__main__":
    sys.exit(main())
