"""hdrvideo: temporally stable HDR video processing."""

__version__ = "0.1.0"
