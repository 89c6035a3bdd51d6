"""dsflow's own C ABI (``dsflow/native/include/dsflow/infer.h``) through ctypes.

A library function declared with one of the header's macros exports ``dsflow_info_<name>``: the
ABI version, the kind and the struct sizes it was built with. :func:`read_info` reads it and
:func:`wrap` checks it and returns a callable with exactly the Python contract of the function's
family, so the nodes cannot tell it from a plugin's Python function.

The ABI is batch-level: a parser sees every output tensor of a batch (batch first) and returns
the objects of every sample tagged with the sample, in buffers dsflow allocates. Parser wrappers
therefore have ``parse_batch`` (one C call per batch, the parse node's fast path) next to the
per-sample ``__call__`` of the contract, which runs ``parse_batch`` on a batch of one.
"""

from __future__ import annotations

import ctypes
import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsflow.cuda import to_numpy
from dsflow.errors import EngineError, PluginError
from dsflow.frame import Attribute
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo
from dsflow.native._memory import address

ABI_VERSION = 1
"""``DSFLOW_ABI_VERSION`` of the header shipped with this dsflow."""

INCLUDE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")
"""Where ``dsflow/infer.h`` lives: the directory to pass to the compiler with ``-I``."""

MAX_DIMS = 8
MAX_LABEL = 128

OK, ERROR, NEED_MORE_SPACE = 0, 1, 2
STATUS_NAMES = {OK: "DSFLOW_OK", ERROR: "DSFLOW_ERROR", NEED_MORE_SPACE: "DSFLOW_NEED_MORE_SPACE"}

BLOB_ONNX, BLOB_SERIALIZED_ENGINE = 0, 1

KIND_BBOX_PARSER = 1
KIND_INSTANCE_MASK_PARSER = 2
KIND_CLASSIFIER_PARSER = 3
KIND_INPUT_INITIALIZER = 4
KIND_ENGINE_CREATOR = 5
KIND_MODEL_PARSER = 6
KIND_NAMES = {
    KIND_BBOX_PARSER: ("DSFLOW_BBOX_PARSER", "bbox parser"),
    KIND_INSTANCE_MASK_PARSER: ("DSFLOW_INSTANCE_MASK_PARSER", "instance-mask parser"),
    KIND_CLASSIFIER_PARSER: ("DSFLOW_CLASSIFIER_PARSER", "classifier parser"),
    KIND_INPUT_INITIALIZER: ("DSFLOW_INPUT_INITIALIZER", "input initializer"),
    KIND_ENGINE_CREATOR: ("DSFLOW_ENGINE_CREATOR", "engine creator"),
    KIND_MODEL_PARSER: ("DSFLOW_MODEL_PARSER", "model parser"),
}
FAMILY_KINDS = {
    "bbox_parsers": KIND_BBOX_PARSER,
    "instance_mask_parsers": KIND_INSTANCE_MASK_PARSER,
    "classifier_parsers": KIND_CLASSIFIER_PARSER,
    "input_initializers": KIND_INPUT_INITIALIZER,
    "engine_creators": KIND_ENGINE_CREATOR,
    "model_parsers": KIND_MODEL_PARSER,
}
"""Registry family → the kind a library function of that family must be declared as."""

DTYPE_CODES = {
    np.dtype(np.float32): 0,
    np.dtype(np.float16): 1,
    np.dtype(np.int8): 2,
    np.dtype(np.int32): 3,
    np.dtype(np.int64): 4,
    np.dtype(np.uint8): 5,
}
"""``DsflowDataType`` of each NumPy dtype the ABI can describe."""

INITIAL_CAPACITY = 256
"""Records a parser's first call gets; later calls start from the most any call needed."""
INITIAL_MASK_CAPACITY = 1 << 18
"""Mask floats an instance-mask parser's first call gets (1 MiB)."""
MAX_ATTEMPTS = 4
"""Calls per batch before a parser that keeps asking for more space is an error."""

# -- struct mirrors (layouts of infer.h; sizes asserted below) ---------------------------------


class DsflowTensor(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int32),
        ("index", ctypes.c_int32),
        ("ndim", ctypes.c_uint32),
        ("_reserved", ctypes.c_uint32),
        ("dims", ctypes.c_int64 * MAX_DIMS),
    ]


class DsflowNetworkInfo(ctypes.Structure):
    _fields_ = [("width", ctypes.c_uint32), ("height", ctypes.c_uint32), ("channels", ctypes.c_uint32)]


class DsflowDetectionParams(ctypes.Structure):
    _fields_ = [
        ("num_classes", ctypes.c_uint32),
        ("_reserved", ctypes.c_uint32),
        ("pre_cluster_threshold", ctypes.c_void_p),
        ("post_cluster_threshold", ctypes.c_void_p),
    ]


class DsflowObject(ctypes.Structure):
    _fields_ = [
        ("sample", ctypes.c_uint32),
        ("class_id", ctypes.c_int32),
        ("left", ctypes.c_float),
        ("top", ctypes.c_float),
        ("width", ctypes.c_float),
        ("height", ctypes.c_float),
        ("confidence", ctypes.c_float),
    ]


class DsflowObjects(ctypes.Structure):
    _fields_ = [
        ("items", ctypes.c_void_p),
        ("capacity", ctypes.c_uint32),
        ("count", ctypes.c_uint32),
        ("masks", ctypes.c_void_p),
        ("mask_capacity", ctypes.c_uint64),
        ("mask_width", ctypes.c_uint32),
        ("mask_height", ctypes.c_uint32),
    ]


class DsflowAttribute(ctypes.Structure):
    _fields_ = [
        ("sample", ctypes.c_uint32),
        ("index", ctypes.c_uint32),
        ("class_id", ctypes.c_uint32),
        ("confidence", ctypes.c_float),
        ("label", ctypes.c_char * MAX_LABEL),
    ]


class DsflowAttributes(ctypes.Structure):
    _fields_ = [("items", ctypes.c_void_p), ("capacity", ctypes.c_uint32), ("count", ctypes.c_uint32)]


class DsflowEngineRequest(ctypes.Structure):
    _fields_ = [
        ("config_path", ctypes.c_char_p),
        ("onnx_file", ctypes.c_char_p),
        ("custom_network_config", ctypes.c_char_p),
        ("model_file", ctypes.c_char_p),
        ("max_batch_size", ctypes.c_uint32),
        ("network_mode", ctypes.c_int32),
        ("cuda_stream", ctypes.c_void_p),
    ]


RELEASE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class DsflowBlob(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("size", ctypes.c_uint64),
        ("format", ctypes.c_int32),
        ("_reserved", ctypes.c_uint32),
        ("release", ctypes.c_void_p),
    ]


class DsflowFunctionInfo(ctypes.Structure):
    _fields_ = [
        ("abi_version", ctypes.c_uint32),
        ("kind", ctypes.c_uint32),
        ("tensor_size", ctypes.c_uint32),
        ("object_size", ctypes.c_uint32),
    ]


OBJECT_DTYPE = np.dtype(
    [("sample", "=u4"), ("class_id", "=i4"), ("left", "=f4"), ("top", "=f4"), ("width", "=f4"),
     ("height", "=f4"), ("confidence", "=f4")]
)  # fmt: skip
ATTRIBUTE_DTYPE = np.dtype(
    [("sample", "=u4"), ("index", "=u4"), ("class_id", "=u4"), ("confidence", "=f4"), ("label", f"S{MAX_LABEL}")]
)

_SIZES = {
    DsflowTensor: 32 + 8 * MAX_DIMS,
    DsflowNetworkInfo: 12,
    DsflowDetectionParams: 8 + 2 * ctypes.sizeof(ctypes.c_void_p),
    DsflowObject: 28,
    DsflowObjects: 40,
    DsflowAttribute: 16 + MAX_LABEL,
    DsflowAttributes: 16,
    DsflowEngineRequest: 48,
    DsflowBlob: 32,
    DsflowFunctionInfo: 16,
}
for _struct, _size in _SIZES.items():
    assert ctypes.sizeof(_struct) == _size, (_struct.__name__, ctypes.sizeof(_struct), _size)
assert OBJECT_DTYPE.itemsize == ctypes.sizeof(DsflowObject)
assert ATTRIBUTE_DTYPE.itemsize == ctypes.sizeof(DsflowAttribute)

OBJECT_SIZES = {
    KIND_BBOX_PARSER: ("DsflowObject", ctypes.sizeof(DsflowObject)),
    KIND_INSTANCE_MASK_PARSER: ("DsflowObject", ctypes.sizeof(DsflowObject)),
    KIND_CLASSIFIER_PARSER: ("DsflowAttribute", ctypes.sizeof(DsflowAttribute)),
    KIND_INPUT_INITIALIZER: ("DsflowNetworkInfo", ctypes.sizeof(DsflowNetworkInfo)),
    KIND_ENGINE_CREATOR: ("DsflowEngineRequest", ctypes.sizeof(DsflowEngineRequest)),
    KIND_MODEL_PARSER: ("DsflowEngineRequest", ctypes.sizeof(DsflowEngineRequest)),
}
"""The struct each kind's ``object_size`` measures, and its size here."""


@dataclass(frozen=True)
class FunctionInfo:
    """A library function's ``dsflow_info_<name>``: what it was built against."""

    abi_version: int
    kind: int
    tensor_size: int
    object_size: int


def read_info(lib: ctypes.CDLL, name: str) -> FunctionInfo | None:
    """The ``dsflow_info_<name>`` the library exports, or None when it has none (not a dsflow-ABI function)."""
    try:
        raw = DsflowFunctionInfo.in_dll(lib, f"dsflow_info_{name}")
    except ValueError:  # ctypes' "symbol not found"
        return None
    return FunctionInfo(raw.abi_version, raw.kind, raw.tensor_size, raw.object_size)


def library_path(lib: ctypes.CDLL) -> str:
    return str(getattr(lib, "_name", lib))


def _kind_text(kind: int) -> str:
    if kind not in KIND_NAMES:
        return f"unknown kind {kind}"
    macro, words = KIND_NAMES[kind]
    return f"{'an' if words[0] in 'aeiou' else 'a'} {words} ({macro})"


def check_info(where: str, info: FunctionInfo, kind: int) -> None:
    """Refuse a function built against another ABI, declared as another kind, or with other struct sizes."""
    rebuild = "rebuild it with this dsflow's header (the directory `dsflow include` prints)"
    if info.abi_version != ABI_VERSION:
        msg = f"{where}: built against dsflow ABI {info.abi_version}, this dsflow has {ABI_VERSION}; {rebuild}"
        raise PluginError(msg)
    if info.kind != kind:
        msg = f"{where}: declared as {_kind_text(info.kind)}, but configured as {_kind_text(kind)}"
        raise PluginError(msg)
    sizes = [("DsflowTensor", ctypes.sizeof(DsflowTensor), info.tensor_size), (*OBJECT_SIZES[kind], info.object_size)]
    for struct, here, there in sizes:
        if here != there:
            msg = f"{where}: {struct} is {there} bytes in the library, {here} in this dsflow; {rebuild}"
            raise PluginError(msg)


def wrap(lib: ctypes.CDLL, name: str, family: str, info: FunctionInfo | None = None) -> Any:
    """The library function ``name`` as a callable with the Python contract of ``family``.

    ``info`` is the function's :func:`read_info` (read here when not given). Raises
    :class:`PluginError` for a function without info, of another ABI version, kind or struct
    sizes, for a family the ABI has no kind for, and for a missing function symbol.
    """
    path = library_path(lib)
    where = f"custom function {name} ({path})"
    kind = FAMILY_KINDS.get(family)
    if kind is None:
        kinds = ", ".join(macro for macro, _ in KIND_NAMES.values())
        msg = f"{where}: dsflow's C ABI has no {family.replace('_', ' ')} (it has {kinds})"
        raise PluginError(msg)
    if info is None:
        info = read_info(lib, name)
        if info is None:
            msg = f"{where}: no dsflow_info_{name} exported (declare it with {KIND_NAMES[kind][0]}({name}))"
            raise PluginError(msg)
    check_info(where, info, kind)
    try:
        fn = getattr(lib, name)
    except AttributeError:
        msg = f"{where}: dsflow_info_{name} is exported, but the function {name} is not"
        raise PluginError(msg) from None
    fn.restype = ctypes.c_int32
    cls = _WRAPPERS[kind]
    return cls(fn, name, path, info)


# -- helpers -----------------------------------------------------------------------------------


_COLUMNS = ("class_id", "left", "top", "width", "height", "confidence")
_OBJECT_WORDS = OBJECT_DTYPE.itemsize // 4
assert OBJECT_DTYPE.names == ("sample", *_COLUMNS)
assert all(OBJECT_DTYPE[i].itemsize == 4 for i in range(_OBJECT_WORDS))


def stream_pointer(stream: Any) -> int | None:
    """The ``cudaStream_t`` of a CuPy / torch stream (or a raw int), None for no stream."""
    if stream is None:
        return None
    if isinstance(stream, int):
        return stream or None
    for attribute in ("ptr", "cuda_stream"):
        value = getattr(stream, attribute, None)
        if value is not None:
            return int(value) or None
    return None


class _Function:
    """What every wrapper holds: the ctypes function and where it comes from."""

    def __init__(self, fn: Any, name: str, path: str, info: FunctionInfo) -> None:
        self.fn = fn
        self.name = name
        self.library = path
        self.info = info
        self.where = f"custom function {name} ({path})"

    def __repr__(self) -> str:
        return f"<dsflow ABI {KIND_NAMES[self.info.kind][1]} {self.name} from {self.library}>"

    def _check(self, status: int) -> None:
        if status != OK:
            text = STATUS_NAMES.get(status, "unknown status")
            msg = f"{self.where} returned status {status} ({text})"
            raise EngineError(msg)

    def _tensors(self, layers: Sequence[Layer], rows: int, writable: bool = False) -> tuple[Any, list[Any]]:
        """``DsflowTensor[len(layers)]`` over contiguous host arrays of ``rows`` rows, and what keeps them alive."""
        tensors = (DsflowTensor * max(len(layers), 1))()
        keep: list[Any] = []
        for i, layer in enumerate(layers):
            data = to_numpy(layer.data)
            if not writable:
                data = np.ascontiguousarray(data)
            code = DTYPE_CODES.get(data.dtype)
            if code is None or not data.dtype.isnative:
                known = ", ".join(str(d) for d in DTYPE_CODES)
                msg = f"{self.where}: layer {layer.name!r} has dtype {data.dtype} (expected one of {known})"
                raise EngineError(msg)
            if not 1 <= data.ndim <= MAX_DIMS or data.shape[0] != rows:
                msg = (
                    f"{self.where}: layer {layer.name!r} has shape {data.shape} "
                    f"(expected {rows} rows first, at most {MAX_DIMS} dims)"
                )
                raise EngineError(msg)
            name = layer.name.encode()
            keep += [data, name]
            tensor = tensors[i]
            tensor.name, tensor.data, tensor.dtype, tensor.index = name, address(data), code, layer.index
            tensor.ndim = data.ndim
            tensor.dims[: data.ndim] = data.shape
        return tensors, keep

    def _grow(self, need: int, capacity: int, mask_need: int = 0, mask_capacity: int = 0) -> None:
        if need <= capacity and mask_need <= mask_capacity:
            msg = (
                f"{self.where} returned DSFLOW_NEED_MORE_SPACE but asked for {need} records "
                f"(has {capacity}) and {mask_need} mask floats (has {mask_capacity}): set count (and the "
                "mask dims) to what it needs"
            )
            raise EngineError(msg)
        if need > 0xFFFFFFFF:
            msg = f"{self.where} asked for {need} records (at most {0xFFFFFFFF})"
            raise EngineError(msg)

    def _too_many(self) -> EngineError:
        return EngineError(f"{self.where} still needs more space after {MAX_ATTEMPTS} calls on one batch")


def _order(where: str, sample: np.ndarray, count: int) -> tuple[np.ndarray | None, list[int]]:
    """The stable order that sorts records by sample (None when they already are) and where each sample's
    records start in that order, plus the end: ``count + 1`` offsets. Checks the range."""
    n = len(sample)
    if n == 0:
        return None, [0] * (count + 1)
    sample = np.ascontiguousarray(sample)  # a strided field is several times slower to scan
    order = None
    if n > 1 and bool((sample[1:] < sample[:-1]).any()):
        order = np.argsort(sample, kind="stable")
        sample = sample[order]
    last = int(sample[-1])
    if last >= count:
        msg = f"{where} returned an object of sample {last}, but the batch has {count} samples"
        raise EngineError(msg)
    if count == 1:
        return order, [0, n]
    starts = np.searchsorted(sample, np.arange(1, count, dtype=sample.dtype)).tolist()
    return order, [0, *starts, n]


class BboxParser(_Function):
    """A ``DSFLOW_BBOX_PARSER`` (or, with ``masks``, ``DSFLOW_INSTANCE_MASK_PARSER``) function."""

    masks = False

    def __init__(self, fn: Any, name: str, path: str, info: FunctionInfo) -> None:
        super().__init__(fn, name, path, info)
        self.capacity = INITIAL_CAPACITY
        self.mask_capacity = INITIAL_MASK_CAPACITY if self.masks else 0
        self._params: tuple[DetectionParams, DsflowDetectionParams] | None = None
        fn.argtypes = [ctypes.POINTER(DsflowTensor), ctypes.c_uint32, ctypes.c_uint32,
                       ctypes.POINTER(DsflowNetworkInfo), ctypes.POINTER(DsflowDetectionParams), ctypes.c_void_p,
                       ctypes.POINTER(DsflowObjects)]  # fmt: skip

    def __call__(
        self, outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np,
        stream: Any = None,
    ) -> Detections:  # fmt: skip
        """One sample's layers (no batch dim): the per-sample contract, through a batch of one."""
        batch = [Layer(layer.name, to_numpy(layer.data)[None], layer.index, layer.is_input) for layer in outputs]
        return self.parse_batch(batch, 1, network, params, xp=xp, stream=stream)[0]

    def parse_batch(
        self, layers: Sequence[Layer], count: int, network: NetworkInfo, params: DetectionParams, *, xp: Any = np,
        stream: Any = None,
    ) -> list[Detections]:  # fmt: skip
        """Batch-first layers of ``count`` rows: one C call, one :class:`Detections` per row."""
        if count == 0:
            return []
        tensors, keep = self._tensors(layers, count)
        net = DsflowNetworkInfo(network.width, network.height, network.channels)
        det = self._detection_params(params, keep)
        stream_ptr = stream_pointer(stream)
        capacity, mask_capacity = self.capacity, self.mask_capacity
        for _ in range(MAX_ATTEMPTS):
            items = np.zeros(capacity, OBJECT_DTYPE)
            masks = np.empty(mask_capacity, np.float32) if self.masks else None
            out = DsflowObjects(address(items), capacity, 0, None if masks is None else address(masks),
                                mask_capacity, 0, 0)  # fmt: skip
            status = self.fn(tensors, len(layers), count, net, det, stream_ptr, out)
            if status != NEED_MORE_SPACE:
                break
            mask_need = out.count * out.mask_width * out.mask_height if self.masks else 0
            self._grow(out.count, capacity, mask_need, mask_capacity)
            capacity, mask_capacity = max(capacity, out.count), max(mask_capacity, mask_need)
            self.capacity, self.mask_capacity = max(self.capacity, capacity), max(self.mask_capacity, mask_capacity)
        else:
            raise self._too_many()
        del keep
        self._check(status)
        return self._split(items, masks, out, capacity, mask_capacity, count)

    def _detection_params(self, params: DetectionParams, keep: list[Any]) -> DsflowDetectionParams:
        """The struct over the thresholds, made once per ``params`` object when its arrays can be used as they are.

        The parse node passes one ``params`` object to every batch; the struct points into its
        arrays, so edits of their values are still seen. Converted copies go to ``keep``.
        """
        cached = self._params
        if cached is not None and cached[0] is params:
            return cached[1]
        pre = np.ascontiguousarray(params.pre_cluster_threshold, np.float32)
        post = np.ascontiguousarray(params.post_cluster_threshold, np.float32)
        det = DsflowDetectionParams(params.num_classes, 0, address(pre), address(post))
        if pre is params.pre_cluster_threshold and post is params.post_cluster_threshold:
            self._params = (params, det)  # params keeps the arrays alive
        else:
            keep += [pre, post]
        return det

    def _split(
        self, items: np.ndarray, masks: np.ndarray | None, out: DsflowObjects, capacity: int, mask_capacity: int,
        count: int,
    ) -> list[Detections]:  # fmt: skip
        """One :class:`Detections` per sample, checked against the buffers and the batch."""
        n = out.count
        mask_h, mask_w = out.mask_height, out.mask_width
        if n > capacity or (self.masks and n * mask_h * mask_w > mask_capacity):
            msg = f"{self.where} returned count {n} with room for {capacity} objects (and {mask_capacity} mask floats)"
            raise EngineError(msg)
        if n == 0:  # nothing to cut: every sample gets the same zero-length columns
            columns = [np.empty(0, np.int32), *(np.empty(0, np.float32) for _ in _COLUMNS[1:])]
            planes = None if masks is None else np.empty((0, mask_h, mask_w), np.float32)
            return Detections.split_columns(columns, planes, [0] * (count + 1))
        # One transposed copy gives every column at once (rows sample, class_id, left, ..., confidence),
        # none of them a view of the records buffer.
        block = items.view(np.uint32).reshape(-1, _OBJECT_WORDS)[:n].T.copy()
        order, bounds = _order(self.where, block[0], count)
        planes = masks[: n * mask_h * mask_w].reshape(n, mask_h, mask_w) if masks is not None else None
        if order is not None:
            block = block[:, order]
            planes = planes[order] if planes is not None else None
        elif planes is not None:
            planes = planes.copy()  # let the oversized buffer go
        return Detections.split_columns([block[1].view(np.int32), *block[2:].view(np.float32)], planes, bounds)


class InstanceMaskParser(BboxParser):
    """A ``DSFLOW_INSTANCE_MASK_PARSER`` function: detections with ``masks`` ``(N, mask_h, mask_w)``."""

    masks = True


class ClassifierParser(_Function):
    """A ``DSFLOW_CLASSIFIER_PARSER`` function."""

    def __init__(self, fn: Any, name: str, path: str, info: FunctionInfo) -> None:
        super().__init__(fn, name, path, info)
        self.capacity = INITIAL_CAPACITY
        fn.argtypes = [ctypes.POINTER(DsflowTensor), ctypes.c_uint32, ctypes.c_uint32,
                       ctypes.POINTER(DsflowNetworkInfo), ctypes.c_float, ctypes.c_void_p,
                       ctypes.POINTER(DsflowAttributes)]  # fmt: skip

    def __call__(
        self, outputs: Sequence[Layer], network: NetworkInfo, threshold: float, *, xp: Any = np, stream: Any = None
    ) -> list[Attribute]:
        """One sample's layers (no batch dim): the per-sample contract, through a batch of one."""
        batch = [Layer(layer.name, to_numpy(layer.data)[None], layer.index, layer.is_input) for layer in outputs]
        return self.parse_batch(batch, 1, network, threshold, xp=xp, stream=stream)[0]

    def parse_batch(
        self, layers: Sequence[Layer], count: int, network: NetworkInfo, threshold: float, *, xp: Any = np,
        stream: Any = None,
    ) -> list[list[Attribute]]:  # fmt: skip
        """Batch-first layers of ``count`` rows: one C call, one list of attributes per row."""
        if count == 0:
            return []
        tensors, keep = self._tensors(layers, count)
        net = DsflowNetworkInfo(network.width, network.height, network.channels)
        stream_ptr = stream_pointer(stream)
        capacity = self.capacity
        for _ in range(MAX_ATTEMPTS):
            items = np.zeros(capacity, ATTRIBUTE_DTYPE)
            out = DsflowAttributes(address(items), capacity, 0)
            status = self.fn(tensors, len(layers), count, net, threshold, stream_ptr, out)
            if status != NEED_MORE_SPACE:
                break
            self._grow(out.count, capacity)
            capacity = out.count
            self.capacity = max(self.capacity, capacity)
        else:
            raise self._too_many()
        del keep
        self._check(status)
        if out.count > capacity:
            msg = f"{self.where} returned count {out.count} with room for {capacity} attributes"
            raise EngineError(msg)
        records = items[: out.count]
        order, bounds = _order(self.where, records["sample"], count)
        if order is not None:
            records = records[order]
        labels = [raw.split(b"\0", 1)[0].decode("utf-8", "replace") for raw in records["label"].tolist()]
        attributes = [
            Attribute(label, class_id=cid, confidence=conf, index=index)
            for label, cid, conf, index in zip(
                labels, records["class_id"].tolist(), records["confidence"].tolist(), records["index"].tolist(),
                strict=True,
            )
        ]  # fmt: skip
        return [attributes[a:b] for a, b in itertools.pairwise(bounds)]


class InputInitializer(_Function):
    """A ``DSFLOW_INPUT_INITIALIZER`` function: fills the non-image inputs once per engine."""

    def __init__(self, fn: Any, name: str, path: str, info: FunctionInfo) -> None:
        super().__init__(fn, name, path, info)
        fn.argtypes = [ctypes.POINTER(DsflowTensor), ctypes.c_uint32, ctypes.POINTER(DsflowNetworkInfo),
                       ctypes.c_uint32, ctypes.c_void_p]  # fmt: skip

    def __call__(
        self, layers: Sequence[Layer], network: NetworkInfo, max_batch_size: int, *, xp: Any = np, stream: Any = None
    ) -> dict[str, np.ndarray]:
        """Fill ``layers`` (``(max_batch_size, *dims)`` each) in place where they are writable host arrays."""
        arrays = []
        for layer in layers:
            data = layer.data
            if not (isinstance(data, np.ndarray) and data.flags.c_contiguous and data.flags.writeable):
                data = np.array(to_numpy(data), order="C")  # a writable copy; returned below
            arrays.append(Layer(layer.name, data, layer.index, True))
        tensors, keep = self._tensors(arrays, max_batch_size, writable=True)
        net = DsflowNetworkInfo(network.width, network.height, network.channels)
        status = self.fn(tensors, len(arrays), net, max_batch_size, stream_pointer(stream))
        del keep
        self._check(status)
        return {layer.name: layer.data for layer in arrays}


class EngineCreator(_Function):
    """A ``DSFLOW_ENGINE_CREATOR`` function: ``creator(cfg)`` returns the stage's ONNX model as bytes."""

    def __init__(self, fn: Any, name: str, path: str, info: FunctionInfo) -> None:
        super().__init__(fn, name, path, info)
        fn.argtypes = [ctypes.POINTER(DsflowEngineRequest), ctypes.POINTER(DsflowBlob)]

    def __call__(self, cfg: Any) -> bytes:
        """The model the function makes for the stage configured by ``cfg`` (an ``InferConfig``)."""

        def text(value: Any) -> bytes | None:
            return None if value in (None, "") else os.fsencode(str(value))

        request = DsflowEngineRequest(
            text(getattr(cfg, "origin", None)), text(_setting(cfg, "onnx-file")),
            text(_setting(cfg, "custom-network-config")), text(_setting(cfg, "model-file")),
            int(_setting(cfg, "batch-size") or 1), int(_setting(cfg, "network-mode") or 0), None,
        )  # fmt: skip
        blob = DsflowBlob()
        status = self.fn(request, blob)
        try:
            self._check(status)
            if blob.format != BLOB_ONNX:
                if blob.format == BLOB_SERIALIZED_ENGINE:
                    msg = (
                        f"{self.where} returned a serialized TensorRT engine (DSFLOW_BLOB_SERIALIZED_ENGINE); the "
                        "onnxruntime backend cannot run it: return the model as ONNX (DSFLOW_BLOB_ONNX)"
                    )
                else:
                    msg = f"{self.where} returned a blob of unknown format {blob.format} (expected DSFLOW_BLOB_ONNX 0)"
                raise EngineError(msg)
            if not blob.data or not blob.size:
                msg = f"{self.where} returned no model (data {blob.data or 'NULL'}, size {blob.size})"
                raise EngineError(msg)
            return ctypes.string_at(blob.data, blob.size)
        finally:
            if blob.data and blob.release:
                RELEASE(blob.release)(blob.data)


class ModelParser(EngineCreator):
    """A ``DSFLOW_MODEL_PARSER`` function: ``parser(model_file, cfg)`` returns the ONNX model as bytes.

    It has the engine creator's C signature; the function reads ``request->model_file``.
    """

    def __call__(self, model_file: Any, cfg: Any = None) -> bytes:  # type: ignore[override]
        return super().__call__(cfg)


def _setting(cfg: Any, key: str) -> Any:
    """``cfg[key]``, or None for a key this config type does not know."""
    try:
        return cfg[key]
    except (KeyError, TypeError):
        return None


_WRAPPERS: Mapping[int, type[_Function]] = {
    KIND_BBOX_PARSER: BboxParser,
    KIND_INSTANCE_MASK_PARSER: InstanceMaskParser,
    KIND_CLASSIFIER_PARSER: ClassifierParser,
    KIND_INPUT_INITIALIZER: InputInitializer,
    KIND_ENGINE_CREATOR: EngineCreator,
    KIND_MODEL_PARSER: ModelParser,
}
