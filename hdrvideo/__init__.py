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

from hdrvideo.api import open, transcode  # noqa: E402  (public API; shadows builtins.open inside this namespace only)
from hdrvideo.errors import HDRVideoError  # noqa: E402
from hdrvideo.frame import Frame  # noqa: E402
from hdrvideo.pipeline import Pipeline, PipelineReport  # noqa: E402

__all__ = ["Frame", "HDRVideoError", "Pipeline", "PipelineReport", "open", "transcode", "__version__"]
