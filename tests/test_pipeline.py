"""The streaming engine: order, completeness, bounded memory, errors, Ctrl-C, signalling, progress."""

from __future__ import annotations

import _thread
import io
import os
import threading
import time

import pytest
import torch

from hdrvideo.errors import InvalidInputError, OutputError
from hdrvideo.frame import Frame
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.io.metadata import MasteringDisplay
from hdrvideo.ops.base import Operator, Option, OutputTarget, register
from hdrvideo.pipeline import Pipeline, PipelineReport, output_spec, resolve_target
from hdrvideo.progress import Progress, format_seconds


@register
class AddOne(Operator):
    name = "t_pipe_add"
    description = "adds a constant (test)"
    options = (Option("value", float, 1.0, "what to add, cd/m²"),)

    def process(self, x, frame=None):
        return x + self.value


class Target(Operator):
    """Not registered: states an output target."""

    name = "t_pipe_target"
    options = (Option("kind", str, "sdr", "target kind"), Option("peak_nits", float, 100.0, "peak"))

    def process(self, x, frame=None):
        return x

    def output_target(self):
        return OutputTarget(self.kind, self.peak_nits, self.peak_nits if self.kind == "sdr" else 203.0)


def frames(n: int, size: int = 4):
    for i in range(n):
        yield Frame(data=torch.full((3, size, size), float(i)), index=i, pts_seconds=i / 24)


class ListSink:
    def __init__(self, delay: float = 0.0, fail_at: int | None = None):
        self.frames: list[Frame] = []
        self.delay = delay
        self.fail_at = fail_at
        self.closed = self.aborted = False

    def write(self, frame):
        if self.fail_at is not None and len(self.frames) == self.fail_at:
            raise OutputError("disk full (test)")
        time.sleep(self.delay)
        self.frames.append(frame)

    def close(self):
        self.closed = True
        return {"frames": len(self.frames)}

    def abort(self):
        self.aborted = True


def _workers_alive() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("hdrvideo-") and t.is_alive()]


def _wait_workers_gone(timeout: float = 3.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while _workers_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    return _workers_alive()


# -- order and completeness ------------------------------------------------------------------


def test_iteration_keeps_order_and_every_frame():
    out = list(Pipeline(frames(50), "t_pipe_add=value=10", queue_size=3))
    assert [f.index for f in out] == list(range(50))
    assert [float(f.data[0, 0, 0]) for f in out] == [i + 10.0 for i in range(50)]
    assert not _wait_workers_gone()


def test_run_with_sink_writes_everything_in_order_and_reports():
    sink = ListSink()
    report = Pipeline(frames(20), [AddOne(value=2), AddOne(value=3)], sink, queue_size=2).run()
    assert isinstance(report, PipelineReport)
    assert report.frames == 20 and sink.closed and not sink.aborted
    assert report.output == {"frames": 20}
    assert [float(f.data.max()) for f in sink.frames] == [i + 5.0 for i in range(20)]
    assert report.fps > 0 and report.seconds > 0


def test_run_without_sink_consumes_and_counts():
    report = Pipeline(frames(7), "").run()
    assert report.frames == 7 and report.output is None


def test_pipeline_from_a_path_decodes_the_clip(hdr10_clip):
    out = list(Pipeline(str(hdr10_clip), None))
    assert len(out) == 6
    times = [f.pts_seconds for f in out]
    assert times == sorted(times) and out[0].data.shape == (3, 72, 128)


def test_max_frames_stops_early():
    assert len(list(Pipeline(frames(30), None, max_frames=4))) == 4


def test_corrupt_frames_are_counted_from_side_data():
    def source():
        for f in frames(5):
            if f.index in (1, 3):
                f.side_data["corrupt"] = True
            yield f

    report = Pipeline(source(), None).run()
    assert report.corrupt_frames == 2


# -- bounded memory ---------------------------------------------------------------------------


@pytest.mark.parametrize("queue_size", [1, 3])
def test_slow_sink_bounds_how_far_the_source_runs_ahead(queue_size):
    produced = 0
    lead: list[int] = []

    def source():
        nonlocal produced
        for f in frames(25):
            produced += 1
            yield f

    class Slow(ListSink):
        def write(self, frame):
            lead.append(produced - frame.index)
            super().write(frame)

    Pipeline(source(), None, Slow(delay=0.005), queue_size=queue_size).run()
    assert len(lead) == 25
    # while frame k is being written, the source has produced at most k + queue_size frames
    assert max(lead) <= queue_size
    assert max(lead) >= 1


def test_slow_consumer_bounds_iteration():
    produced = 0

    def source():
        nonlocal produced
        for f in frames(15):
            produced += 1
            yield f

    leads = []
    for frame in Pipeline(source(), None, queue_size=2):
        time.sleep(0.005)
        leads.append(produced - frame.index)
    assert max(leads) <= 3  # queue_size in flight + the frame the caller holds


def test_leaving_the_loop_early_stops_the_threads():
    pipe = Pipeline(frames(1000), None, queue_size=2)
    for frame in pipe:
        if frame.index == 3:
            break
    pipe.close()
    assert not _wait_workers_gone()


# -- errors --------------------------------------------------------------------------------


class Boom(Operator):
    name = "t_pipe_boom"

    def __init__(self, at: int = 2, error: BaseException | None = None):
        super().__init__()
        self.at = at
        self.error = error or RuntimeError("operator exploded (test)")

    def process(self, x, frame=None):
        if frame is not None and frame.index == self.at:
            raise self.error
        return x


def test_operator_exception_propagates_and_aborts_the_sink():
    sink = ListSink()
    with pytest.raises(RuntimeError, match="exploded"):
        Pipeline(frames(20), [Boom(at=5)], sink, queue_size=2).run()
    assert sink.aborted and not sink.closed
    assert not _wait_workers_gone()


def test_source_exception_propagates_when_iterating():
    def source():
        yield from frames(3)
        raise InvalidInputError("bad packet (test)")

    seen = []
    with pytest.raises(InvalidInputError, match="bad packet"):
        for frame in Pipeline(source(), None):
            seen.append(frame.index)
    assert seen == [0, 1, 2]


def test_sink_exception_propagates_and_aborts():
    sink = ListSink(fail_at=4)
    with pytest.raises(OutputError, match="disk full"):
        Pipeline(frames(20), None, sink).run()
    assert sink.aborted


def test_source_of_the_wrong_type_is_refused():
    with pytest.raises(InvalidInputError, match="expected hdrvideo.Frame"):
        list(Pipeline([torch.zeros(3, 2, 2)], None))
    with pytest.raises(InvalidInputError, match="not iterable"):
        Pipeline(42, None)
    with pytest.raises(InvalidInputError, match="queue_size"):
        Pipeline(frames(1), None, queue_size=0)


def test_a_pipeline_runs_once():
    pipe = Pipeline(frames(2), None)
    pipe.run()
    with pytest.raises(InvalidInputError, match="runs once"):
        pipe.run()


def test_operator_failure_with_a_real_writer_leaves_no_file(tmp_path, hdr10_clip):
    from hdrvideo.io.video_reader import VideoReader
    from hdrvideo.io.video_writer import VideoWriter

    target = tmp_path / "out.mkv"
    with VideoReader(hdr10_clip) as reader:
        writer = VideoWriter(target, spec=reader.info.spec, codec="ffv1", rate=24)
        with pytest.raises(RuntimeError):
            Pipeline(reader, [Boom(at=3)], writer).run()
    assert list(tmp_path.iterdir()) == []


def test_keyboard_interrupt_stops_threads_and_leaves_no_output(tmp_path, hdr10_clip):
    """Ctrl-C, simulated: the main thread receives KeyboardInterrupt while workers run."""
    from hdrvideo.io.video_reader import VideoReader
    from hdrvideo.io.video_writer import VideoWriter

    class CtrlC(Operator):
        name = "t_pipe_ctrlc"

        def process(self, x, frame=None):
            if frame is not None and frame.index == 2:
                _thread.interrupt_main()  # as if SIGINT arrived
                time.sleep(0.3)
            return x

    target = tmp_path / "out.mkv"
    with VideoReader(hdr10_clip) as reader:
        writer = VideoWriter(target, spec=reader.info.spec, codec="ffv1", rate=24)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            Pipeline(reader, [CtrlC()], writer, queue_size=2).run()
        assert time.monotonic() - started < 5
    assert list(tmp_path.iterdir()) == []
    assert not _wait_workers_gone()


# -- output signalling -----------------------------------------------------------------------


def test_last_operator_with_a_target_decides():
    chain = [Target(kind="hdr10", peak_nits=1000), AddOne(), Target(kind="sdr", peak_nits=100), AddOne()]
    target = resolve_target(chain)
    assert (target.kind, target.peak_nits) == ("sdr", 100)
    assert resolve_target([AddOne()]) is None


def test_to_overrides_the_chain():
    chain = [Target(kind="sdr", peak_nits=100)]
    assert resolve_target(chain, "sdr").peak_nits == 100  # same kind: keeps the operator's peak
    hlg = resolve_target(chain, "hlg")
    assert (hlg.kind, hlg.peak_nits) == ("hlg", 1000.0)
    assert resolve_target([], "sdr").peak_nits == 203.0
    with pytest.raises(InvalidInputError, match="sdr, hdr10, hlg"):
        resolve_target([], "dolby")


def test_output_spec_for_each_target():
    sdr, md = output_spec(OutputTarget("sdr", 100.0, 100.0), ColorSpec())
    assert (sdr.primaries, sdr.transfer, sdr.matrix, sdr.range, sdr.bit_depth) == ("bt709", "bt1886", "bt709", "limited", 8)
    assert sdr.peak_nits == sdr.white_nits == 100.0 and md is None
    hdr, md = output_spec(OutputTarget("hdr10", 600.0), ColorSpec())
    assert (hdr.primaries, hdr.transfer, hdr.matrix, hdr.bit_depth) == ("bt2020", "pq", "bt2020nc", 10)
    assert md.max_luminance_nits == 600.0
    source_md = MasteringDisplay.from_primaries("p3d65", max_luminance_nits=4000)
    _, md = output_spec(OutputTarget("hdr10", 1000.0), ColorSpec(), input_mastering_display=source_md)
    assert md.max_luminance_nits == 1000.0 and md.red == source_md.red
    hlg, md = output_spec(OutputTarget("hlg", 1000.0), ColorSpec())
    assert (hlg.transfer, hlg.bit_depth, hlg.peak_nits) == ("hlg", 10, 1000.0) and md is None


def test_output_spec_without_target_keeps_the_input():
    source = ColorSpec("bt2020", "hlg", "bt2020nc", "limited", 10, 1000.0, 203.0)
    assert output_spec(None, source)[0] == source
    linear = ColorSpec("bt709", "linear", "rgb", "full", 16, 203.0, 203.0)
    assert output_spec(None, linear)[0].transfer == "pq"  # scene-linear stills go to HDR10
    png_sdr = output_spec(OutputTarget("sdr", 100.0, 100.0), source, rgb=True)[0]
    assert (png_sdr.transfer, png_sdr.matrix, png_sdr.range, png_sdr.bit_depth) == ("srgb", "rgb", "full", 8)
    png_hdr = output_spec(None, ColorSpec(), rgb=True)[0]
    assert (png_hdr.transfer, png_hdr.matrix, png_hdr.bit_depth) == ("pq", "rgb", 16)


# -- progress ------------------------------------------------------------------------------


def test_progress_is_rate_limited_and_shows_eta():
    out = io.StringIO()
    bar = Progress(100, file=out, force=True, min_interval_seconds=0.25)
    for n in range(1, 51):
        bar.update(n)
    assert bar.redraws == 1  # the first update draws; the rest fall within 0.25 s
    text = bar.line()
    assert "frame=   50/100" in text and "eta=" in text and " 50%" in text
    bar.close()
    assert out.getvalue().endswith("\n") and "\r" in out.getvalue()


def test_progress_is_off_when_not_a_terminal_unless_forced():
    out = io.StringIO()
    bar = Progress(10, file=out)
    bar.update(5, final=True)
    bar.close()
    assert out.getvalue() == ""
    unknown = Progress(None, file=io.StringIO(), force=True)
    assert "eta" not in unknown.line() and "%" not in unknown.line()
    assert format_seconds(3725) == "1:02:05"


def test_pipeline_drives_a_forced_progress_bar():
    out = io.StringIO()
    bar = Progress(file=out, force=True, min_interval_seconds=0.0)
    Pipeline(frames(5), None, ListSink(), progress=bar).run()
    assert "frame=    5" in out.getvalue()


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_memory_stays_flat_over_a_long_stream(tmp_path):
    """Frames must be freed as they pass (PyAV's side-data reference cycle once kept them)."""
    from tests.media import encode_clip

    clip = encode_clip(tmp_path / "long.mkv", frames=300, width=640, height=360,
                       options={"x265-params": "preset=ultrafast:log-level=error"})
    from hdrvideo.io.video_reader import VideoReader

    samples = []
    with VideoReader(clip) as reader:
        for index, frame in enumerate(reader):
            if index in (50, 299):
                samples.append(_rss_mb())
    # 250 frames of 640x360 float32 working space are ~700 MB if kept; flat means a few MB.
    assert samples[1] - samples[0] < 60
