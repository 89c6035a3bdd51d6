"""What calling a custom C parser through ctypes costs per batch, against the built-in NumPy parser.

One parser, DeepStream-Yolo's ``[N, 6]`` rows (x1, y1, x2, y2, score, class), in three forms:

- **numpy**: dsflow's built-in ``NvDsInferParseYolo`` (``dsflow/infer/parsers/yolo.py``), called
  once per row of the batch, as the parse node calls a Python parser. This is the baseline.
- **dsflow ABI**: ``DsflowYoloRows`` (``tests/native/dsflow/yolo_rows.c``) through
  ``dsflow.native.dsflow_abi``: ``parse_batch``, one C call per batch, as the parse node calls it.
- **nvinfer ABI**: ``NvDsInferParseRows`` (``tests/native/nvinfer/bbox_parsers.cpp``) through
  ``dsflow.native.nvinfer_abi``, once per row, as nvinfer calls it.

The libraries (and two whose functions return at once) are built here with -O2 into a temporary
folder. All three forms must return the same detections (checked before timing). Each loop also
builds the ``Layer`` objects the node builds. Variants take turns within every repeat; the figures
are medians of the repeats.

Overhead is what the wrapper adds to the C function: the wrapper's time per batch minus the time
of the same C function called straight through ctypes with arguments built beforehand (B calls
per batch for the nvinfer ABI). The third table does the same with C functions that return at
once, so that only the marshalling is left.

    python benchmarks/parser_call_cost.py [--batch-sizes 1 8 32] [--rows 100 8400] [--repeats 7]

Goal: at most 20 us of overhead per batch for the ctypes call.
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _machine import machine_cpu  # benchmarks/ is on sys.path when a script of it runs

from dsflow.infer.parsers.yolo import parse_yolo
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo
from dsflow.native import dsflow_abi, nvinfer_abi

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = Path(dsflow_abi.INCLUDE_DIR)
DSFLOW_SOURCE = ROOT / "tests" / "native" / "dsflow" / "yolo_rows.c"
NVINFER_SOURCE = ROOT / "tests" / "native" / "nvinfer" / "bbox_parsers.cpp"
GOAL_US = 20.0
NETWORK = NetworkInfo(640, 640, 3)
CLASSES = 80
THRESHOLD = 0.25
LAYER = "output"
_FLAGS = ["-O2", "-shared", "-fPIC"]

EMPTY_DSFLOW = """
#include <dsflow/infer.h>
/* Returns at once with no objects: what is left of a call is the marshalling. */
DSFLOW_BBOX_PARSER(DsflowEmpty)
{
    (void)outputs, (void)num_outputs, (void)batch, (void)network, (void)params, (void)cuda_stream;
    out->count = 0;
    return DSFLOW_OK;
}
"""
EMPTY_NVINFER = """
#include "nvdsinfer_custom_impl.h"
/* Returns at once with no objects: what is left of a call is the marshalling. */
extern "C" bool NvDsInferParseEmpty(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &,
                                    NvDsInferParseDetectionParams const &, std::vector<NvDsInferParseObjectInfo> &)
{
    return true;
}
CHECK_CUSTOM_PARSE_FUNC_PROTOTYPE(NvDsInferParseEmpty);
"""


def build(folder: Path) -> dict[str, str]:
    """The four test libraries, built with -O2: real parsers and do-nothing ones, for both ABIs."""
    gcc, gxx = shutil.which("gcc"), shutil.which("g++")
    if not (gcc and gxx):
        sys.exit("parser_call_cost: needs gcc and g++ to build the parser libraries (not found on PATH)")
    (folder / "empty_dsflow.c").write_text(EMPTY_DSFLOW, encoding="ascii")
    (folder / "empty_nvinfer.cpp").write_text(EMPTY_NVINFER, encoding="ascii")
    jobs = {
        "dsflow": [gcc, "-std=c99", *_FLAGS, DSFLOW_SOURCE],
        "dsflow_empty": [gcc, "-std=c99", *_FLAGS, folder / "empty_dsflow.c"],
        "nvinfer": [gxx, *_FLAGS, NVINFER_SOURCE],
        "nvinfer_empty": [gxx, *_FLAGS, folder / "empty_nvinfer.cpp"],
    }
    built = {}
    for name, command in jobs.items():
        output = folder / f"lib{name}.so"
        done = subprocess.run([*map(str, command), "-I", str(INCLUDE), "-o", str(output)], capture_output=True,
                              text=True, check=False)  # fmt: skip
        if done.returncode:
            sys.exit(f"parser_call_cost: building {output.name} failed:\n{done.stderr}")
        built[name] = str(output)
    return built


def make_batch(rng: np.random.Generator, batch: int, rows: int, fraction: float) -> np.ndarray:
    """``(batch, rows, 6)`` float32 rows; ``max(1, round(rows·fraction))`` per sample score above threshold."""
    data = np.empty((batch, rows, 6), np.float32)
    x1 = rng.uniform(-8, NETWORK.width - 40, (batch, rows))
    y1 = rng.uniform(-8, NETWORK.height - 40, (batch, rows))
    data[..., 0], data[..., 1] = x1, y1
    data[..., 2] = x1 + rng.uniform(2, 120, (batch, rows))
    data[..., 3] = y1 + rng.uniform(2, 120, (batch, rows))
    data[..., 4] = rng.uniform(0.0, 0.2, (batch, rows))
    data[..., 5] = rng.integers(0, CLASSES, (batch, rows))
    hits = max(1, round(rows * fraction))
    for sample in range(batch):
        chosen = rng.choice(rows, hits, replace=False)
        data[sample, chosen, 4] = rng.uniform(0.4, 1.0, hits)
    return data


def same(a: Detections, b: Detections) -> bool:
    columns = ("class_id", "left", "top", "width", "height", "confidence")
    return all(np.array_equal(getattr(a, c), getattr(b, c)) for c in columns)


# -- the C functions called straight, with arguments built beforehand ---------------------------


def dsflow_direct(fn: Any, data: np.ndarray, params: DetectionParams) -> Callable[[], Any]:
    """One call of a dsflow-ABI parser over the whole batch; its output buffer is big enough for all rows."""
    batch = data.shape[0]
    tensors = (dsflow_abi.DsflowTensor * 1)()
    tensors[0].name, tensors[0].data, tensors[0].dtype = LAYER.encode(), data.ctypes.data, 0
    tensors[0].ndim = data.ndim
    tensors[0].dims[: data.ndim] = data.shape
    net = dsflow_abi.DsflowNetworkInfo(NETWORK.width, NETWORK.height, NETWORK.channels)
    det = dsflow_abi.DsflowDetectionParams(params.num_classes, 0, params.pre_cluster_threshold.ctypes.data,
                                           params.post_cluster_threshold.ctypes.data)  # fmt: skip
    items = np.zeros(data.shape[0] * data.shape[1], dsflow_abi.OBJECT_DTYPE)
    out = dsflow_abi.DsflowObjects(items.ctypes.data, len(items), 0, None, 0, 0, 0)
    args = (tensors, 1, batch, ctypes.byref(net), ctypes.byref(det), None, ctypes.byref(out))

    def call() -> Any:
        return fn(*args)

    call.keep = (tensors, net, det, items, out, args)  # type: ignore[attr-defined]
    return call


def nvinfer_direct(address: int, data: np.ndarray, params: DetectionParams) -> Callable[[], Any]:
    """One call per sample of an nvinfer-ABI parser.

    The output vector is kept across calls: a parser that assigns a new vector to it (as
    DeepStream-Yolo's do) reuses its storage, so no call here frees memory. ``release`` frees it at the end.
    """
    fn = ctypes.CFUNCTYPE(ctypes.c_bool, *[ctypes.c_void_p] * 4)(address)  # four references
    name = ctypes.create_string_buffer(LAYER.encode())
    infos = []
    for sample in data:
        info = (nvinfer_abi.NvDsInferLayerInfo * 1)()
        info[0].dataType = 0
        info[0].inferDims.numDims = sample.ndim
        info[0].inferDims.d[: sample.ndim] = sample.shape
        info[0].inferDims.numElements = sample.size
        info[0].layerName, info[0].buffer = ctypes.addressof(name), sample.ctypes.data
        begin = ctypes.addressof(info)
        infos.append((info, nvinfer_abi.StdVector(begin, begin + ctypes.sizeof(info), begin + ctypes.sizeof(info))))
    net = nvinfer_abi.NvDsInferNetworkInfo(NETWORK.width, NETWORK.height, NETWORK.channels)

    def vector(array: np.ndarray) -> nvinfer_abi.StdVector:
        return nvinfer_abi.StdVector(array.ctypes.data, array.ctypes.data + array.nbytes,
                                     array.ctypes.data + array.nbytes)  # fmt: skip

    block = nvinfer_abi.NvDsInferParseDetectionParams(params.num_classes, vector(params.pre_cluster_threshold),
                                                      vector(params.post_cluster_threshold))  # fmt: skip
    block.perClassThreshold = (
        ctypes.addressof(block) + nvinfer_abi.NvDsInferParseDetectionParams.perClassPreclusterThreshold.offset
    )
    out = nvinfer_abi.StdVector()
    calls = [(ctypes.byref(layers), ctypes.byref(net), ctypes.byref(block), ctypes.byref(out)) for _, layers in infos]

    def call() -> Any:
        for args in calls:
            fn(*args)

    def release() -> None:
        if out.begin:
            delete = ctypes.CDLL("libstdc++.so.6")["_ZdlPv"]  # operator delete(void*), as nvinfer frees it
            delete.argtypes, delete.restype = [ctypes.c_void_p], None
            delete(out.begin)
            out.begin = out.end = out.end_of_storage = 0

    call.keep = (fn, name, infos, net, block, out, calls)  # type: ignore[attr-defined]
    call.release = release  # type: ignore[attr-defined]
    return call


# -- timing ---------------------------------------------------------------------------------------


def per_call_us(fn: Callable[[], Any], iterations: int) -> float:
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(iterations):
        fn()
    return (clock() - start) / iterations / 1000


def calibrate(fn: Callable[[], Any], min_time: float) -> int:
    """Iterations that take about ``min_time`` seconds (after a warm-up)."""
    iterations = 1
    while True:
        seconds = per_call_us(fn, iterations) * iterations / 1e6
        if seconds >= min_time / 4:
            return max(1, round(iterations * min_time / max(seconds, 1e-9)))
        iterations *= 4


def measure(variants: dict[str, Callable[[], Any]], repeats: int, min_time: float) -> dict[str, float]:
    """Median µs per call of each variant; the variants take turns within every repeat."""
    counts = {name: calibrate(fn, min_time) for name, fn in variants.items()}
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            samples[name].append(per_call_us(fn, counts[name]))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--rows", type=int, nargs="+", default=[100, 8400], help="rows N per sample")
    parser.add_argument("--fraction", type=float, default=0.005, help="share of rows above the threshold")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.1, help="seconds per variant per repeat")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="parser_call_cost_"))
    try:
        paths = build(folder)
        libs = {name: ctypes.CDLL(path) for name, path in paths.items()}
        results = run(libs, args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(results, args)


def run(libs: dict[str, ctypes.CDLL], args: argparse.Namespace) -> list[dict[str, Any]]:
    parsers = {
        "dsflow": dsflow_abi.wrap(libs["dsflow"], "DsflowYoloRows", "bbox_parsers"),
        "dsflow_empty": dsflow_abi.wrap(libs["dsflow_empty"], "DsflowEmpty", "bbox_parsers"),
        "nvinfer": nvinfer_abi.wrap(libs["nvinfer"], "NvDsInferParseRows", "bbox_parsers"),
        "nvinfer_empty": nvinfer_abi.wrap(libs["nvinfer_empty"], "NvDsInferParseEmpty", "bbox_parsers"),
    }
    addresses = {
        "nvinfer": _address(libs["nvinfer"], "NvDsInferParseRows"),
        "nvinfer_empty": _address(libs["nvinfer_empty"], "NvDsInferParseEmpty"),
    }
    thresholds = np.full(CLASSES, THRESHOLD, np.float32)
    params = DetectionParams(CLASSES, thresholds, thresholds.copy())
    rng = np.random.default_rng(0)
    results = []
    for rows in args.rows:
        for batch in args.batch_sizes:
            data = make_batch(rng, batch, rows, args.fraction)
            results.append(one_case(data, params, parsers, addresses, args))
            found, others = results[-1]["objects"], results[-1]["others"]
            print(f"  measured batch {batch:>2}, N {rows:>5}: {found} objects per batch; other processes used "
                  f"{others:.0%} of a core meanwhile", file=sys.stderr)  # fmt: skip
    return results


def _address(lib: ctypes.CDLL, name: str) -> int:
    return ctypes.cast(lib[name], ctypes.c_void_p).value or 0


def one_case(
    data: np.ndarray, params: DetectionParams, parsers: dict[str, Any], addresses: dict[str, int],
    args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    """Every variant on one batch ``data`` ``(B, N, 6)``: median µs per batch."""
    batch, rows = data.shape[:2]

    def per_sample(parser: Any) -> list[Detections]:
        return [parser([Layer(LAYER, data[row], 0)], NETWORK, params, xp=np) for row in range(batch)]

    def whole_batch(parser: Any) -> list[Detections]:
        return parser.parse_batch([Layer(LAYER, data, 0)], batch, NETWORK, params, xp=np)

    expected = per_sample(parse_yolo)
    for name, got in (("dsflow ABI", whole_batch(parsers["dsflow"])), ("nvinfer ABI", per_sample(parsers["nvinfer"]))):
        if not all(same(a, b) for a, b in zip(expected, got, strict=True)):
            sys.exit(f"parser_call_cost: the {name} parser disagrees with NvDsInferParseYolo (batch {batch}, N {rows})")
    nv_direct = nvinfer_direct(addresses["nvinfer"], data, params)
    nv_empty_direct = nvinfer_direct(addresses["nvinfer_empty"], data, params)
    variants = {
        "numpy": lambda: per_sample(parse_yolo),
        "dsflow": lambda: whole_batch(parsers["dsflow"]),
        "dsflow_c": dsflow_direct(parsers["dsflow"].fn, data, params),
        "nvinfer": lambda: per_sample(parsers["nvinfer"]),
        "nvinfer_c": nv_direct,
        "dsflow_empty": lambda: whole_batch(parsers["dsflow_empty"]),
        "dsflow_empty_c": dsflow_direct(parsers["dsflow_empty"].fn, data, params),
        "nvinfer_empty": lambda: per_sample(parsers["nvinfer_empty"]),
        "nvinfer_empty_c": nv_empty_direct,
    }
    wall, own, machine = time.perf_counter(), time.process_time(), machine_cpu()
    try:
        timing = measure(variants, args.repeats, args.min_time)
    finally:
        nv_direct.release()  # type: ignore[attr-defined]
        nv_empty_direct.release()  # type: ignore[attr-defined]
    others = (machine_cpu() - machine - (time.process_time() - own)) / (time.perf_counter() - wall)
    return {"batch": batch, "rows": rows, "objects": sum(len(d) for d in expected), "others": others, **timing}


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"Parser per batch, us (median of {args.repeats}); ratio = time / numpy time")
    print(f"{'batch':>5} {'N':>5} {'objects':>7} {'numpy':>9} {'dsflow ABI':>10} {'ratio':>6} "
          f"{'nvinfer ABI':>11} {'ratio':>6}")  # fmt: skip
    for r in results:
        print(f"{r['batch']:>5} {r['rows']:>5} {r['objects']:>7} {r['numpy']:>9.1f} {r['dsflow']:>10.1f} "
              f"{r['dsflow'] / r['numpy']:>6.3f} {r['nvinfer']:>11.1f} {r['nvinfer'] / r['numpy']:>6.3f}")  # fmt: skip
    print()
    print(f"Overhead per batch, us: wrapper - the same C function called directly (goal {GOAL_US:g} us)")
    print(f"{'batch':>5} {'N':>5} {'dsflow C':>9} {'overhead':>9} {'goal':>6} {'nvinfer C':>10} {'overhead':>9} "
          f"{'goal':>6}")  # fmt: skip
    for r in results:
        ds, nv = r["dsflow"] - r["dsflow_c"], r["nvinfer"] - r["nvinfer_c"]
        print(f"{r['batch']:>5} {r['rows']:>5} {r['dsflow_c']:>9.1f} {ds:>9.1f} {_goal(ds):>6} {r['nvinfer_c']:>10.1f} "
              f"{nv:>9.1f} {_goal(nv):>6}")  # fmt: skip
    print()
    print("Marshalling only, us per batch: wrappers around C functions that return at once")
    print(f"{'batch':>5} {'N':>5} {'dsflow':>7} {'C call':>7} {'overhead':>9} {'goal':>6} {'nvinfer':>8} "
          f"{'C calls':>8} {'overhead':>9} {'per call':>9} {'goal':>6}")  # fmt: skip
    for r in results:
        ds, nv = r["dsflow_empty"] - r["dsflow_empty_c"], r["nvinfer_empty"] - r["nvinfer_empty_c"]
        print(f"{r['batch']:>5} {r['rows']:>5} {r['dsflow_empty']:>7.1f} {r['dsflow_empty_c']:>7.2f} "
              f"{ds:>9.1f} {_goal(ds):>6} {r['nvinfer_empty']:>8.1f} {r['nvinfer_empty_c']:>8.2f} {nv:>9.1f} "
              f"{nv / r['batch']:>9.1f} {_goal(nv):>6}")  # fmt: skip
    busiest = max(r["others"] for r in results)
    print(f"\nOther processes used at most {busiest:.0%} of a core while a case was measured.")


def _goal(overhead_us: float) -> str:
    return "met" if overhead_us <= GOAL_US else "missed"


if __name__ == "__main__":
    main()
