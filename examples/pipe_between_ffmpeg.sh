#!/usr/bin/env bash
# ffmpeg | hdrvideo | ffmpeg: let ffmpeg demux/decode anything and encode with any of its
# encoders, while hdrvideo does the HDR work in between on raw frames.
#
#   examples/pipe_between_ffmpeg.sh input_hdr10.mkv output_sdr.mp4
#
# Raw frames carry no signalling: hdrvideo is told what comes in (--assume; 10-bit raw input
# defaults to HDR10 anyway) and says what goes out (-pix_fmt; the SDR target gives BT.709),
# and the last ffmpeg tags the stream accordingly. Set CHAIN to change the filters.
set -euo pipefail

IN=${1:?usage: pipe_between_ffmpeg.sh INPUT OUTPUT}
OUT=${2:?usage: pipe_between_ffmpeg.sh INPUT OUTPUT}
CHAIN=${CHAIN-tonemap=curve=bt2390}
HDRVIDEO=${HDRVIDEO:-hdrvideo}

IFS=, read -r W H RATE < <(ffprobe -v error -select_streams v:0 \
  -show_entries stream=width,height,r_frame_rate -of csv=p=0 "$IN")

ffmpeg -nostdin -v error -i "$IN" -map 0:v:0 -f rawvideo -pix_fmt yuv420p10le - |
  $HDRVIDEO -f rawvideo -pix_fmt yuv420p10le -s "${W}x${H}" -r "$RATE" \
    --assume primaries=bt2020:transfer=pq:matrix=bt2020nc:range=limited -i - \
    -vf "$CHAIN" --to sdr -pix_fmt yuv420p -nostats -f rawvideo - |
  ffmpeg -nostdin -v error -y -f rawvideo -pix_fmt yuv420p -s "${W}x${H}" -r "$RATE" -i - \
    -i "$IN" -map 0:v -map '1:a?' -c:a copy \
    -c:v libx264 -crf 18 -color_primaries bt709 -color_trc bt709 -colorspace bt709 -color_range tv \
    "$OUT"
echo "$OUT: ${W}x${H} @ ${RATE} SDR BT.709" >&2
