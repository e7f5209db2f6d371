"""The on-disk engine cache: where exports, TensorRT engines and backend choices live.

Layout (under :func:`default_cache_dir`)::

    onnx/<model>-<hash12>-opset<N>-torch<version>.onnx          ONNX exports
    tensorrt/<model>-<hash12>-<gpu>-sm<XY>-trt<version>-<fp16|fp32>.engine
    tensorrt/timing-<gpu>-sm<XY>-trt<version>.cache              TensorRT timing cache
    auto/<model>-<hash12>-<device>.json                          the ``auto`` backend decision

Every file is written to a temporary name beside its target and renamed
(:func:`hdrvideo.io.atomic.atomic_output`), so a crash never leaves half an engine under a
name a later run would trust, and two processes building the same key both end with a
whole file.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from hdrvideo.errors import OutputError

#: Environment variable that overrides the cache folder.
CACHE_ENV = "HDRVIDEO_CACHE"

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def default_cache_dir() -> Path:
    """``$HDRVIDEO_CACHE`` when set, else ``~/.cache/hdrvideo/engines``."""
    value = os.environ.get(CACHE_ENV)
    if value:
        return Path(value).expanduser()
    return Path.home() / ".cache" / "hdrvideo" / "engines"


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """The cache folder to use (created if missing).

    Raises:
        OutputError: it exists but is not a folder, or cannot be created.
    """
    path = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if path.exists() and not path.is_dir():
        raise OutputError(f"engine cache {path}: is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"engine cache {path}: cannot create it ({error.strerror or error})") from None
    return path


def slug(text: str) -> str:
    """A file-name-safe form of ``text`` (``"NVIDIA H100 80GB HBM3"`` -> ``"nvidia-h100-80gb-hbm3"``)."""
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "unknown"


def key_lock(path: Path) -> threading.Lock:
    """One lock per cache file, so threads of one process build a key once."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path), threading.Lock())
