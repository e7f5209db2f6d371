"""hdrvideo.engines: registry, ONNX export, torch / ONNX Runtime / TensorRT engines, cache, auto.

A small test network (convolutions, pooling, bilinear resize, two outputs, dynamic batch and
H/W) is registered here so that no test is vacuous while ``list_models()`` holds no shipped
model; every shipped model is added to the parametrised tests as it lands.

Tolerance: ONNX Runtime against torch (both float32 on the CPU) within 1e-4 of the largest
reference magnitude (measured: about 1e-7 relative on the test network).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from hdrvideo.engines import (
    BACKENDS,
    ModelSpec,
    available_backends,
    backend_status,
    bench_engine,
    cached_onnx,
    check_onnx,
    export_onnx,
    get_model,
    list_models,
    load_engine,
    model_hash,
    register_model,
)
from hdrvideo.engines import onnx_export as onnx_export_module
from hdrvideo.engines.registry import unregister_model
from hdrvideo.engines.tensorrt_backend import derive_profiles, engine_cache_name, timing_cache_name
from hdrvideo.errors import HDRVideoError, InputNotFoundError, InvalidInputError, UnsupportedError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

TEST_MODEL = "enginetest"
RELATIVE_TOLERANCE = 1e-4


class TinyNet(torch.nn.Module):
    """(N, 3, H, W) -> image (N, 3, H, W) and score (N, 1): conv, strided conv, average
    pooling, bilinear resize back to (H, W), residual; a pooled linear head."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.c3 = torch.nn.Conv2d(8, 3, 3, padding=1)
        self.head = torch.nn.Linear(8, 1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = F.relu(self.c1(x))
        y = F.relu(self.c2(y))
        pooled = F.avg_pool2d(y, 2, ceil_mode=True)
        image = x + F.interpolate(self.c3(pooled), size=x.shape[-2:], mode="bilinear", align_corners=False)
        score = self.head(pooled.mean(dim=(2, 3)))
        return image, score


def tiny_spec(name: str = TEST_MODEL, seed: int = 0, **changes) -> ModelSpec:
    fields = dict(
        name=name,
        description="test network: convs + pooling + resize, dynamic batch and H/W",
        build=lambda: TinyNet(seed).eval(),
        example_inputs=lambda n: (torch.rand(n, 3, 64, 96, generator=torch.Generator().manual_seed(n)),),
        input_names=("x",),
        output_names=("image", "score"),
        dynamic_axes={"x": {0: "N", 2: "H", 3: "W"}, "image": {0: "N", 2: "H", 3: "W"}, "score": {0: "N"}},
        shape_profiles={},
    )
    fields.update(changes)
    return ModelSpec(**fields)


register_model(tiny_spec())
MODEL_NAMES = [spec.name for spec in list_models()]


@pytest.fixture(scope="module", autouse=True)
def _registered_test_model():
    register_model(tiny_spec())
    yield
    unregister_model(TEST_MODEL)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One intra-op thread: on the shared 2-core test machine (load ~6) two OpenMP threads
    made a 64x96 forward of the test net 50x slower (240 ms against 5 ms)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("engine-cache")


def shipped_or_skip(name: str) -> ModelSpec:
    """The spec, or a skip when a shipped model's weights file has not been built yet."""
    spec = get_model(name)
    if spec.weights_path is not None and not Path(spec.weights_path).is_file():
        pytest.skip(f"{name}: weights {spec.weights_path} not built yet")
    try:
        spec.build()
    except InputNotFoundError as error:
        pytest.skip(f"{name}: weights not built yet ({error})")
    return spec


def as_tuple(result) -> tuple[torch.Tensor, ...]:
    return result if isinstance(result, tuple) else (result,)


def assert_close_relative(actual, expected, tolerance: float = RELATIVE_TOLERANCE) -> None:
    for a, e in zip(as_tuple(actual), as_tuple(expected), strict=True):
        assert a.shape == e.shape and a.dtype == torch.float32
        scale = float(e.abs().max()) or 1.0
        error = float((a - e).abs().max())
        assert error <= tolerance * scale, f"max |diff| {error:.3g} > {tolerance:g} x {scale:.3g}"


# ----------------------------------------------------------------------------- registry


def test_registry_lists_and_finds_the_test_model():
    assert TEST_MODEL in [s.name for s in list_models()]
    assert get_model(TEST_MODEL).output_names == ("image", "score")


def test_unknown_model_names_the_known_ones():
    with pytest.raises(InvalidInputError, match=rf"unknown model 'nope'.*{TEST_MODEL}"):
        load_engine("nope")
    with pytest.raises(ValueError):  # InvalidInputError is a ValueError too
        get_model("nope")


def test_register_rejects_inconsistent_specs():
    with pytest.raises(InvalidInputError, match="dynamic_axes"):
        register_model(tiny_spec(name="bad1", dynamic_axes={"typo": {0: "N"}}))
    with pytest.raises(InvalidInputError, match="min <= opt <= max"):
        register_model(tiny_spec(name="bad2", shape_profiles={"x": ((4, 3, 8, 8), (1, 3, 8, 8), (8, 3, 8, 8))}))
    assert "bad1" not in [s.name for s in list_models()]


def test_model_hash_follows_the_weights(tmp_path):
    assert model_hash(tiny_spec()) == model_hash(tiny_spec())
    assert model_hash(tiny_spec()) != model_hash(tiny_spec(seed=1))
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"one")
    first = model_hash(tiny_spec(weights_path=weights))
    weights.write_bytes(b"two")
    assert model_hash(tiny_spec(weights_path=weights)) != first
    with pytest.raises(InvalidInputError, match="missing"):
        model_hash(tiny_spec(weights_path=tmp_path / "absent.safetensors"))


# ----------------------------------------------------------------------------- ONNX export


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_export_passes_the_onnx_checker(name, tmp_path):
    spec = shipped_or_skip(name)
    path = export_onnx(spec, tmp_path / f"{name}.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    assert [i.name for i in model.graph.input] == list(spec.input_names)
    assert [o.name for o in model.graph.output] == list(spec.output_names)
    assert {o.domain: o.version for o in model.opset_import}[""] == spec.opset
    for graph_input in model.graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        for axis, symbol in spec.dynamic_axes.get(graph_input.name, {}).items():
            assert dims[axis].dim_param == symbol, f"{graph_input.name} axis {axis} is not dynamic"
    assert not list(tmp_path.glob(".*tmp*")), "temporary export file left behind"


def test_export_refuses_to_overwrite_unless_asked(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"keep")
    with pytest.raises(HDRVideoError, match="already exists"):
        export_onnx(get_model(TEST_MODEL), path, overwrite=False)
    assert path.read_bytes() == b"keep"


def test_check_onnx_rejects_a_broken_file(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a protobuf at all")
    with pytest.raises(InvalidInputError, match="not a valid ONNX model"):
        check_onnx(path)


# ----------------------------------------------------------------------------- ONNX Runtime vs torch


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_onnxruntime_matches_torch_on_random_inputs(name, cache):
    spec = shipped_or_skip(name)
    reference = load_engine(name, "torch")
    engine = load_engine(name, "onnxruntime", cache_dir=cache)
    assert engine.backend == "onnxruntime" and engine.providers[0] == "CPUExecutionProvider"
    inputs = spec.example_inputs(2)
    assert_close_relative(engine(*inputs), reference(*inputs))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_onnxruntime_matches_torch_on_a_real_hdr_crop(name, cache, shared_data):
    from hdrvideo.color import eotf_inverse_ST2084
    from hdrvideo.io.images import read_image

    spec = shipped_or_skip(name)
    examples = spec.example_inputs(1)
    if len(examples) != 1 or examples[0].dim() != 4 or examples[0].shape[1] != 3:
        pytest.skip(f"{name} does not take one (N, 3, H, W) image")
    dynamic = set(spec.dynamic_axes.get(spec.input_names[0], {}))
    height, width = (128, 192) if {2, 3} <= dynamic else tuple(examples[0].shape[2:])
    frame = read_image(shared_data / "exr" / "ScanLines_Desk.exr")  # (3, 874, 644) cd/m²
    crop = frame.data[:, 300:300 + height, 200:200 + width]
    if name != TEST_MODEL:  # shipped networks take PQ code values; the test net takes cd/m²
        crop = eotf_inverse_ST2084(crop)
    crop = crop.unsqueeze(0).contiguous()
    assert float(crop.max()) > 0
    engine = load_engine(name, "onnxruntime", cache_dir=cache)
    assert_close_relative(engine(crop), load_engine(name, "torch")(crop))


@pytest.mark.parametrize("shape", [(1, 3, 32, 48), (3, 3, 72, 40), (2, 3, 17, 23)])
def test_dynamic_batch_and_resolution(shape, cache):
    engine = load_engine(TEST_MODEL, "onnxruntime", cache_dir=cache)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(sum(shape)))
    image, score = engine(x)
    assert image.shape == shape and score.shape == (shape[0], 1)
    assert_close_relative((image, score), load_engine(TEST_MODEL, "torch")(x))


def test_engine_call_contract(cache):
    engine = load_engine(TEST_MODEL, "onnxruntime", cache_dir=cache)
    x64 = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    image, score = engine(x64)
    assert image.dtype == torch.float32 and image.device == x64.device
    with pytest.raises(InvalidInputError, match="takes 1 input"):
        engine(x64, x64)
    with pytest.raises(InvalidInputError, match="floating point"):
        engine(torch.ones(1, 3, 16, 16, dtype=torch.int32))
    with pytest.raises(InvalidInputError, match="torch.Tensor"):
        engine(x64.numpy())
    assert "onnxruntime" in repr(engine)


# ----------------------------------------------------------------------------- cache


def test_second_load_reuses_the_cached_export(tmp_path, monkeypatch):
    calls = []
    real_export = onnx_export_module.export_onnx
    monkeypatch.setattr(onnx_export_module, "export_onnx", lambda *a, **k: calls.append(1) or real_export(*a, **k))
    load_engine(TEST_MODEL, "onnxruntime", cache_dir=tmp_path)
    (path,) = (tmp_path / "onnx").glob("*.onnx")
    mtime = path.stat().st_mtime_ns
    assert calls == [1]
    load_engine(TEST_MODEL, "onnxruntime", cache_dir=tmp_path)
    assert calls == [1], "the second load exported again"
    assert path.stat().st_mtime_ns == mtime
    assert path.name.startswith(f"{TEST_MODEL}-{model_hash(get_model(TEST_MODEL))[:12]}-opset17-torch")
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == [path.name], "temporary files left in the cache"


def test_new_weights_get_a_new_cache_entry(tmp_path):
    first = cached_onnx(tiny_spec(), tmp_path)
    second = cached_onnx(tiny_spec(seed=3), tmp_path)
    assert first != second and first.is_file() and second.is_file()


def test_cache_dir_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HDRVIDEO_CACHE", str(tmp_path / "envcache"))
    load_engine(TEST_MODEL, "onnxruntime")
    assert list((tmp_path / "envcache" / "onnx").glob(f"{TEST_MODEL}-*.onnx"))


def test_cache_dir_that_is_a_file_is_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HDRVideoError, match="not a directory"):
        load_engine(TEST_MODEL, "onnxruntime", cache_dir=blocker)


# ----------------------------------------------------------------------------- backends and auto


def test_unknown_backend_and_device():
    with pytest.raises(InvalidInputError, match="expected auto or one of torch, onnxruntime, tensorrt"):
        load_engine(TEST_MODEL, "openvino")
    with pytest.raises(InvalidInputError, match="device 'gpu0'"):
        load_engine(TEST_MODEL, "torch", "gpu0")
    with pytest.raises(InvalidInputError, match="fp16 needs a CUDA device"):
        load_engine(TEST_MODEL, "torch", "cpu", fp16=True)
    with pytest.raises(InvalidInputError, match="compile=True"):
        load_engine(TEST_MODEL, "onnxruntime", compile=True)


@pytest.mark.skipif(backend_status("cuda")["tensorrt"] is None, reason="TensorRT and CUDA are present")
def test_tensorrt_absent_gives_a_clear_error():
    with pytest.raises(UnsupportedError, match=r"tensorrt.*(pip install tensorrt|CUDA)") as info:
        load_engine(TEST_MODEL, "tensorrt", "cuda")
    assert isinstance(info.value, HDRVideoError)
    if backend_status("cpu")["tensorrt"].startswith("not installed"):
        with pytest.raises(UnsupportedError, match=r"pip install tensorrt pycuda \(the hdrvideo\[tensorrt\] extra\)"):
            load_engine(TEST_MODEL, "tensorrt")
    assert "tensorrt" not in available_backends("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cuda_absent_gives_a_clear_error():
    with pytest.raises(UnsupportedError, match="CUDA is not available"):
        load_engine(TEST_MODEL, "torch", "cuda")


def test_onnxruntime_absent_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert backend_status("cpu")["onnxruntime"].startswith("not installed: pip install onnx onnxruntime")
    assert available_backends("cpu") == ["torch"]
    with pytest.raises(UnsupportedError, match=r"pip install onnx onnxruntime \(the hdrvideo\[onnx\] extra"):
        load_engine(TEST_MODEL, "onnxruntime", cache_dir=tmp_path)
    engine = load_engine(TEST_MODEL, "auto", cache_dir=tmp_path)
    assert engine.backend == "torch"


def test_auto_measures_once_and_caches_its_choice(tmp_path, monkeypatch):
    engine = load_engine(TEST_MODEL, "auto", cache_dir=tmp_path)
    assert engine.backend in available_backends("cpu")
    (decision_file,) = (tmp_path / "auto").glob(f"{TEST_MODEL}-*.json")
    decision = json.loads(decision_file.read_text())
    assert decision["backend"] == engine.backend
    assert set(decision["median_ms"]) == {"torch", "onnxruntime"}
    assert all(v > 0 for v in decision["median_ms"].values())
    assert decision["median_ms"][engine.backend] == min(decision["median_ms"].values())

    from hdrvideo.engines import auto

    monkeypatch.setattr(auto, "bench_engine", lambda *a, **k: pytest.fail("measured again"))
    again = load_engine(TEST_MODEL, "auto", cache_dir=tmp_path)
    assert again.backend == engine.backend


def test_auto_decision_from_other_versions_is_ignored(tmp_path):
    engine = load_engine(TEST_MODEL, "auto", cache_dir=tmp_path)
    (decision_file,) = (tmp_path / "auto").glob("*.json")
    stale = json.loads(decision_file.read_text())
    stale["versions"]["torch"] = "0.0"
    stale["backend"] = "torch" if engine.backend == "onnxruntime" else "onnxruntime"
    decision_file.write_text(json.dumps(stale))
    load_engine(TEST_MODEL, "auto", cache_dir=tmp_path)
    assert json.loads(decision_file.read_text())["versions"]["torch"] == torch.__version__


def test_available_backends_are_known_and_ordered():
    cpu = available_backends("cpu")
    assert cpu and set(cpu) <= set(BACKENDS) and cpu[-1] == "torch"
    assert all(reason is None or reason for reason in backend_status("cuda").values())


def test_torch_engine_matches_the_module():
    engine = load_engine(TEST_MODEL, "torch")
    x = torch.rand(2, 3, 24, 40)
    expected = TinyNet().eval()(x)
    assert_close_relative(engine(x), tuple(t.detach() for t in expected), tolerance=0)


def test_bench_engine_reports_positive_latency():
    result = bench_engine(load_engine(TEST_MODEL, "torch"), batch_size=2, runs=3, warmup=1)
    assert result.batch_size == 2 and result.runs == 3 and result.shapes == ((2, 3, 64, 96),)
    assert 0 < result.min_ms <= result.median_ms <= result.max_ms
    with pytest.raises(InvalidInputError):
        bench_engine(load_engine(TEST_MODEL, "torch"), runs=0)


# ----------------------------------------------------------------------------- TensorRT without TensorRT


def test_derived_profiles_cover_batch_and_resolution():
    profiles = derive_profiles(get_model(TEST_MODEL))
    assert profiles == {"x": ((1, 3, 8, 12), (1, 3, 64, 96), (8, 3, 256, 384))}


def test_given_profiles_win_and_are_checked():
    given = {"x": ((1, 3, 32, 32), (4, 3, 256, 256), (16, 3, 1080, 1920))}
    assert derive_profiles(tiny_spec(name="p1", shape_profiles=given)) == given
    static = tiny_spec(name="p2", dynamic_axes={"x": {0: "N"}},
                       shape_profiles={"x": ((1, 3, 32, 32), (1, 3, 64, 96), (4, 3, 64, 96))})
    with pytest.raises(InvalidInputError, match="axis 2, which is static"):
        derive_profiles(static)
    assert derive_profiles(tiny_spec(name="p3", dynamic_axes={})) == {}


def test_engine_cache_name_keys_gpu_capability_version_precision():
    spec = get_model(TEST_MODEL)
    base = engine_cache_name(spec, "NVIDIA H100 80GB HBM3", (9, 0), "10.7.0", fp16=True)
    assert base == f"{TEST_MODEL}-{model_hash(spec)[:12]}-nvidia-h100-80gb-hbm3-sm90-trt10.7.0-fp16.engine"
    others = {
        engine_cache_name(spec, "NVIDIA A100-SXM4-40GB", (8, 0), "10.7.0", fp16=True),
        engine_cache_name(spec, "NVIDIA H100 80GB HBM3", (9, 0), "10.8.0", fp16=True),
        engine_cache_name(spec, "NVIDIA H100 80GB HBM3", (9, 0), "10.7.0", fp16=False),
        engine_cache_name(tiny_spec(seed=5), "NVIDIA H100 80GB HBM3", (9, 0), "10.7.0", fp16=True),
    }
    assert base not in others and len(others) == 4
    assert timing_cache_name("NVIDIA H100 80GB HBM3", (9, 0), "10.7.0") == "timing-nvidia-h100-80gb-hbm3-sm90-trt10.7.0.cache"


def test_the_onnx_tensorrt_consumes_matches_its_profiles(cache):
    spec = get_model(TEST_MODEL)
    model = onnx.load(str(cached_onnx(spec, cache)))
    profiles = derive_profiles(spec)
    for graph_input in model.graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        low, opt, high = profiles[graph_input.name]
        assert len(dims) == len(opt)
        for axis, dim in enumerate(dims):
            if dim.dim_param:  # dynamic: the profile must span a range
                assert low[axis] <= opt[axis] <= high[axis]
            else:  # static: the profile must pin it to the graph's size
                assert low[axis] == opt[axis] == high[axis] == dim.dim_value


class FakeTensorRT:
    """Records what the build code asks of the TensorRT 10/11 Python API (names as in
    NVIDIA's API reference); checks our orchestration, not TensorRT itself."""

    def __init__(self, version: str, has_fp16_flag: bool) -> None:
        self.__version__ = version
        self.calls: dict[str, list] = {"flags": [], "parsed": [], "profiles": [], "config_flags": [], "builds": 0,
                                       "timing_in": []}
        fake = self

        class Logger:
            WARNING = 2

            def __init__(self, severity):
                pass

        class Profile:
            def set_shape(self, name, low, opt, high):
                fake.calls["profiles"].append((name, tuple(low), tuple(opt), tuple(high)))

        class TimingCache:
            def serialize(self):
                return b"timing-cache"

        class Config:
            def set_memory_pool_limit(self, pool, size):
                assert pool == "workspace" and size > 0

            def set_flag(self, flag):
                fake.calls["config_flags"].append(flag)

            def add_optimization_profile(self, profile):
                assert isinstance(profile, Profile)

            def create_timing_cache(self, data):
                fake.calls["timing_in"].append(bytes(data))
                return TimingCache()

            def set_timing_cache(self, cache, ignore_mismatch):
                assert isinstance(cache, TimingCache)

            def get_timing_cache(self):
                return TimingCache()

        class Builder:
            def __init__(self, logger):
                pass

            def create_network(self, flags):
                fake.calls["flags"].append(flags)
                return object()

            def create_builder_config(self):
                return Config()

            def create_optimization_profile(self):
                return Profile()

            def build_serialized_network(self, network, config):
                fake.calls["builds"] += 1
                return b"serialized-engine"

        class OnnxParser:
            num_errors = 0

            def __init__(self, network, logger):
                pass

            def parse_from_file(self, path):
                fake.calls["parsed"].append(path)
                onnx.checker.check_model(path)
                return True

        self.Logger, self.Builder, self.OnnxParser = Logger, Builder, OnnxParser
        self.MemoryPoolType = type("MemoryPoolType", (), {"WORKSPACE": "workspace"})
        self.BuilderFlag = type("BuilderFlag", (), {"FP16": "fp16"} if has_fp16_flag else {})
        self.NetworkDefinitionCreationFlag = type("NetworkDefinitionCreationFlag", (), {"STRONGLY_TYPED": 1})


@pytest.mark.parametrize("version, has_fp16_flag", [("10.7.0", True), ("11.4.0", False)])
def test_tensorrt_build_orchestration_with_a_recording_fake(version, has_fp16_flag, tmp_path, monkeypatch):
    import contextlib

    from hdrvideo.engines import tensorrt_backend as trt_backend

    fake = FakeTensorRT(version, has_fp16_flag)
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    monkeypatch.setattr(trt_backend, "gpu_identity", lambda device: ("NVIDIA H100 80GB HBM3", (9, 0)))
    monkeypatch.setattr(trt_backend, "cuda_context", lambda device: contextlib.nullcontext())
    spec = get_model(TEST_MODEL)
    path = trt_backend.cached_engine_path(spec, torch.device("cuda", 0), fp16=True, cache_dir=tmp_path)
    assert path == tmp_path / "tensorrt" / engine_cache_name(spec, "NVIDIA H100 80GB HBM3", (9, 0), version, fp16=True)
    assert path.read_bytes() == b"serialized-engine"
    (parsed,) = fake.calls["parsed"]
    if has_fp16_flag:  # TensorRT 10: float32 graph + BuilderFlag.FP16 (weak typing)
        assert fake.calls["config_flags"] == ["fp16"] and fake.calls["flags"] == [0]
        assert not parsed.endswith("-fp16.onnx")
    else:  # TensorRT 11: float16 graph, strongly typed network
        assert fake.calls["config_flags"] == [] and fake.calls["flags"] == [1 << 1]
        assert parsed.endswith("-fp16.onnx")
        initializers = {i.data_type for i in onnx.load(parsed).graph.initializer}
        assert onnx.TensorProto.FLOAT16 in initializers
    ((name, low, opt, high),) = fake.calls["profiles"]
    assert (name, (low, opt, high)) == ("x", derive_profiles(spec)["x"])
    timing = tmp_path / "tensorrt" / timing_cache_name("NVIDIA H100 80GB HBM3", (9, 0), version)
    assert timing.read_bytes() == b"timing-cache" and fake.calls["timing_in"] == [b""]
    again = trt_backend.cached_engine_path(spec, torch.device("cuda", 0), fp16=True, cache_dir=tmp_path)
    assert again == path and fake.calls["builds"] == 1, "the cached engine was rebuilt"


def test_float16_export_runs_close_to_float32(cache):
    import onnxruntime

    spec = get_model(TEST_MODEL)
    path = cached_onnx(spec, cache, fp16=True)
    model = onnx.load(str(path))
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in model.graph.input)
    assert all(o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for o in model.graph.output)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = spec.example_inputs(2)[0]
    result = tuple(torch.from_numpy(a) for a in session.run(None, {"x": x.numpy()}))
    assert_close_relative(result, load_engine(TEST_MODEL, "torch")(x), tolerance=2e-3)


# ----------------------------------------------------------------------------- GPU (skipped without CUDA)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_torch_cuda_fp16_close_to_cpu(name):
    spec = shipped_or_skip(name)
    inputs = spec.example_inputs(2)
    expected = load_engine(name, "torch")(*inputs)
    engine = load_engine(name, "torch", "cuda", fp16=True)
    result = engine(*(t.cuda() for t in inputs))
    assert all(t.device.type == "cuda" for t in as_tuple(result))
    assert_close_relative(tuple(t.cpu() for t in as_tuple(result)), expected, tolerance=1e-2)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.skipif(backend_status("cuda")["onnxruntime"] is not None, reason="no onnxruntime CUDA provider")
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_onnxruntime_cuda_io_binding_matches_torch(name, cache):
    spec = shipped_or_skip(name)
    inputs = spec.example_inputs(2)
    engine = load_engine(name, "onnxruntime", "cuda", cache_dir=cache)
    result = engine(*(t.cuda() for t in inputs))
    assert all(t.device.type == "cuda" for t in as_tuple(result))
    assert_close_relative(tuple(t.cpu() for t in as_tuple(result)), load_engine(name, "torch")(*inputs), tolerance=1e-3)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.skipif(backend_status("cuda")["tensorrt"] is not None, reason="TensorRT not installed")
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_tensorrt_fp16_matches_torch_and_is_cached(name, tmp_path):
    spec = shipped_or_skip(name)
    inputs = spec.example_inputs(2)
    engine = load_engine(name, "tensorrt", "cuda", cache_dir=tmp_path)
    assert engine.fp16 and engine.engine_path.is_file()
    mtime = engine.engine_path.stat().st_mtime_ns
    result = engine(*(t.cuda() for t in inputs))
    assert_close_relative(tuple(t.cpu() for t in as_tuple(result)), load_engine(name, "torch")(*inputs), tolerance=1e-2)
    assert list((tmp_path / "tensorrt").glob("timing-*.cache"))
    again = load_engine(name, "tensorrt", "cuda", cache_dir=tmp_path)
    assert again.engine_path == engine.engine_path and again.engine_path.stat().st_mtime_ns == mtime
    assert load_engine(name, "auto", "cuda", cache_dir=tmp_path).backend == "tensorrt"


def test_onnxruntime_threads_follow_the_request(cache):
    engine = load_engine(TEST_MODEL, "onnxruntime", cache_dir=cache, threads=1)
    assert engine.threads == 1
    assert engine.session.get_session_options().intra_op_num_threads == 1
    default = load_engine(TEST_MODEL, "onnxruntime", cache_dir=cache)
    assert default.threads == torch.get_num_threads()
    with pytest.raises(InvalidInputError, match="threads 0"):
        load_engine(TEST_MODEL, "onnxruntime", cache_dir=cache, threads=0)


@pytest.mark.slow
def test_torch_compile_matches_eager():
    engine = load_engine(TEST_MODEL, "torch", compile=True)
    assert engine.compiled
    x = torch.rand(2, 3, 64, 96)
    assert_close_relative(engine(x), load_engine(TEST_MODEL, "torch")(x), tolerance=1e-5)
