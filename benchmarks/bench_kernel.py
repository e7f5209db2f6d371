"""Time the HDR10 -> SDR hot paths per 1080p frame (fused, and the generic path's kernels), without any codec.

Usage::

    python benchmarks/bench_kernel.py                 # the table below, medians of 20 runs
    python benchmarks/bench_kernel.py --runs 50 --json out.json

Rows (each a median over ``--runs`` calls on the same decoded frame, after a warm-up call):

- ``native`` kernel alone (:func:`hdrvideo.ops.fused.tonemap_yuv420_native`), 1 and 2
  OpenMP threads, bilinear chroma (the generic path's numbers; the default) and the 2x2
  ``block`` chroma of jellyfin's design, with and without dither, to SDR and to HDR10;
- ``native scalar``: the same kernel with the AVX2 version disabled (what a CPU without AVX2
  runs);
- ``torch`` path (:func:`~hdrvideo.ops.fused.tonemap_yuv420_torch`), the reference;
- ``FusedTonemapper.process``: everything per frame (statistics on the 1/16 grid, temporal
  smoothing, curve table, kernel into a new ``av.VideoFrame``);
- ``generic``: ``frame_to_working`` -> ``tonemap`` -> ``working_to_frame`` (what the pipeline
  does without the fused path), with ``intensity=maxrgb`` and with the default ICtCp;
- its parts: the native Y'CbCr -> linear-light conversion (:mod:`hdrvideo.io.native_convert`,
  AVX2 and scalar, 1 and 2 threads) and back (SDR 8-bit with TPDF dither), the tone mapping
  kernels on linear frames (:mod:`hdrvideo.ops.linear_native`: ICtCp, max(R, G, B)), and the
  torch paths they replace.

The input is the first frame of ``../shared/data/video/hdr10/sample_with_colr_mdcv_and_clli.mp4``
(1920x1080 HDR10) when present, otherwise a synthetic 1080p frame. The machine's other load
shows up in the timings: the ``min`` column is the least disturbed run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import torch  # noqa: E402

from hdrvideo.io.colorspec import ColorSpec  # noqa: E402
from hdrvideo.io.convert import frame_planes, frame_to_working, planes_to_frame, working_to_frame  # noqa: E402
from hdrvideo.io import native_convert  # noqa: E402
from hdrvideo.ops import fused, linear_native  # noqa: E402
from hdrvideo.ops.tonemap import tonemap  # noqa: E402
from torch_paths import torch_paths  # noqa: E402  (benchmarks/, the script's own folder)
from hdrvideo.ops.base import parse_chain  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "video" / "hdr10" / "sample_with_colr_mdcv_and_clli.mp4"
CHAIN = "tonemap=curve=bt2390:intensity=maxrgb"


def load_frame() -> tuple[av.VideoFrame, str]:
    if SAMPLE.exists():
        with av.open(str(SAMPLE)) as container:
            frame = next(container.decode(video=0))
            if (frame.width, frame.height) == (1920, 1080) and frame.format.name == "yuv420p10le":
                return frame, SAMPLE.name
    # synthetic: smooth colour gradients plus a bright highlight, 10-bit limited range
    yy, xx = np.mgrid[0:1080, 0:1920]
    y = (64 + 700 * (xx / 1919) ** 1.5 + 150 * np.sin(yy / 40) ** 2).astype(np.uint16)
    y[400:500, 900:1000] = 900
    cy, cx = np.mgrid[0:540, 0:960]
    u = (512 + 200 * np.sin(cx / 90)).astype(np.uint16)
    v = (512 + 200 * np.cos(cy / 70)).astype(np.uint16)
    frame = planes_to_frame([y, u, v], "yuv420p10le")
    frame.color_range, frame.colorspace, frame.color_primaries, frame.color_trc = 1, 9, 9, 16
    return frame, "synthetic 1920x1080"


def time_call(fn, runs: int) -> dict[str, float]:
    fn()  # warm-up (tables, thread pool, caches)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return {"median_ms": statistics.median(samples), "min_ms": min(samples), "runs": runs}


def generic_parts(frame: av.VideoFrame, spec: ColorSpec, args: argparse.Namespace) -> list[tuple[str, dict]]:
    """Rows for the generic path's parts, native and torch."""
    rows: list[tuple[str, dict]] = []
    hdr10 = ColorSpec()
    x = frame_to_working(frame, hdr10)
    if native_convert.native_convert_available():
        planes = frame_planes(frame)
        for threads in (1, 2):
            for simd in (True, False):
                kind = "AVX2" if simd else "scalar"
                rows.append((f"native Y'CbCr -> linear ({kind}), {threads} thread{'s' * (threads > 1)}", time_call(
                    lambda: native_convert.planes_to_linear(planes, hdr10, 10, threads=threads, simd=simd), args.runs)))
                rows.append((f"native linear -> SDR Y'CbCr, TPDF ({kind}), {threads} thread{'s' * (threads > 1)}",
                             time_call(lambda: native_convert.linear_to_planes(
                                 x, spec, 8, 1, 1, dither=True, threads=threads, simd=simd), args.runs)))
    curve = parse_chain("tonemap=curve=bt2390")[0].curve_record
    kw = dict(src_peak_nits=1000.0, dst_peak_nits=100.0, src_black_nits=0.0, dst_black_nits=0.0,
              **curve.parse_params(None))
    if linear_native.native_available():
        for simd in (True, False):
            rows.append((f"native ICtCp tonemap ({'AVX2' if simd else 'scalar'}), 2 threads", time_call(
                lambda: linear_native.tonemap_ictcp(x, curve, simd=simd, **kw), args.runs)))
        for simd in (True, False):
            rows.append((f"native max(R,G,B) tonemap ({'AVX2' if simd else 'scalar'}), 2 threads", time_call(
                lambda: linear_native.tonemap_gain(x, curve, intensity="maxrgb", simd=simd, **kw), args.runs)))
    with torch_paths():
        rows.append(("torch Y'CbCr -> linear (frame_to_working)", time_call(
            lambda: frame_to_working(frame, hdr10), args.torch_runs)))
        rows.append(("torch linear -> SDR Y'CbCr, TPDF (working_to_frame)", time_call(
            lambda: working_to_frame(x, spec, pix_fmt="yuv420p", dither=True), args.torch_runs)))
        for intensity, name in (("ictcp", "ICtCp"), ("maxrgb", "max(R,G,B)")):
            rows.append((f"torch {name} tonemap (float32)", time_call(
                lambda: tonemap(x, curve, intensity=intensity, src_peak_nits=1000.0, dst_peak_nits=100.0),
                args.torch_runs)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed calls per row (median reported)")
    parser.add_argument("--torch-runs", type=int, default=5, help="timed calls of the slow rows (torch, generic)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    frame, source = load_frame()
    planes = frame_planes(frame)
    native = fused.native_available()
    info = {}
    if native:
        from hdrvideo import _native

        info = dict(_native.build_info())
    print(f"input: {source}, {frame.width}x{frame.height} {frame.format.name}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads); native: {info or 'not built'}")

    rows: list[tuple[str, dict[str, float]]] = []

    def tables(target: str = "sdr", chroma: str = "bilinear") -> fused.FusedTables:
        return fused.build_tables("bt2390", 1000.0, 100.0 if target == "sdr" else 600.0, target,
                                  intensity="maxrgb", gamut="clip", chroma=chroma)

    if native:
        for label, kw, tab in (
            ("native SDR, bilinear chroma", {}, tables()),
            ("native SDR, bilinear, ordered dither", {"dither": "ordered"}, tables()),
            ("native SDR, bilinear, TPDF dither", {"dither": "tpdf"}, tables()),
            ("native SDR, 2x2 block chroma", {}, tables(chroma="block")),
            ("native HDR10 600 nits, bilinear", {}, tables("hdr10")),
        ):
            out = fused.tonemap_yuv420_native(*planes, tab, **kw)
            for threads in (1, 2):
                rows.append((f"{label}, {threads} thread{'s' * (threads > 1)}", time_call(
                    lambda: fused.tonemap_yuv420_native(*planes, tab, threads=threads, out=out, **kw), args.runs)))
        tab = tables()
        out = fused.tonemap_yuv420_native(*planes, tab)
        for threads in (1, 2):
            rows.append((f"native scalar (no AVX2) SDR, {threads} thread{'s' * (threads > 1)}", time_call(
                lambda: fused.tonemap_yuv420_native(*planes, tab, threads=threads, out=out, simd=False), args.runs)))
    rows.append(("torch path SDR, bilinear", time_call(lambda: fused.tonemap_yuv420_torch(*planes, tables()),
                                                      args.torch_runs)))
    for backend in (("native", "torch") if native else ("torch",)):
        tonemapper = fused.FusedTonemapper.from_chain(CHAIN, backend=backend)
        rows.append((f"FusedTonemapper.process ({backend}, all threads)",
                     time_call(lambda: tonemapper.process(frame), args.runs if backend == "native" else args.torch_runs)))
    if native:
        stats_tables = tables()
        from hdrvideo.ops.stats import measure_statistics

        rows.append(("  of which statistics (sample_linear + measure_statistics)", time_call(
            lambda: measure_statistics(fused.sample_linear(*planes, stats_tables), grid_step=1), args.runs)))
        rows.append(("  of which curve table rebuild", time_call(
            lambda: stats_tables.with_curve("bt2390", 1234.5), args.runs)))

    spec = ColorSpec("bt709", "bt1886", "bt709", "limited", 8, 100.0, 100.0)
    ops = parse_chain(CHAIN)

    def generic() -> None:
        x = frame_to_working(frame, ColorSpec())
        for op in ops:
            x = op.process(x)
        working_to_frame(x, spec, pix_fmt="yuv420p")

    rows.append(("generic frame_to_working -> tonemap -> working_to_frame", time_call(generic, args.torch_runs)))
    default_ops = parse_chain("tonemap=curve=bt2390")

    def generic_ictcp() -> None:
        x = frame_to_working(frame, ColorSpec())
        for op in default_ops:
            x = op.process(x)
        working_to_frame(x, spec, pix_fmt="yuv420p", dither=True)

    rows.append(("generic, default tonemap (ICtCp), TPDF dither", time_call(generic_ictcp, args.torch_runs)))
    rows += generic_parts(frame, spec, args)

    width = max(len(name) for name, _ in rows)
    print(f"\n{'per 1080p frame':<{width}}  {'median ms':>9}  {'min ms':>7}  {'fps':>6}")
    for name, r in rows:
        print(f"{name:<{width}}  {r['median_ms']:9.2f}  {r['min_ms']:7.2f}  {1000 / r['median_ms']:6.1f}")
    if args.json:
        args.json.write_text(json.dumps({"input": source, "native": info, "rows": dict(rows)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
