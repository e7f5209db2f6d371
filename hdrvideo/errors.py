"""Exceptions and warnings of hdrvideo.

Every error raised on purpose derives from :class:`HDRVideoError` and from the builtin that
matches its meaning, so callers can catch either (``except FileNotFoundError`` works for a
missing input). The CLI turns any :class:`HDRVideoError` into one line on stderr and a
non-zero exit code; the API raises them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class HDRVideoError(Exception):
    """Base class of every error hdrvideo raises on purpose."""

    exit_code: int = 1


class InputNotFoundError(HDRVideoError, FileNotFoundError):
    """The input path does not exist."""

    exit_code = 2


class InvalidInputError(HDRVideoError, ValueError):
    """The input exists but is not usable media: a directory, empty, not media, no video."""

    exit_code = 3


class DecodeError(HDRVideoError, RuntimeError):
    """The stream could not be decoded at all (corrupt beyond recovery)."""

    exit_code = 4


class MetadataError(HDRVideoError, ValueError):
    """HDR metadata is malformed or out of the range its standard allows."""

    exit_code = 3


class UnsupportedError(HDRVideoError, NotImplementedError):
    """A codec, format or option that this build cannot handle."""

    exit_code = 5


class OutputError(HDRVideoError, OSError):
    """The output cannot be written (exists without overwrite, bad directory, encoder failure)."""

    exit_code = 6


class HDRVideoWarning(UserWarning):
    """Something a user should know that does not stop the work (mis-signalled metadata...)."""


def run_script(main: Callable[[list[str] | None], int], argv: list[str] | None, prog: str) -> int:
    """Run a script's ``main(argv)``: a user mistake (:class:`HDRVideoError`) becomes one line
    ``PROG: error: ...`` on stderr and the error's exit code, never a traceback."""
    try:
        return main(argv)
    except HDRVideoError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return error.exit_code
