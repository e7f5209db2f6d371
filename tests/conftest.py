from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.media import SHARED_DATA, encode_clip


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "needs_ffprobe" in item.keywords and shutil.which("ffprobe") is None:
            item.add_marker(pytest.mark.skip(reason="ffprobe not installed"))


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_ffprobe: compares with the system ffprobe")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def hdr10_clip(tmp_path_factory) -> Path:
    """A 128x72, 6-frame HDR10 HEVC clip in MKV with mastering display and CLL."""
    return encode_clip(tmp_path_factory.mktemp("media") / "hdr10.mkv")


@pytest.fixture(scope="session")
def hdr10_raw_hevc(tmp_path_factory) -> Path:
    """The same content as a raw Annex B HEVC elementary stream, 24 frames."""
    return encode_clip(tmp_path_factory.mktemp("media") / "hdr10.hevc", frames=24)
