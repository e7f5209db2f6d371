"""HDR10 MPEG-TS test streams for the monitor tests (PyAV + libx265, no hdrvideo writer).

:func:`segment_clip` encodes 10-bit PQ HEVC with ST 2086 mastering display and CTA-861.3
MaxCLL/MaxFALL SEI (MaxCLL 1000, MaxFALL 400, mastering peak 1000 cd/m²) made of named
segments: ``normal`` (a 0-400 cd/m² ramp with a moving low-chroma patch), ``black`` (code
64: 0 cd/m²), ``bright`` (right half at 4000 cd/m²: a "metadata lie"). Headers and SEI are
repeated at every keyframe (every 12 frames) so a receiver can join mid-stream.
:func:`send_paced` plays a file to a URL in real time (by DTS), stream copy, as
``ffmpeg -re -i IN -c copy -f mpegts URL`` does; run it in a subprocess via
``python -m tests.test_monitor_media send IN URL``.
"""

from __future__ import annotations

import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.media import planes_frame

X265 = (
    "colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:range=limited:hdr10=1:repeat-headers=1:"
    "keyint=12:min-keyint=12:bframes=0:"
    "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):"
    "max-cll=1000,400:log-level=error"
)
#: 10-bit limited-range luma codes of neutral grey at these luminances (PQ, ST 2084).
CODE_400_NITS = 635
CODE_4000_NITS = 855


def segment_planes(kind: str, index: int, width: int, height: int) -> list[np.ndarray]:
    cw, ch = width // 2, height // 2
    cb = np.full((ch, cw), 512, np.uint16)
    cr = np.full((ch, cw), 512, np.uint16)
    if kind == "black":
        luma = np.full((height, width), 64, np.uint16)
    else:
        luma = np.tile(np.linspace(64, CODE_400_NITS, width).round().astype(np.uint16), (height, 1))
        x = (index * 2) % max(cw - 8, 1)
        cb[2:10, x : x + 8] = 500
        cr[2:10, x : x + 8] = 530
        if kind == "bright":
            luma[:, width // 2 :] = CODE_4000_NITS
    return [luma, cb, cr]


def segment_clip(path: Path, segments: list[tuple[str, float]], *, rate: int = 24, width: int = 128,
                 height: int = 72) -> Path:
    """Encode ``segments`` = [(kind, seconds), ...] into ``path`` (``.ts``: MPEG-TS)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p10le"
        cc = stream.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = 9, 16, 9, 1
        cc.options = {"x265-params": X265}
        i = 0
        for kind, seconds in segments:
            for _ in range(int(round(seconds * rate))):
                vf = planes_frame(segment_planes(kind, i, width, height), "yuv420p10le")
                vf.pts, vf.time_base = i, Fraction(1, rate)
                vf.color_primaries, vf.color_trc, vf.colorspace, vf.color_range = 9, 16, 9, 1
                for packet in stream.encode(vf):
                    out.mux(packet)
                i += 1
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def send_paced(source: str, url: str) -> int:
    """Remux ``source`` to ``url`` as MPEG-TS in real time (packets sent at their DTS)."""
    sent = 0
    with av.open(source) as inp, av.open(url, "w", format="mpegts") as out:
        s_in = inp.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        start = time.monotonic()
        first = None
        for packet in inp.demux(s_in):
            if packet.dts is None:
                continue
            t = float(packet.dts * s_in.time_base)
            first = t if first is None else first
            delay = (t - first) - (time.monotonic() - start)
            if delay > 0:
                time.sleep(delay)
            packet.stream = s_out
            out.mux(packet)
            sent += 1
    return sent


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "send":
    print(send_paced(sys.argv[2], sys.argv[3]))
