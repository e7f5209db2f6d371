"""``hdrvideo engines list|export|build|bench`` through ``hdrvideo.cli.main``.

Until the lead wires :func:`hdrvideo.engines.cli.add_parser` into ``hdrvideo/cli.py`` these
tests drive the same handlers through a parser built here with the same error handling
(one line on stderr, the error's exit code); once ``"engines"`` is in
``hdrvideo.cli._SUBCOMMANDS`` they go through ``hdrvideo.cli.main`` itself.
"""

from __future__ import annotations

import argparse
import json

import pytest
import torch

import hdrvideo.cli
from hdrvideo.engines.cli import add_parser
from hdrvideo.engines.registry import register_model, unregister_model
from hdrvideo.errors import HDRVideoError

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tests.test_engines import TEST_MODEL, tiny_spec  # noqa: E402

WIRED = "engines" in getattr(hdrvideo.cli, "_SUBCOMMANDS", ())


def run_cli(argv: list[str]) -> int:
    if WIRED:
        return hdrvideo.cli.main(argv)
    parser = argparse.ArgumentParser(prog="hdrvideo")
    add_parser(parser.add_subparsers(dest="command"))
    try:
        args = parser.parse_args(argv)
        return args.run(args)
    except HDRVideoError as error:
        print(f"hdrvideo: error: {error}", file=__import__("sys").stderr)
        return error.exit_code


@pytest.fixture(autouse=True)
def _test_model(monkeypatch, tmp_path):
    monkeypatch.setenv("HDRVIDEO_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    register_model(tiny_spec())
    yield
    unregister_model(TEST_MODEL)
    torch.set_num_threads(threads)


def test_list_shows_models_and_backends(capsys):
    assert run_cli(["engines", "list"]) == 0
    out = capsys.readouterr().out
    assert TEST_MODEL in out and "params" in out and "hash " in out
    assert "cpu   torch        available" in out
    assert "tensorrt" in out and ("unavailable: " in out or "available" in out)


def test_list_json(capsys):
    assert run_cli(["engines", "list", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (model,) = [m for m in report["models"] if m["name"] == TEST_MODEL]
    assert model["parameters"] == sum(p.numel() for p in tiny_spec().build().parameters())
    assert len(model["hash"]) == 12 and model["inputs"] == {"x": [1, 3, 64, 96]}
    assert report["backends"]["cpu"]["torch"] == {"available": True, "reason": None}
    if not report["backends"]["cpu"]["tensorrt"]["available"]:
        assert report["backends"]["cpu"]["tensorrt"]["reason"]


def test_export_to_a_file_and_to_the_cache(tmp_path, capsys):
    import onnx

    target = tmp_path / "m.onnx"
    assert run_cli(["engines", "export", TEST_MODEL, "-o", str(target), "--opset", "18"]) == 0
    assert capsys.readouterr().out.strip() == str(target)
    onnx.checker.check_model(str(target))
    assert {o.domain: o.version for o in onnx.load(str(target)).opset_import}[""] == 18
    assert run_cli(["engines", "export", TEST_MODEL, "-o", str(target)]) == 6  # exists, no -y
    assert "already exists" in capsys.readouterr().err
    assert run_cli(["engines", "export", TEST_MODEL]) == 0
    cached = capsys.readouterr().out.strip()
    assert cached.startswith(str(tmp_path / "cache" / "onnx")) and cached.endswith("-opset17-torch" + torch.__version__.split("+")[0] + ".onnx")


def test_unknown_model_is_one_line_and_exit_3(capsys):
    assert run_cli(["engines", "export", "nope"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("hdrvideo: error: unknown model 'nope'") and err.count("\n") == 1


def test_build_onnxruntime_caches_the_export(tmp_path, capsys):
    assert run_cli(["engines", "build", TEST_MODEL, "--backend", "onnxruntime", "--cache", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{TEST_MODEL}: onnxruntime on cpu -> ")
    assert list((tmp_path / "c" / "onnx").glob(f"{TEST_MODEL}-*.onnx"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present: the build may succeed")
def test_build_tensorrt_without_it_explains(capsys):
    code = run_cli(["engines", "build", TEST_MODEL])
    err = capsys.readouterr().err
    assert code == 5 and "tensorrt" in err and ("pip install tensorrt" in err or "CUDA" in err)


def test_bench_prints_median(capsys):
    assert run_cli(["engines", "bench", TEST_MODEL, "--backend", "torch", "--runs", "3", "--batch", "2",
                    "--size", "32x48", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == "torch" and result["shapes"] == [[2, 3, 32, 48]] and result["runs"] == 3
    assert 0 < result["min_ms"] <= result["median_ms"] <= result["max_ms"]
    assert run_cli(["engines", "bench", TEST_MODEL, "--backend", "onnxruntime", "--runs", "2"]) == 0
    assert "median" in capsys.readouterr().out
    assert run_cli(["engines", "bench", TEST_MODEL, "--size", "big"]) == 3
