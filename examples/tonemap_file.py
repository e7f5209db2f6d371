"""Tone-map an HDR10 (or HLG) file to SDR H.264 through the Python API.

    python examples/tonemap_file.py input_hdr10.mkv output_sdr.mp4

The chain's last operator with an output target (here ``tonemap``) decides the output
signalling: BT.709 / BT.1886, 8-bit, limited range; ``to="sdr"`` says the same explicitly.
Audio is copied from the input. Nothing appears under the output name unless it succeeds.
"""

import sys

from hdrvideo.api import transcode
from hdrvideo.ops.base import available_operators


def main(source: str, target: str) -> None:
    # BT.2390 EETF, the ITU's reference curve; without the tonemap operator (older builds)
    # the picture is only clipped at SDR white.
    chain = "tonemap=curve=bt2390" if "tonemap" in available_operators() else ""
    report = transcode(source, target, chain, to="sdr", crf=18, preset="fast", overwrite=True, progress=True)
    out = report.output
    print(f"{out.path}: {report.frames} frames, {out.codec}, {report.output_spec.hdr_format} "
          f"({report.output_spec.primaries}/{report.output_spec.transfer}), {report.fps:.1f} fps")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: tonemap_file.py INPUT OUTPUT")
    main(sys.argv[1], sys.argv[2])
