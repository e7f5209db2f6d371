"""hdrvideo: temporally stable HDR video processing.

The streaming API in one screen::

    import hdrvideo

    with hdrvideo.open("hdr10.mkv") as source:        # frames: (3, H, W) linear BT.2020 cd/m²
        print(source.info.hdr_format)
        for frame in source:
            ...

    hdrvideo.transcode("hdr10.mkv", "sdr.mp4", chain="tonemap=curve=bt2390")
    for frame in hdrvideo.Pipeline("hdr10.mkv", "tonemap=curve=bt2390"):
        ...
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

__all__ = ["Frame", "HDRVideoError", "Pipeline", "PipelineReport", "open", "transcode", "__version__"]

#: Where each public name lives. They are imported on first use (PEP 562), so that
#: ``import hdrvideo.cli`` does not import torch (about 2 s) before the command knows it needs
#: it: ``hdrvideo --version`` and ``--help`` start at once, and the command sets the OpenMP
#: wait policy before torch loads the OpenMP runtime (:func:`hdrvideo.cli.main`).
_PUBLIC = {
    "open": "hdrvideo.api",  # shadows builtins.open inside this namespace only
    "transcode": "hdrvideo.api",
    "HDRVideoError": "hdrvideo.errors",
    "Frame": "hdrvideo.frame",
    "Pipeline": "hdrvideo.pipeline",
    "PipelineReport": "hdrvideo.pipeline",
}

if TYPE_CHECKING:
    from hdrvideo.api import open, transcode  # noqa: F401
    from hdrvideo.errors import HDRVideoError  # noqa: F401
    from hdrvideo.frame import Frame  # noqa: F401
    from hdrvideo.pipeline import Pipeline, PipelineReport  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'hdrvideo' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
