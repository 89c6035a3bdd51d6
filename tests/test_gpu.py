"""The runtime on a CUDA GPU: per-node streams, hand-over through events, device sources.

Every test here needs CuPy and a GPU (``requires_cuda``: skipped elsewhere). CuPy is only
imported inside the tests and the nodes, so this module also loads on machines without it.
"""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import helpers_nodes as h
import numpy as np
import pytest

from dsflow import Batch, Frame, Node, NodeContext, Sink, Source, hookimpl, load_graph_text, param, run_graph

# Spins for ``cycles`` SM clock cycles, then writes base + i: until it is done the array holds
# whatever the memory held before (a previous batch's values, or anything).
SLOW_FILL = r"""
extern "C" __global__ void slow_fill(int* out, int n, int base, long long cycles) {
    long long start = clock64();
    while (clock64() - start < cycles) { }
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = base + i;
}
"""
N = 1 << 16
THREADS = 256


def expected_values(k: int) -> np.ndarray:
    return (base_of(k) + np.arange(N)).astype(np.int32)


def base_of(k: int) -> int:
    return 1000 * (k + 1)


def _stream_info(ctx: NodeContext) -> dict[str, Any]:
    import cupy

    return {
        "device": ctx.device,
        "xp": ctx.xp.__name__,
        "stream": ctx.stream.ptr if ctx.stream is not None else None,
        "current": cupy.cuda.get_current_stream().ptr,
        "thread": threading.current_thread().name,
    }


@dataclass(frozen=True)
class SlowParams:
    tag: str = param(doc="log to record in")
    batches: int = param(4, doc="batches to emit")
    spin_ms: float = param(30.0, doc="how long each fill kernel spins before writing")
    wait_release: bool = param(False, doc="start filling once a consumer has set the log's release event")


class SlowProducer(Source):
    """Fills a fresh int32 array per batch with a deliberately slow kernel and emits it at once."""

    kind = "gpu.slow_fill"
    Params = SlowParams

    def start(self, ctx: NodeContext) -> None:
        cupy = ctx.xp
        self.log = h.log_of(self.params.tag)
        self.log.values[self.name] = _stream_info(ctx)
        self.kernel = cupy.RawKernel(SLOW_FILL, "slow_fill")
        warm = cupy.empty(1, dtype=cupy.int32)  # compile and load now, not while timing matters
        self.kernel((1,), (1,), (warm, np.int32(1), np.int32(0), np.int64(0)))
        ctx.stream.synchronize()
        rt = cupy.cuda.runtime
        khz = rt.deviceGetAttribute(getattr(rt, "cudaDevAttrClockRate", 13), cupy.cuda.Device().id)
        self.cycles = int(khz * self.params.spin_ms)
        # Fill the memory pool of this stream now: a cudaMalloc while filling would synchronize
        # the device (CUDA's implicit synchronization) and hide a missing event wait.
        spare = [cupy.empty(N, dtype=cupy.int32) for _ in range(self.params.batches)]
        del spare

    def generate(self, ctx: NodeContext) -> Iterator[Batch]:
        cupy = ctx.xp
        source_id = ctx.new_stream("slow")
        if self.params.wait_release:
            assert self.log.release.wait(30), "the consumer never got ready"
        for k in range(self.params.batches):
            values = cupy.empty(N, dtype=cupy.int32)  # on this node's stream (current in its thread)
            self.kernel(
                ((N + THREADS - 1) // THREADS,),
                (THREADS,),
                (values, np.int32(N), np.int32(base_of(k)), np.int64(self.cycles)),
            )
            yield Batch([Frame(source_id, k, 0, 1, 1)], tensors={"values": values})  # no synchronize
        ctx.end_stream(source_id)


@dataclass(frozen=True)
class TagParams:
    tag: str = param(doc="log to record in")


class SumConsumer(Sink):
    """Sums each batch's values on its own stream and copies them to the host."""

    kind = "gpu.sum"
    Params = TagParams

    def start(self, ctx: NodeContext) -> None:
        cupy = ctx.xp
        self.log = h.log_of(self.params.tag)
        self.log.values[self.name] = _stream_info(ctx)
        self.log.values[f"{self.name}.results"] = []
        # Compile the reduction and leave the memory it needs in this stream's pool, so that
        # process() allocates no device memory (an allocation would synchronize the device).
        warm = cupy.arange(N, dtype=cupy.int32)
        assert int(warm.sum(dtype=cupy.int64)) == N * (N - 1) // 2
        ctx.to_host(warm)
        del warm
        self.log.release.set()

    def process(self, batch: Batch, ctx: NodeContext) -> None:
        cupy = ctx.xp
        pending = not batch.ready.done  # the producer's kernel is (normally) still spinning
        values = batch.tensors["values"]
        total = int(values.sum(dtype=cupy.int64))  # queued on ctx.stream, after the runtime's wait
        host = ctx.to_host(values)
        self.log.values[f"{self.name}.results"].append(
            (batch.frames[0].frame_num, total, host, pending, type(batch.ready))
        )


class HostOnlyReader(Sink):
    """Touches no device work of its own: copies the values to the host with ``to_host``."""

    kind = "gpu.host_reader"
    Params = TagParams
    host_only = True

    def start(self, ctx: NodeContext) -> None:
        self.log = h.log_of(self.params.tag)
        self.log.values[f"{self.name}.results"] = []

    def process(self, batch: Batch, ctx: NodeContext) -> None:
        host = ctx.to_host(batch.tensors["values"])
        self.log.values[f"{self.name}.results"].append((batch.frames[0].frame_num, host))


class Probe(Node):
    """Records its context and the frames' images (on the host) and passes batches on."""

    kind = "gpu.probe"
    Params = TagParams

    def start(self, ctx: NodeContext) -> None:
        self.log = h.log_of(self.params.tag)
        self.log.values[self.name] = _stream_info(ctx) if ctx.device == "gpu" else {"device": ctx.device}
        self.log.values[f"{self.name}.frames"] = []

    def process(self, batch: Batch, ctx: NodeContext) -> Batch:
        if ctx.device == "gpu":
            assert _stream_info(ctx)["current"] == ctx.stream.ptr
        for frame in batch.frames:
            host = ctx.to_host(frame.image)
            self.log.values[f"{self.name}.frames"].append(
                (frame.source_id, frame.frame_num, type(frame.image).__module__.split(".")[0], host)
            )
        return batch


class _GpuPlugin:
    @hookimpl
    def dsflow_register_nodes(self) -> list[type]:
        return [SlowProducer, SumConsumer, HostOnlyReader, Probe]


def gpu_graph(text: str, log: h.Log) -> Any:
    pm = h.plugins()
    pm.register(_GpuPlugin(), "dsflow-gpu-test-nodes")
    return load_graph_text(textwrap.dedent(text).replace("$TAG", log.tag), plugins=pm)


log = h.log  # the shared fixture


@pytest.mark.requires_cuda
def test_events_hand_device_data_over_between_streams(log):
    import cupy

    graph = gpu_graph(
        """
        device: gpu
        nodes:
          - {name: fill, type: gpu.slow_fill, params: {tag: $TAG, batches: 4, spin-ms: 40, wait-release: true}}
          - {name: total, type: gpu.sum, input: fill, params: {tag: $TAG}}
          - {name: reader, type: gpu.host_reader, input: fill, params: {tag: $TAG}}
        """,
        log,
    )
    result = run_graph(graph, device="gpu")
    assert result.error is None

    producer, consumer = log.values["fill"], log.values["total"]
    assert producer["stream"] != consumer["stream"]
    assert 0 not in (producer["stream"], consumer["stream"])  # never the legacy default stream
    assert producer["current"] == producer["stream"]  # the node's stream is current in its thread
    assert consumer["current"] == consumer["stream"]

    results = log.values["total.results"]
    assert [r[0] for r in results] == [0, 1, 2, 3]
    for k, total, host, _pending, ready_type in results:
        assert ready_type is cupy.cuda.Event
        assert total == int(expected_values(k).sum(dtype=np.int64))
        assert isinstance(host, np.ndarray)
        np.testing.assert_array_equal(host, expected_values(k))
    # The consumer had the batch before its data was written: the event wait is what made it right.
    assert any(r[3] for r in results)

    # A host-only node waits on the batch's event in to_host, not on the stream order.
    reads = log.values["reader.results"]
    assert [r[0] for r in reads] == [0, 1, 2, 3]
    for k, host in reads:
        np.testing.assert_array_equal(host, expected_values(k))


@pytest.mark.requires_cuda
def test_testpattern_on_the_gpu_equals_the_cpu_frames(log):
    text = """
        nodes:
          - {name: cam, type: source.testpattern, params: {streams: 2, frames: 3, width: 64, height: 32}}
          - {name: probe, type: gpu.probe, input: cam, params: {tag: $TAG}}
    """
    assert run_graph(gpu_graph(text, log), device="cpu").error is None
    cpu = log.values["probe.frames"]
    assert run_graph(gpu_graph(text, log), device="gpu").error is None
    gpu = log.values["probe.frames"]

    assert log.values["probe"]["device"] == "gpu"
    assert [f[:2] for f in gpu] == [f[:2] for f in cpu] == [(s, n) for n in range(3) for s in range(2)]
    assert {f[2] for f in cpu} == {"numpy"}
    assert {f[2] for f in gpu} == {"cupy"}
    for (_, _, _, expected), (_, _, _, got) in zip(cpu, gpu, strict=True):
        assert isinstance(got, np.ndarray)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)


@pytest.mark.requires_cuda
def test_to_host_returns_numpy_equal_to_the_device_data(log):
    import cupy

    graph = gpu_graph(
        """
        nodes:
          - {name: cam, type: source.testpattern, params: {streams: 1, frames: 2, width: 16, height: 8}}
          - {name: probe, type: gpu.probe, input: cam, params: {tag: $TAG}}
        """,
        log,
    )
    assert run_graph(graph, device="gpu").error is None
    for _, _, _, host in log.values["probe.frames"]:
        assert type(host) is np.ndarray

    # The same through a context of a running node, against a device array made here.
    ctx_holder: dict[str, NodeContext] = {}

    class Grab(Sink):
        kind = "gpu.grab"

        def process(self, batch: Batch, ctx: NodeContext) -> None:
            device = ctx.xp.arange(12, dtype=ctx.xp.float32).reshape(3, 4) * 2
            ctx_holder["host"] = ctx.to_host(device)
            ctx_holder["same"] = ctx.to_host(np.ones(3))  # host arrays come back as they are

    class _Plugin:
        @hookimpl
        def dsflow_register_nodes(self) -> list[type]:
            return [Grab]

    pm = h.plugins()
    pm.register(_Plugin(), "grab")
    graph = load_graph_text(
        textwrap.dedent(
            """
            nodes:
              - {name: cam, type: source.testpattern, params: {streams: 1, frames: 1, width: 8, height: 8}}
              - {name: grab, type: gpu.grab, input: cam}
            """
        ),
        plugins=pm,
    )
    assert run_graph(graph, device="gpu").error is None
    host = ctx_holder["host"]
    assert isinstance(host, np.ndarray)
    assert not isinstance(host, cupy.ndarray)
    np.testing.assert_array_equal(host, np.arange(12, dtype=np.float32).reshape(3, 4) * 2)
    np.testing.assert_array_equal(ctx_holder["same"], np.ones(3))


@pytest.mark.requires_cuda
def test_gpu_graph_gives_every_node_its_own_stream(log, tmp_path):
    out = tmp_path / "meta.jsonl"
    graph = gpu_graph(
        f"""
        device: gpu
        nodes:
          - {{name: fill, type: gpu.slow_fill, params: {{tag: $TAG, batches: 2, spin-ms: 1}}}}
          - {{name: total, type: gpu.sum, input: fill, params: {{tag: $TAG}}}}
          - {{name: cam, type: source.testpattern, params: {{streams: 2, frames: 2, width: 16, height: 8}}}}
          - {{name: a, type: gpu.probe, input: cam, params: {{tag: $TAG}}}}
          - {{name: b, type: gpu.probe, input: a, params: {{tag: $TAG}}}}
          - {{name: meta, type: sink.jsonl, input: b, params: {{path: '{out}'}}}}
        """,
        log,
    )
    result = run_graph(graph, device="gpu")
    assert result.error is None

    infos = {name: log.values[name] for name in ("fill", "total", "a", "b")}
    for name, info in infos.items():
        assert info["device"] == "gpu"
        assert info["xp"] == "cupy"
        assert info["stream"] not in (None, 0)
        assert info["current"] == info["stream"], name
        assert info["thread"] == f"dsflow:{name}"
    assert len({info["stream"] for info in infos.values()}) == len(infos)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 4
    assert [r[0] for r in log.values["total.results"]] == [0, 1]


def _tile_model(path: str) -> None:
    """A real model over the pixels: 8×8 average pooling of a (N, 3, 32, 48) input."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("AveragePool", ["input"], ["tiles"], kernel_shape=[8, 8], strides=[8, 8])],
        "tiles",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 48])],
        [helper.make_tensor_value_info("tiles", TensorProto.FLOAT, ["N", 3, 4, 6])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, path)


@pytest.mark.requires_cuda
def test_nvinfer_on_device_frames_equals_the_cpu_run(log, tmp_path):
    """Frames made on the GPU (CuPy) go through nvinfer's nodes like host frames do."""
    from dsflow.infer.engine import clear_engine_cache
    from dsflow.infer.stage import tensor_meta_key

    _tile_model(str(tmp_path / "tiles.onnx"))
    text = f"""
        nodes:
          - {{name: cam, type: source.testpattern, params: {{streams: 2, frames: 3, width: 96, height: 60}}}}
          - name: tiles
            type: nvinfer
            input: cam
            params:
              onnx-file: {tmp_path / "tiles.onnx"}
              gie-unique-id: 7
              network-type: 100
              output-tensor-meta: true
              batch-size: 2
              maintain-aspect-ratio: true
              symmetric-padding: true
              net-scale-factor: 0.0039215697906911373
              offsets: [10, 20, 30]
          - {{name: rec, type: test.record, input: tiles, params: {{tag: $TAG}}}}
    """
    runs = {}
    for device in ("cpu", "gpu"):
        clear_engine_cache()
        log.batches.clear()
        assert run_graph(gpu_graph(text, log), device=device).error is None
        runs[device] = [
            (f.source_id, f.frame_num, f.tensors[tensor_meta_key(7)].layers["tiles"])
            for b in log.batches["rec"] for f in b.frames
        ]  # fmt: skip
    assert [r[:2] for r in runs["gpu"]] == [r[:2] for r in runs["cpu"]] == [(s, n) for n in range(3) for s in range(2)]
    for (_, _, cpu), (_, _, gpu) in zip(runs["cpu"], runs["gpu"], strict=True):
        assert cpu.shape == (3, 4, 6)
        np.testing.assert_allclose(gpu, cpu, rtol=0, atol=1e-6)


@pytest.mark.requires_cuda
def test_a_library_parser_gets_the_cuda_stream_as_a_pointer(tmp_path):
    """dsflow's C ABI hands a CuPy stream to the function as its cudaStream_t, and NULL for no stream."""
    import ctypes
    import os
    import shutil
    import subprocess

    import cupy

    from dsflow.model import DetectionParams, Layer, NetworkInfo
    from dsflow.native import dsflow_abi, include_dir

    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("needs a C compiler")
    lib_path = tmp_path / "libecho.so"
    source = h.Path(__file__).parent / "native" / "dsflow" / "yolo_rows.c"
    subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-I", str(include_dir()), str(source), "-o", str(lib_path)],
                   check=True)  # fmt: skip
    lib = ctypes.CDLL(str(lib_path), mode=os.RTLD_LAZY)
    echo = dsflow_abi.wrap(lib, "DsflowStreamEcho", "bbox_parsers", dsflow_abi.read_info(lib, "DsflowStreamEcho"))
    layers = [Layer("output", np.zeros((1, 1, 6), np.float32), 0)]
    params = DetectionParams(1, np.zeros(1, np.float32), np.zeros(1, np.float32))
    stream = cupy.cuda.Stream(non_blocking=True)
    (on_gpu,) = echo.parse_batch(layers, 1, NetworkInfo(8, 8, 3), params, xp=np, stream=stream)
    (on_cpu,) = echo.parse_batch(layers, 1, NetworkInfo(8, 8, 3), params, xp=np, stream=None)
    assert on_gpu.class_id.tolist() == np.array([stream.ptr & 0xFFFFFFFF], np.uint32).view(np.int32).tolist()
    assert on_cpu.class_id.tolist() == [0]
