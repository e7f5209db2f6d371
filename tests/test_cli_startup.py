"""Start-up of the ``hdrvideo`` command: what it imports before it needs it, and the OpenMP
wait policy it sets before torch loads the OpenMP runtime."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import hdrvideo


def _python(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    environment.update(env)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_command_does_not_import_torch():
    assert _python("import sys, hdrvideo.cli; print('torch' in sys.modules)") == "False"


def test_version_answers_without_torch():
    code = "import sys; from hdrvideo.cli import main; main(['--version']); print('torch' in sys.modules)"
    assert _python(code).splitlines() == [f"hdrvideo {hdrvideo.__version__}", "False"]


def test_public_names_load_on_first_use():
    code = (
        "import sys, hdrvideo; before = 'torch' in sys.modules; "
        "from hdrvideo import Pipeline, transcode, open, Frame, HDRVideoError, PipelineReport; "
        "print(before, Pipeline.__module__, transcode.__module__, 'torch' in sys.modules)"
    )
    assert _python(code) == "False hdrvideo.pipeline hdrvideo.api True"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        hdrvideo.no_such_name  # noqa: B018
    assert set(hdrvideo.__all__) <= set(dir(hdrvideo))


@pytest.mark.parametrize("preset, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_command_sets_passive_openmp_waits_unless_the_user_chose(preset, expected):
    # The subcommand fails on the missing file; the policy is set before that, before torch loads.
    code = (
        "import os, sys; from hdrvideo.cli import main; "
        "main(['probe', '/nonexistent/clip.mkv']); print(os.environ.get('OMP_WAIT_POLICY'))"
    )
    env = {} if preset is None else {"OMP_WAIT_POLICY": preset}
    assert _python(code, **env).splitlines()[-1] == expected


def test_quality_package_imports_on_its_own():
    # hdrvideo.ops registers quality.scoring; importing quality first must not trip on the cycle.
    assert _python("import hdrvideo.quality, hdrvideo.ops; print('ok')") == "ok"
