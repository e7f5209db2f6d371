#!/usr/bin/env python3
"""Run the hdrvideo CLI with the generic path's native kernels turned off (for A/B timing).

``python benchmarks/torch_paths.py ARGS...`` is ``hdrvideo ARGS...`` except that the
Y'CbCr <-> linear-light conversion (:mod:`hdrvideo.io.native_convert`) and the ICtCp tone
mapping kernel (:mod:`hdrvideo.ops.ictcp_native`) take their torch paths, as before they
existed. The fused path (``intensity=maxrgb``/``luminance``) is not affected.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hdrvideo.io import native_convert  # noqa: E402
from hdrvideo.ops import ictcp_native  # noqa: E402

native_convert.decode_supported = lambda *args: False
native_convert.encode_supported = lambda *args: False
ictcp_native.applies = lambda *args: False

from hdrvideo.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
