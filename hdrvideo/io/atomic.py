"""Atomic output files: write to a temporary name beside the target, rename on success.

A crash, an exception or Ctrl-C never leaves a half-written file under the user's name.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from hdrvideo.errors import OutputError


def check_output_path(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Validate an output path: its folder exists, it is not a folder, and it may be replaced.

    Raises:
        OutputError: with a one-line reason.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{target}: is a directory")
    if not target.parent.exists():
        raise OutputError(f"{target}: folder {target.parent} does not exist")
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists (use -y / overwrite=True to replace it)")
    return target


def temporary_path_for(target: Path) -> Path:
    """A hidden name beside ``target`` with the same extension (muxers pick the format by it)."""
    return target.with_name(f".{target.stem}.tmp.{os.getpid()}{target.suffix}")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` only if the block succeeds.

    On any exception (KeyboardInterrupt included) the temporary file is removed and the
    exception propagates; an existing file at ``path`` is left untouched.
    """
    target = check_output_path(path, overwrite=overwrite)
    temporary = temporary_path_for(target)
    try:
        yield temporary
        if not temporary.exists():
            raise OutputError(f"{target}: nothing was written")
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` (creating its folder) through a temporary name and a rename;
    replaces ``path``. Raises :class:`OutputError` when it cannot be written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path, overwrite=True) as temporary:
            temporary.write_bytes(data)
    except OSError as error:
        if isinstance(error, OutputError):
            raise
        raise OutputError(f"{path}: cannot write ({error.strerror or error})") from None
    return path


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`write_bytes_atomic` of UTF-8 text (JSON records, run summaries)."""
    return write_bytes_atomic(path, text.encode("utf-8"))
