"""The ``hdrvideo`` command.

Every sub-command is a thin layer over the Python API. User mistakes end as one line on
stderr and a non-zero exit code (the :class:`~hdrvideo.errors.HDRVideoError` subclass's
``exit_code``); Ctrl-C exits with 130 and leaves no partial output.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence

from hdrvideo import __version__
from hdrvideo.errors import HDRVideoError


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"hdrvideo: warning: {message}", file=sys.stderr)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hdrvideo",
        description="Temporally stable HDR video: probe, read and write HDR10/HLG/SDR.",
    )
    parser.add_argument("--version", action="version", version=f"hdrvideo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("probe", help="describe a video's signalling and HDR metadata")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print JSON (keys documented in the README)")
    p.add_argument("--fast", action="store_true", help="do not count frames when the header lacks a count")
    p.set_defaults(run=_cmd_probe)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hdrvideo`` console script; returns the exit code."""
    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except HDRVideoError as error:
        print(f"hdrvideo: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("hdrvideo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141


if __name__ == "__main__":
    sys.exit(main())
