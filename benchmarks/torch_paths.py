#!/usr/bin/env python3
"""Run the hdrvideo CLI with the generic path's native kernels turned off (for A/B timing).

``python benchmarks/torch_paths.py ARGS...`` is ``hdrvideo ARGS...`` except that the
Y'CbCr <-> linear-light conversion (:mod:`hdrvideo.io.native_convert`) and the tone mapping
kernels on linear frames (:mod:`hdrvideo.ops.linear_native`) take their torch paths, as before
they existed. The fused path (``intensity=maxrgb``/``luminance``) is not affected.
:func:`torch_paths` does the same inside a process (``benchmarks/bench_kernel.py``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hdrvideo.io import native_convert  # noqa: E402
from hdrvideo.ops import linear_native  # noqa: E402


@contextlib.contextmanager
def torch_paths() -> Iterator[None]:
    """Within the block, the generic path runs without its native kernels."""
    saved = native_convert.decode_supported, native_convert.encode_supported, linear_native.applies
    native_convert.decode_supported = native_convert.encode_supported = linear_native.applies = lambda *a: False
    try:
        yield
    finally:
        native_convert.decode_supported, native_convert.encode_supported, linear_native.applies = saved


if __name__ == "__main__":
    from hdrvideo.cli import main

    with torch_paths():
        status = main(sys.argv[1:])
    raise SystemExit(status)
