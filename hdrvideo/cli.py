"""The ``hdrvideo`` command.

Every sub-command is a thin layer over the Python API. User mistakes end as one line on
stderr and a non-zero exit code (the :class:`~hdrvideo.errors.HDRVideoError` subclass's
``exit_code``); Ctrl-C exits with 130 and leaves no partial output.

Two spellings of the transcoder, shaped like ``ffmpeg`` (see :data:`USAGE`)::

    hdrvideo [input options] -i IN [output options] OUT
    hdrvideo transcode [input options] -i IN [output options] OUT

``argparse`` cannot read ``-c:v``/``-vf``/``-pix_fmt`` style options with position-dependent
meaning (``-f``, ``-pix_fmt``, ``-s`` and ``-r`` before ``-i`` describe the input, after
it the output), so that form has its own small parser (:func:`parse_transcode_args`). The
first word decides: a known sub-command (``probe``, ``filters``, ``transcode``) or
``-h``/``--help``/``--version`` go to argparse, anything else is the ffmpeg form.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrvideo import __version__
from hdrvideo.errors import HDRVideoError, InvalidInputError, UnsupportedError

USAGE = """\
usage: hdrvideo [input options] -i INPUT [output options] OUTPUT
       hdrvideo transcode ...         (the same, spelled out)
       hdrvideo filters [NAME] [--json]
       hdrvideo probe [--json] [--fast] FILE...

input options (before -i):
  -f rawvideo          raw planar frames (with -pix_fmt, -s, -r); INPUT "-" is stdin
  -pix_fmt FMT         raw input pixel format (yuv420p10le, yuv420p, gbrp16le...)
  -s WxH               raw input size
  -r RATE, -framerate RATE
                       frame rate of raw input, sequences and stills (24, 24000/1001)
  -start_number N      first number of an image sequence
  --assume K=V[:K=V]   input colour signalling (transfer=pq:primaries=bt2020, white_nits=100)
output options (after -i):
  -vf CHAIN            filter chain: name=key=value:key=value,name2 (see: hdrvideo filters)
  -c:v CODEC           libx264 | libx265 | libsvtav1 | ffv1 (default from the extension and target)
  -crf N, -preset P    encoder quality and speed
  -x265-params / -x264-params / -svtav1-params K=V:...   extra encoder settings
  -pix_fmt FMT         output pixel format (raw: yuv420p10le/yuv420p...; PNG: rgb24/rgb48be;
                       video: yuv420p, yuv420p10le, yuv420p12le)
  -f rawvideo          OUTPUT "-" writes raw frames to stdout (the only format to name)
  --to sdr|hdr10|hlg   force the output kind (default: the chain's last target, else the input's)
  -frames:v N          stop after N frames
  -an                  do not copy audio and subtitles
  --no-fused           always take the generic path (working space, float32), never the
                       fused native hot path used for tonemap=...:intensity=maxrgb chains
either place:
  -ss TIME, -t TIME, -to TIME   start, duration, end (seconds or [HH:]MM:SS[.ms])
  -y / -n              overwrite / never overwrite the output (default: refuse)
  -stats, -progress    progress line on stderr even when it is not a terminal
  -nostats             no progress line
  -loglevel LEVEL      quiet|error hide warnings
outputs by name: video containers (.mkv .mp4 .mov .ts .webm .hevc .h264 .ivf), .png,
  .exr, .hdr, numbered sequences (frame_%04d.exr / .png / .hdr), "-" (raw frames to stdout)
"""


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"hdrvideo: warning: {message}", file=sys.stderr)


# ----------------------------------------------------------------------------- probe / filters


def _cmd_probe(args: argparse.Namespace) -> int:
    from hdrvideo.io.probe import format_probe, probe

    status = 0
    reports = []
    for path in args.files:
        try:
            reports.append(probe(path, count_frames=not args.fast))
        except HDRVideoError as error:
            print(f"hdrvideo: error: {error}", file=sys.stderr)
            status = status or error.exit_code
    if args.json:
        payload = reports[0] if len(args.files) == 1 and reports else reports
        if reports:
            print(json.dumps(payload, indent=2))
    else:
        print("\n\n".join(format_probe(r) for r in reports))
    return status


def _format_default(value: Any) -> str:
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_operator(entry: dict[str, Any]) -> str:
    """``hdrvideo filters NAME``: one operator in detail (like ``ffmpeg -h filter=NAME``)."""
    lines = [f"Filter {entry['name']}", f"  {entry['description'] or '(no description)'}"]
    if entry["temporal"]:
        lines.append("  temporal: keeps state across frames (reset at scene cuts and seeks)")
    lines.append(f"  class: {entry['module']}")
    if not entry["options"]:
        lines.append("  (no options)")
        return "\n".join(lines)
    lines.append(f"{entry['name']} options (NAME=key=value:key=value; the first option's key may be left out):")
    for option in entry["options"]:
        head = f"  {option['name']:<18} <{option['type']}>"
        extra = [f"default {_format_default(option['default'])}"]
        if option["minimum"] is not None or option["maximum"] is not None:
            low = _format_default(option["minimum"]) if option["minimum"] is not None else "-inf"
            high = _format_default(option["maximum"]) if option["maximum"] is not None else "inf"
            extra.append(f"range {low}..{high}")
        lines.append(f"{head:<34} {option['help']} ({'; '.join(extra)})")
        if option["choices"]:
            lines.append(f"{'':34}   choices: {', '.join(option['choices'])}")
    example = entry["options"][0]
    value = example["choices"][0] if example["choices"] else (
        _format_default(example["default"]) if example["default"] is not None else "VALUE")
    lines.append(f"example: -vf {entry['name']}={example['name']}={value}")
    return "\n".join(lines)


def format_operators(entries: list[dict[str, Any]]) -> str:
    """``hdrvideo filters``: every operator, one line each with its option names."""
    if not entries:
        return "No filters are registered."
    width = max(len(e["name"]) for e in entries)
    lines = ["Filters (T = temporal; -vf NAME=key=value:key=value,NAME2...; details: hdrvideo filters NAME):"]
    for e in entries:
        flag = "T" if e["temporal"] else "."
        lines.append(f" {flag} {e['name']:<{width}}  {e['description']}")
        if e["options"]:
            names = ", ".join(
                f"{o['name']}=<{o['type']}>" + (f" [{'|'.join(o['choices'])}]" if o["choices"] else "")
                + f" ({_format_default(o['default'])})"
                for o in e["options"]
            )
            lines.append(f"   {'':<{width}}  options: {names}")
    return "\n".join(lines)


def _cmd_filters(args: argparse.Namespace) -> int:
    from hdrvideo.api import describe_operator, describe_operators

    if args.name:
        entry = describe_operator(args.name)
        print(json.dumps(entry, indent=2, default=str) if args.json else format_operator(entry))
    else:
        entries = describe_operators()
        print(json.dumps(entries, indent=2, default=str) if args.json else format_operators(entries))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hdrvideo",
        description="Temporally stable HDR video: transcode, tone-map, probe HDR10/HLG/SDR.",
        epilog=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hdrvideo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("probe", help="describe a video's signalling and HDR metadata")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print JSON (keys documented in the README)")
    p.add_argument("--fast", action="store_true", help="do not count frames when the header lacks a count")
    p.set_defaults(run=_cmd_probe)
    f = sub.add_parser("filters", help="list the filters (operators) and their options")
    f.add_argument("name", nargs="?", metavar="NAME", help="show one filter in detail")
    f.add_argument("--json", action="store_true", help="print JSON")
    f.set_defaults(run=_cmd_filters)
    from hdrvideo.engines.cli import add_parser as add_engines_parser
    from hdrvideo.nn.cli import add_parser as add_train_parser
    from hdrvideo.quality.cli import add_parser as add_quality_parsers

    add_quality_parsers(sub)
    add_engines_parser(sub)
    add_train_parser(sub)
    sub.add_parser("transcode", help="ffmpeg-style: [options] -i IN [options] OUT (also without the word)",
                   add_help=False)
    return parser


# ----------------------------------------------------------------------------- ffmpeg-style


def parse_time(text: str, option: str) -> float:
    """FFmpeg time duration: ``[-][HH:]MM:SS[.m...]`` or ``S[.m...]`` with an optional
    ``s``/``ms``/``us`` suffix -> seconds."""
    value = text.strip()
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)(s|ms|us)?", value)
    if match:
        seconds = float(match.group(1)) * {None: 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}[match.group(2)]
        return seconds
    match = re.fullmatch(r"(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d*)?)", value)
    if match:
        hours = int(match.group(1) or 0)
        return hours * 3600 + int(match.group(2)) * 60 + float(match.group(3))
    hint = " (did you mean --to for the output kind?)" if option == "-to" and value in ("sdr", "hdr10", "hlg") else ""
    raise InvalidInputError(f"{option}: bad time {text!r}; expected seconds or [HH:]MM:SS[.ms]{hint}")


def _number(text: str, option: str, kind: type = float) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise InvalidInputError(f"{option}: {text!r} is not a valid {kind.__name__}") from None
    if value < 0:
        raise InvalidInputError(f"{option}: {text!r} must not be negative")
    return value


@dataclass
class TranscodeArgs:
    """The ffmpeg-style command line, parsed; :meth:`options` gives ``transcode()`` keywords."""

    input: str | None = None
    output: str | None = None
    chain: str = ""
    to: str | None = None
    codec: str | None = None
    crf: float | int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    overwrite: bool = False
    start_seconds: float | None = None
    duration_seconds: float | None = None
    end_seconds: float | None = None
    max_frames: int | None = None
    assume: str | None = None
    input_format: str | None = None
    input_pix_fmt: str | None = None
    input_size: str | None = None
    rate: str | None = None
    start_number: int | None = None
    output_format: str | None = None
    audio: bool = True
    codec_options: dict[str, str] = field(default_factory=dict)
    stats: str = "auto"  # auto | force | off
    quiet: bool = False
    help: bool = False
    fast: bool = True

    def options(self) -> dict[str, Any]:
        duration = self.duration_seconds
        if self.end_seconds is not None:
            span = self.end_seconds - (self.start_seconds or 0.0)
            if span <= 0:
                raise InvalidInputError(f"-to {self.end_seconds:g} is not after -ss {self.start_seconds or 0:g}")
            duration = span if duration is None else min(duration, span)
        if duration is not None and duration <= 0:
            raise InvalidInputError("-t must be positive")
        return dict(
            to=self.to, codec=self.codec, crf=self.crf, preset=self.preset, pix_fmt=self.pix_fmt,
            overwrite=self.overwrite, start_seconds=self.start_seconds, duration_seconds=duration,
            max_frames=self.max_frames, assume=self.assume, input_format=self.input_format,
            input_pix_fmt=self.input_pix_fmt, input_size=self.input_size, rate=self.rate,
            output_format=self.output_format, audio=self.audio, codec_options=self.codec_options or None,
            start_number=self.start_number, fast=self.fast,
        )


_FLAGS = {"-y", "-n", "-an", "-stats", "-progress", "-nostats", "-hide_banner", "-nostdin", "-h", "-help", "--help",
          "--no-fused"}
_VALUED = {
    "-i", "-f", "-pix_fmt", "-s", "-r", "-framerate", "-ss", "-t", "-to", "-vf", "-filter:v", "-c:v",
    "-codec:v", "-vcodec", "-c:a", "-codec:a", "-acodec", "-crf", "-preset", "-x265-params", "-x264-params",
    "-svtav1-params", "-frames:v", "-vframes", "--to", "--assume", "-loglevel", "-v", "-start_number",
}


def parse_transcode_args(argv: Sequence[str]) -> TranscodeArgs:
    """Parse ``[input options] -i IN [output options] OUT`` (see :data:`USAGE`).

    Raises:
        InvalidInputError: an unknown option, a missing value, no input or output, a value
            of the wrong kind; UnsupportedError: an ffmpeg option this tool does not do.
    """
    args = TranscodeArgs()
    tokens = list(argv)
    position = 0
    seen_input = False
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if token in _FLAGS:
            if token in ("-h", "-help", "--help"):
                args.help = True
            elif token == "-y":
                args.overwrite = True
            elif token == "-n":
                args.overwrite = False
            elif token == "-an":
                args.audio = False
            elif token in ("-stats", "-progress"):
                args.stats = "force"
            elif token == "-nostats":
                args.stats = "off"
            elif token == "--no-fused":
                args.fast = False
            continue
        if token.startswith("--") and "=" in token and token.split("=", 1)[0] in ("--to", "--assume"):
            token, value = token.split("=", 1)
            tokens.insert(position, value)
        if token in _VALUED:
            if position >= len(tokens):
                raise InvalidInputError(f"option {token} needs a value")
            value = tokens[position]
            position += 1
            _apply(args, token, value, before_input=not seen_input)
            if token == "-i":
                seen_input = True
            continue
        if token.startswith("-") and token != "-" and not token.startswith("pipe:"):
            if token.startswith("-c:") or token.startswith("-codec:") or token.startswith("-filter"):
                raise UnsupportedError(f"option {token}: only the video stream is processed (-c:v, -vf)")
            raise InvalidInputError(f"unknown option {token}; see hdrvideo -h")
        if not seen_input:
            raise InvalidInputError(f"{token!r} before -i: the input is given with -i, the output last")
        if args.output is not None:
            raise InvalidInputError(f"more than one output ({args.output!r}, {token!r}); hdrvideo writes one")
        args.output = token
    if args.help:
        return args
    if args.input is None:
        raise InvalidInputError("no input: use -i INPUT (see hdrvideo -h)")
    if args.output is None:
        raise InvalidInputError("no output file given: hdrvideo ... -i INPUT [options] OUTPUT")
    return args


def _apply(args: TranscodeArgs, option: str, value: str, *, before_input: bool) -> None:
    if option == "-i":
        if args.input is not None:
            raise InvalidInputError("more than one -i: hdrvideo reads one input")
        args.input = value
    elif option == "-f":
        if value != "rawvideo":
            raise UnsupportedError(f"-f {value}: only rawvideo is named; other formats follow the file name")
        if before_input:
            args.input_format = value
        else:
            args.output_format = value
    elif option == "-pix_fmt":
        if before_input:
            args.input_pix_fmt = value
        else:
            args.pix_fmt = value
    elif option == "-s":
        if not before_input:
            raise UnsupportedError("-s after -i would scale the output; scaling is not supported")
        args.input_size = value
    elif option in ("-r", "-framerate"):
        if not before_input:
            raise UnsupportedError(f"{option} after -i would convert the frame rate (not supported); give it before -i")
        from hdrvideo.api import parse_rate

        parse_rate(value)  # reject now, with the option's name in view
        args.rate = value
    elif option == "-ss":
        args.start_seconds = parse_time(value, option)
    elif option == "-t":
        args.duration_seconds = parse_time(value, option)
    elif option == "-to":
        args.end_seconds = parse_time(value, option)
    elif option in ("-vf", "-filter:v"):
        args.chain = value
    elif option in ("-c:v", "-codec:v", "-vcodec"):
        if value == "copy":
            raise UnsupportedError("-c:v copy: the video is always processed; use ffmpeg to remux")
        args.codec = value
    elif option in ("-c:a", "-codec:a", "-acodec"):
        if value != "copy":
            raise UnsupportedError(f"{option} {value}: audio is copied as is (-c:a copy) or dropped (-an)")
    elif option == "-crf":
        number = _number(value, option)
        args.crf = int(number) if number == int(number) else number
    elif option == "-preset":
        args.preset = value
    elif option in ("-x265-params", "-x264-params", "-svtav1-params"):
        args.codec_options[option[1:]] = value
    elif option in ("-frames:v", "-vframes"):
        args.max_frames = _number(value, option, int)
    elif option == "--to":
        if value not in ("sdr", "hdr10", "hlg"):
            raise InvalidInputError(f"--to {value!r}: expected sdr, hdr10 or hlg")
        args.to = value
    elif option == "--assume":
        from hdrvideo.io.colorspec import parse_override

        parse_override(value)
        args.assume = value
    elif option in ("-loglevel", "-v"):
        args.quiet = value.split("+")[-1] in ("quiet", "panic", "fatal", "error", "-8", "0", "8", "16")
    elif option == "-start_number":
        args.start_number = _number(value, option, int)


def _cmd_transcode(argv: Sequence[str]) -> int:
    args = parse_transcode_args(argv)
    if args.help:
        print(USAGE, end="")
        return 0
    from hdrvideo.api import transcode
    from hdrvideo.progress import Progress

    progress: Any
    if args.stats == "off":
        progress = None
    else:
        label = "-" if args.output in ("-", "pipe:", "pipe:1") else os.path.basename(args.output or "")
        progress = Progress(force=args.stats == "force", label=label)
    options = args.options()
    with warnings.catch_warnings():
        if args.quiet:
            warnings.simplefilter("ignore")
        report = transcode(args.input, args.output, args.chain, progress=progress, **options)
    if report.scores and not args.quiet:
        from hdrvideo.quality.scoring import format_summary, summarise

        print("scores of the written frames (score=...):", file=sys.stderr)
        print(format_summary({name: summarise(values) for name, values in report.scores.items()}), file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- entry point

_SUBCOMMANDS = ("probe", "filters", "score", "monitor", "engines", "train")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hdrvideo`` console script; returns the exit code."""
    warnings.showwarning = _show_warning
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # without importing torch
        print(f"hdrvideo {__version__}")
        return 0
    # OpenMP threads (the native kernels' and torch's) sleep between parallel regions
    # instead of spinning: here the decoder and encoder threads need those cores. Measured
    # on the 2-core machine, a 1080p fused transcode: 10 % less wall time, 25 % less CPU.
    # It must be set before torch loads the OpenMP runtime; a user's setting wins.
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        if argv and argv[0] == "transcode":
            return _cmd_transcode(argv[1:])
        if argv and argv[0] not in _SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
            return _cmd_transcode(argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "run", None):
            parser.print_help(sys.stderr)
            return 2
        return args.run(args)
    except HDRVideoError as error:
        print(f"hdrvideo: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("\nhdrvideo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our stdout went away (``| head``): not an error worth a traceback.
        # Point stdout at /dev/null so that the interpreter's final flush stays quiet.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except (PermissionError, IsADirectoryError, NotADirectoryError, FileNotFoundError) as error:
        print(f"hdrvideo: error: {error}", file=sys.stderr)
        return 6
    except MemoryError:
        print("hdrvideo: error: out of memory (try a smaller -ss/-t window or a lower resolution)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
