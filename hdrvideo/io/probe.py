"""``hdrvideo probe``: what a broadcast engineer asks of a file first.

:func:`probe` returns a JSON-ready dict; its keys are documented in the README
("probe JSON keys") and stable. :func:`format_probe` renders it as text.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import av

from hdrvideo.errors import HDRVideoWarning
from hdrvideo.io.video_reader import VideoReader, open_container


def count_video_packets(path: str) -> tuple[int, float | None]:
    """Count the video stream's packets (one per frame for the codecs we read) without decoding.

    Returns ``(count, last_end_seconds)``: the number of packets and the end time of the last
    one (pts + duration) where timestamps exist.
    """
    count, end = 0, None
    with open_container(path) as container:
        stream = container.streams.video[0]
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                count += 1
                if packet.pts is not None and packet.time_base is not None:
                    t = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                    end = t if end is None else max(end, t)
        except av.error.FFmpegError:
            pass  # truncated: what was counted stands; the reader reports decode errors
    return count, end


def probe(path: str | os.PathLike[str], *, count_frames: bool = True) -> dict[str, Any]:
    """Describe a video file's container, stream, signalling and HDR metadata.

    Args:
        path: the file.
        count_frames: when the header has no frame count, count packets (no decode).

    Returns:
        A JSON-ready dict (see README, "probe JSON keys").

    Raises:
        InputNotFoundError, InvalidInputError, DecodeError: for unusable input.
    """
    name = os.fspath(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HDRVideoWarning)
        with VideoReader(name) as reader:
            info = reader.info
            decode_errors = reader.decode_errors
            container_bit_rate = reader._container.bit_rate or None
    frame_count, frame_count_source = info.frame_count, "header"
    duration = info.duration_seconds
    if count_frames and (frame_count is None or duration is None):
        counted, end = count_video_packets(name)
        if frame_count is None:
            frame_count, frame_count_source = counted, "counted"
        if duration is None:
            if end is not None and end > 0:
                duration = end
            elif info.rate:
                duration = counted / float(info.rate)
    spec = info.spec
    md, cll = info.mastering_display, info.content_light_level
    return {
        "file": name,
        "size_bytes": Path(name).stat().st_size if Path(name).is_file() else None,
        "container": {
            "format": info.container,
            "long_name": info.container_long_name,
            "bit_rate": container_bit_rate,
        },
        "video": {
            "codec": info.codec,
            "decoder": info.decoder,
            "codec_long_name": info.codec_long_name,
            "profile": info.profile,
            "width": info.width,
            "height": info.height,
            "frame_rate": str(info.rate) if info.rate else None,
            "frame_rate_fps": round(float(info.rate), 6) if info.rate else None,
            "frame_count": frame_count,
            "frame_count_source": frame_count_source if frame_count is not None else None,
            "duration_seconds": round(duration, 6) if duration is not None else None,
            "pix_fmt": info.pix_fmt,
            "bit_depth": info.bit_depth,
            "chroma_subsampling": info.chroma_subsampling,
        },
        "color": {
            "primaries": spec.primaries,
            "transfer": spec.transfer,
            "matrix": spec.matrix,
            "range": spec.range,
            "signalled": spec.signalled,
            "codes": info.signalled,
        },
        "hdr": {
            "format": info.hdr_format,
            "hdr10plus": info.hdr10plus,
            "dolby_vision": info.dolby_vision,
            "mastering_display": md.to_dict() if md is not None else None,
            "content_light_level": cll.to_dict() if cll is not None else None,
        },
        "other_streams": info.other_streams,
        "decode_errors": decode_errors,
        "warnings": sorted({str(w.message).removeprefix(f"{name}: ") for w in caught}),
    }


def _fmt_xy(xy: Any) -> str:
    return f"({xy[0]:.4f}, {xy[1]:.4f})"


def format_probe(report: dict[str, Any]) -> str:
    """Human-readable text of a :func:`probe` report."""
    v, c, h = report["video"], report["color"], report["hdr"]
    fmt = h["format"] + (", Dolby Vision present" if h["dolby_vision"] else "")
    lines = [
        f"File:            {report['file']}",
        f"Container:       {report['container']['long_name']} ({report['container']['format']})",
        f"Video:           {v['codec']} ({v['profile'] or '-'}), {v['width']}x{v['height']}, "
        f"{v['frame_rate_fps'] if v['frame_rate_fps'] is not None else '?'} fps",
        f"Pixels:          {v['pix_fmt']}, {v['bit_depth']}-bit, {v['chroma_subsampling']}",
        f"Frames:          {v['frame_count'] if v['frame_count'] is not None else '?'} "
        f"({v['frame_count_source'] or 'unknown'}), duration "
        f"{v['duration_seconds'] if v['duration_seconds'] is not None else '?'} s",
        f"Colour:          primaries {c['primaries']}, transfer {c['transfer']}, matrix {c['matrix']}, "
        f"range {c['range']}{'' if c['signalled'] else ' (partly guessed)'}",
        f"HDR format:      {fmt}",
    ]
    md = h["mastering_display"]
    if md:
        lines.append(
            f"Mastering:       R{_fmt_xy(md['red'])} G{_fmt_xy(md['green'])} B{_fmt_xy(md['blue'])} "
            f"WP{_fmt_xy(md['white_point'])}, {md['min_luminance_nits']:g}-{md['max_luminance_nits']:g} cd/m²"
        )
    else:
        lines.append("Mastering:       none")
    cll = h["content_light_level"]
    lines.append(
        f"Light level:     MaxCLL {cll['max_cll_nits']:g} cd/m², MaxFALL {cll['max_fall_nits']:g} cd/m²"
        if cll else "Light level:     none"
    )
    for s in report["other_streams"]:
        lines.append(f"Stream #{s['index']}:       {s['type']} {s['codec'] or ''} {s['language'] or ''}".rstrip())
    if report["decode_errors"]:
        lines.append(f"Decode errors:   {report['decode_errors']}")
    for w in report["warnings"]:
        lines.append(f"Warning:         {w}")
    return "\n".join(lines)
