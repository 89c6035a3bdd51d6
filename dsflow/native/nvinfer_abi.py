"""Custom functions written for DeepStream's nvinfer, called unchanged through ctypes.

nvinfer's interface is C++ (``nvdsinfer_custom_impl.h``): parsers take ``std::vector`` and
``std::string`` references and grow their output vectors with libstdc++'s ``operator new``. Its
Itanium ABI is stable, so a function can be called without a C++ shim: a reference is a pointer,
a libstdc++ ``std::vector<T>`` is three pointers ``{begin, end, end_of_storage}`` and a (C++11-ABI)
``std::string`` is ``{data, length, 16-byte local buffer or capacity}``. dsflow builds those
headers over memory it owns (the layer vector once per set of layers and the detection params
once per params object, so that a call only sets data pointers), passes an empty output vector,
reads what the function put in it with one NumPy view and frees that memory as nvinfer would:
vector storage and ``std::string`` buffers with ``operator delete``, instance masks with
``operator delete[]``, attribute labels with ``free``.

:func:`wrap` returns a callable with exactly the Python contract of the function's registry family,
called once per sample as nvinfer calls it (there is no ``parse_batch``). Engine creators and model
parsers need live TensorRT objects and are refused until dsflow has a TensorRT backend.
"""

from __future__ import annotations

import ctypes
import functools
import math
import re
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dsflow.cuda import to_numpy
from dsflow.errors import EngineError, PluginError
from dsflow.frame import Attribute
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo
from dsflow.native._memory import address

MAX_DIMS = 8
"""``NVDSINFER_MAX_DIMS``."""

DATA_TYPES = {
    np.dtype(np.float32): 0,  # FLOAT
    np.dtype(np.float16): 1,  # HALF
    np.dtype(np.int8): 2,  # INT8
    np.dtype(np.int32): 3,  # INT32
    np.dtype(np.int64): 4,  # INT64 (DeepStream 9.0)
    np.dtype(np.uint8): 5,  # UINT8 (DeepStream 9.0)
}
"""``NvDsInferDataType`` of each NumPy dtype (``bool`` layers are passed as UINT8)."""

FAMILIES = ("bbox_parsers", "instance_mask_parsers", "classifier_parsers", "segmentation_parsers", "input_initializers")
"""Registry families whose nvinfer functions dsflow can call."""

TENSORRT_FAMILIES = {
    "engine_creators": "NvDsInferEngineCreateCustomFunc (it builds the engine with a TensorRT IBuilder)",
    "model_parsers": "NvDsInferCreateModelParser (its IModelParser fills a TensorRT INetworkDefinition)",
}

# -- the C structs (nvdsinfer.h; sizes asserted below) ----------------------------------------------


class NvDsInferDims(ctypes.Structure):
    _fields_ = [("numDims", ctypes.c_uint), ("d", ctypes.c_uint * MAX_DIMS), ("numElements", ctypes.c_uint)]


class NvDsInferDimsCHW(ctypes.Structure):
    _fields_ = [("c", ctypes.c_uint), ("h", ctypes.c_uint), ("w", ctypes.c_uint)]


class _LayerDims(ctypes.Union):
    _fields_ = [("inferDims", NvDsInferDims), ("dims", NvDsInferDims)]


class NvDsInferLayerInfo(ctypes.Structure):
    _anonymous_ = ("_dims",)
    _fields_ = [
        ("dataType", ctypes.c_int),
        ("_dims", _LayerDims),
        ("bindingIndex", ctypes.c_int),
        ("layerName", ctypes.c_void_p),
        ("buffer", ctypes.c_void_p),
        ("isInput", ctypes.c_int),
    ]


class NvDsInferNetworkInfo(ctypes.Structure):
    _fields_ = [("width", ctypes.c_uint), ("height", ctypes.c_uint), ("channels", ctypes.c_uint)]


class NvDsInferObjectDetectionInfo(ctypes.Structure):
    _fields_ = [
        ("classId", ctypes.c_uint),
        ("left", ctypes.c_float),
        ("top", ctypes.c_float),
        ("width", ctypes.c_float),
        ("height", ctypes.c_float),
        ("detectionConfidence", ctypes.c_float),
    ]


class NvDsInferInstanceMaskInfo(ctypes.Structure):
    _fields_ = [
        *NvDsInferObjectDetectionInfo._fields_,
        ("mask", ctypes.c_void_p),
        ("mask_width", ctypes.c_uint),
        ("mask_height", ctypes.c_uint),
        ("mask_size", ctypes.c_uint),
    ]


class NvDsInferAttribute(ctypes.Structure):
    _fields_ = [
        ("attributeIndex", ctypes.c_uint),
        ("attributeValue", ctypes.c_uint),
        ("attributeConfidence", ctypes.c_float),
        ("attributeLabel", ctypes.c_void_p),
    ]


class NvDsInferDetectionParams(ctypes.Structure):
    _fields_ = [
        ("preClusterThreshold", ctypes.c_float),
        ("postClusterThreshold", ctypes.c_float),
        ("eps", ctypes.c_float),
        ("minBoxes", ctypes.c_int),
        ("groupThreshold", ctypes.c_int),
        ("minScore", ctypes.c_float),
        ("nmsIOUThreshold", ctypes.c_float),
        ("topK", ctypes.c_int),
    ]


# -- libstdc++ layouts ------------------------------------------------------------------------------


class StdVector(ctypes.Structure):
    """libstdc++ ``std::vector<T>``: ``size = (end - begin) / sizeof(T)``; all zero when empty."""

    _fields_ = [("begin", ctypes.c_size_t), ("end", ctypes.c_size_t), ("end_of_storage", ctypes.c_size_t)]


class StdString(ctypes.Structure):
    """libstdc++ C++11-ABI ``std::string``: short strings (up to 15 chars) live in ``local_buf`` (SSO)."""

    _fields_ = [("data", ctypes.c_size_t), ("length", ctypes.c_size_t), ("local_buf", ctypes.c_ubyte * 16)]


class NvDsInferParseDetectionParams(ctypes.Structure):
    """The C++ struct: two ``std::vector<float>`` and a reference member (a pointer to the first vector)."""

    _fields_ = [
        ("numClassesConfigured", ctypes.c_uint),
        ("perClassPreclusterThreshold", StdVector),
        ("perClassPostclusterThreshold", StdVector),
        ("perClassThreshold", ctypes.c_size_t),
    ]


_SIZES = {
    NvDsInferDims: 40,
    NvDsInferDimsCHW: 12,
    NvDsInferLayerInfo: 72,
    NvDsInferNetworkInfo: 12,
    NvDsInferObjectDetectionInfo: 24,
    NvDsInferInstanceMaskInfo: 48,
    NvDsInferAttribute: 24,
    NvDsInferDetectionParams: 32,
    StdVector: 24,
    StdString: 32,
    NvDsInferParseDetectionParams: 64,
}
for _struct, _size in _SIZES.items():
    assert ctypes.sizeof(_struct) == _size, (_struct.__name__, ctypes.sizeof(_struct), _size)
assert NvDsInferLayerInfo.bindingIndex.offset == 44
assert NvDsInferLayerInfo.isInput.offset == 64
assert NvDsInferInstanceMaskInfo.mask.offset == 24
assert NvDsInferAttribute.attributeLabel.offset == 16
assert NvDsInferParseDetectionParams.perClassPreclusterThreshold.offset == 8
assert NvDsInferParseDetectionParams.perClassThreshold.offset == 56
_PRECLUSTER_OFFSET = NvDsInferParseDetectionParams.perClassPreclusterThreshold.offset

OBJECT_DTYPE = np.dtype(
    {
        "names": ["classId", "left", "top", "width", "height", "detectionConfidence"],
        "formats": ["<u4", "<f4", "<f4", "<f4", "<f4", "<f4"],
        "offsets": [0, 4, 8, 12, 16, 20],
        "itemsize": 24,
    }
)
MASK_OBJECT_DTYPE = np.dtype(
    {
        "names": [*OBJECT_DTYPE.names, "mask", "mask_width", "mask_height", "mask_size"],
        "formats": [*(OBJECT_DTYPE.fields[n][0] for n in OBJECT_DTYPE.names), "<u8", "<u4", "<u4", "<u4"],
        "offsets": [*(OBJECT_DTYPE.fields[n][1] for n in OBJECT_DTYPE.names), 24, 32, 36, 40],
        "itemsize": 48,
    }
)
ATTRIBUTE_DTYPE = np.dtype(
    {
        "names": ["attributeIndex", "attributeValue", "attributeConfidence", "attributeLabel"],
        "formats": ["<u4", "<u4", "<f4", "<u8"],
        "offsets": [0, 4, 8, 16],
        "itemsize": 24,
    }
)
"""``NvDsInferObjectDetectionInfo``, ``NvDsInferInstanceMaskInfo`` and ``NvDsInferAttribute`` as NumPy records."""


# -- the C++ runtime nvinfer frees with ---------------------------------------------------------------


class _Runtime:
    """libstdc++'s ``operator delete`` / ``operator delete[]`` and libc's ``free``."""

    def __init__(self) -> None:
        try:
            stdcxx = ctypes.CDLL("libstdc++.so.6")
        except OSError as exc:
            msg = f"nvinfer custom functions need libstdc++.so.6 (the C++ runtime their memory comes from): {exc}"
            raise PluginError(msg) from None
        self.delete = stdcxx["_ZdlPv"]  # operator delete(void*)
        self.delete_array = stdcxx["_ZdaPv"]  # operator delete[](void*)
        self.free = ctypes.CDLL(None)["free"]
        for fn in (self.delete, self.delete_array, self.free):
            fn.argtypes, fn.restype = [ctypes.c_void_p], None


@functools.cache
def _runtime() -> _Runtime:
    return _Runtime()


# -- the library's dynamic symbols (only read to explain a problem) ------------------------------------

_SYMBOL_DTYPE = np.dtype(
    [("name", "<u4"), ("info", "u1"), ("other", "u1"), ("shndx", "<u2"), ("value", "<u8"), ("size", "<u8")]
)


def dynamic_symbols(path: str) -> dict[str, bool]:
    """Names in a 64-bit little-endian ELF file's ``.dynsym``, each with whether the file defines it.

    Empty when the file cannot be read or is not such an ELF file.
    """
    try:
        data = Path(path).read_bytes()
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            return {}
        shoff, shentsize, shnum = struct.unpack_from("<Q", data, 0x28)[0], *struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
        for _, kind, _, _, offset, size, link, *_ in sections:
            if kind == 11:  # SHT_DYNSYM
                strings = data[sections[link][4] : sections[link][4] + sections[link][5]]
                symbols = np.frombuffer(data, _SYMBOL_DTYPE, size // _SYMBOL_DTYPE.itemsize, offset)
                return {
                    strings[start : strings.index(b"\0", start)].decode("utf-8", "replace"): shndx != 0
                    for start, shndx in zip(symbols["name"].tolist(), symbols["shndx"].tolist(), strict=True)
                    if start
                }
    except (OSError, ValueError, IndexError, struct.error):
        pass
    return {}


def _mangled(symbols: dict[str, bool], name: str) -> list[str]:
    """Defined C++ symbols whose mangled name holds ``name`` as an identifier (``_Z<len><name>...``)."""
    identifier = re.compile(rf"(?<![0-9]){len(name)}{re.escape(name)}")
    return sorted(s for s, defined in symbols.items() if defined and s.startswith("_Z") and identifier.search(s))


def _old_string_abi(symbols: dict[str, bool]) -> bool:
    """Whether the library uses only the pre-C++11 ``std::string`` (built with ``_GLIBCXX_USE_CXX11_ABI=0``)."""
    old = any(s.startswith(("_ZNSs", "_ZNKSs")) for s in symbols)
    return old and not any("__cxx11" in s for s in symbols)


# -- wrapping ----------------------------------------------------------------------------------------


def library_path(lib: ctypes.CDLL) -> str:
    return str(getattr(lib, "_name", lib))


def wrap(lib: ctypes.CDLL, name: str, family: str) -> Any:
    """The nvinfer function ``name`` of ``lib`` as a callable with the Python contract of ``family``.

    Raises :class:`PluginError` for a missing symbol, a family dsflow cannot call with this ABI yet
    (engine creators and model parsers need TensorRT) and a classifier built with the old
    ``std::string`` ABI.
    """
    path = library_path(lib)
    where = f"custom function {name} ({path})"
    if family not in FAMILIES and family not in TENSORRT_FAMILIES:
        known = ", ".join((*FAMILIES, *TENSORRT_FAMILIES))
        msg = f"{where}: no nvinfer function type for the family {family!r} (expected one of {known})"
        raise PluginError(msg)
    symbol = _symbol_address(lib, name, where, path)
    if family in TENSORRT_FAMILIES:
        msg = (
            f"{where}: nvinfer's {TENSORRT_FAMILIES[family]} needs the TensorRT backend, which dsflow does not have "
            "yet; export the model to ONNX and set onnx-file, or provide the function for dsflow (a Python plugin, "
            "or dsflow's C ABI)"
        )
        raise PluginError(msg)
    if family == "classifier_parsers" and _old_string_abi(dynamic_symbols(path)):
        msg = (
            f"{where}: the library was built with the pre-C++11 std::string (_GLIBCXX_USE_CXX11_ABI=0), but "
            "dsflow passes the descString of a classifier as a C++11-ABI std::string; rebuild it with the "
            "compiler's default ABI"
        )
        raise PluginError(msg)
    _runtime()  # fail now, not at the first call, if libstdc++ is missing
    return _WRAPPERS[family](symbol, name, path)


def _symbol_address(lib: ctypes.CDLL, name: str, where: str, path: str) -> int:
    try:
        return ctypes.cast(lib[name], ctypes.c_void_p).value or 0
    except AttributeError:
        pass
    hint = (
        'nvinfer looks functions up by their plain name: declare it extern "C" (or follow its definition with '
        "the CHECK_CUSTOM_*_PROTOTYPE macro of nvdsinfer_custom_impl.h); a C++-mangled name is the usual cause"
    )
    mangled = _mangled(dynamic_symbols(path), name)
    if mangled:
        hint = f"found only a C++-mangled symbol ({', '.join(mangled[:3])}); {hint}"
    msg = f"{where}: the library has no symbol {name!r}: {hint}"
    raise PluginError(msg)


# -- helpers ------------------------------------------------------------------------------------------


def _contiguous(array: Any) -> np.ndarray:
    """A C-contiguous host array (0-d arrays stay 0-d: a per-sample scalar has ``numDims`` 0)."""
    array = to_numpy(array)
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def _vector_over(array: np.ndarray) -> StdVector:
    """A vector header over memory dsflow owns (the callee only reads it)."""
    begin = address(array)
    end = begin + array.nbytes
    return StdVector(begin, end, end)


_COLUMNS = ("class_id", "left", "top", "width", "height", "confidence")
_OBJECT_WORDS = OBJECT_DTYPE.itemsize // 4
assert OBJECT_DTYPE.names == ("classId", "left", "top", "width", "height", "detectionConfidence")
assert all(OBJECT_DTYPE[i].itemsize == 4 for i in range(_OBJECT_WORDS))


_INFO_SIZE = ctypes.sizeof(NvDsInferLayerInfo)
_BUFFER_OFFSET = NvDsInferLayerInfo.buffer.offset

MAX_CACHED_VECTORS = 16
"""Layer vectors a wrapper keeps per thread: one per set of layer names, dims and dtypes it was called with."""


class _LayerVector:
    """A ``std::vector<NvDsInferLayerInfo>`` for one set of layers, reused across calls.

    Types, dims, element counts, binding indexes and names are written once (that was about half
    the cost of a call); :meth:`point` sets the ``buffer`` pointers for a call. With ``batch`` the
    arrays hold samples first and ``inferDims`` describes one of them (input initializers).
    """

    def __init__(self, where: str, layers: Sequence[Layer], arrays: Sequence[np.ndarray], batch: bool = False) -> None:
        count = len(layers)
        self.infos = infos = (NvDsInferLayerInfo * max(count, 1))()
        self.names: list[Any] = []  # the layerName strings, alive as long as the vector
        for i, (layer, data) in enumerate(zip(layers, arrays, strict=True)):
            code = DATA_TYPES.get(data.dtype, 5 if data.dtype == np.bool_ else None)
            if code is None or not data.dtype.isnative:
                known = ", ".join(str(d) for d in DATA_TYPES)
                msg = (
                    f"{where}: layer {layer.name!r} has dtype {data.dtype}, which nvinfer's NvDsInferDataType "
                    f"cannot describe (expected one of {known})"
                )
                raise EngineError(msg)
            dims = data.shape[1:] if batch else data.shape
            if len(dims) > MAX_DIMS:
                msg = f"{where}: layer {layer.name!r} has {len(dims)} dims {dims}, nvinfer allows {MAX_DIMS}"
                raise EngineError(msg)
            name = ctypes.create_string_buffer(layer.name.encode())
            self.names.append(name)
            info = infos[i]
            info.dataType = code
            info.inferDims.numDims = len(dims)
            info.inferDims.d[: len(dims)] = dims
            info.inferDims.numElements = math.prod(dims)
            info.bindingIndex = layer.index
            info.layerName = ctypes.addressof(name)
            info.isInput = int(layer.is_input)
        # A c_void_p over each buffer field: setting its value is all a call has to do.
        self.buffers = [ctypes.c_void_p.from_buffer(infos, i * _INFO_SIZE + _BUFFER_OFFSET) for i in range(count)]
        begin = ctypes.addressof(infos)
        end = begin + count * _INFO_SIZE
        self.header = StdVector(begin, end, end) if count else StdVector()
        self.address = ctypes.addressof(self.header)
        """What to pass for the ``std::vector<NvDsInferLayerInfo> const &``."""

    def point(self, arrays: Sequence[np.ndarray]) -> None:
        """Point each layer's ``buffer`` at its array (C-contiguous host memory the caller keeps alive)."""
        for slot, data in zip(self.buffers, arrays, strict=True):
            slot.value = address(data)


class _PerThread(threading.local):
    """The structs a wrapper's calls reuse, one set per thread: a call writes its data pointers into them."""

    def __init__(self) -> None:
        self.vectors: dict[tuple[Any, ...], _LayerVector] = {}
        self.network: tuple[NetworkInfo, int, NvDsInferNetworkInfo] | None = None
        self.params: tuple[DetectionParams, int, NvDsInferParseDetectionParams] | None = None


class _Function:
    """One nvinfer function of a custom library; subclasses give its prototype and Python contract."""

    argtypes: tuple[Any, ...] = ()
    kind = ""

    def __init__(self, address: int, name: str, path: str) -> None:
        self.name = self.__name__ = name
        self.library = path
        self.where = f"custom function {name} ({path})"
        self.fn = ctypes.CFUNCTYPE(ctypes.c_bool, *self.argtypes)(address)
        self._reused = _PerThread()

    def __repr__(self) -> str:
        return f"<nvinfer {self.kind} {self.name} from {self.library}>"

    def _failed(self) -> EngineError:
        return EngineError(f"{self.where} returned false")

    def _layers(self, layers: Sequence[Layer], arrays: Sequence[np.ndarray]) -> _LayerVector:
        """The vector for one sample's layers, pointed at ``arrays`` (their data as C-contiguous host arrays).

        Vectors are kept by the layers' names, dims, dtypes, binding indexes and input flags, as a
        parser sees the same ones on every call. The caller keeps ``arrays`` alive over the call.
        """
        key = tuple([(ly.name, a.shape, a.dtype, ly.index, ly.is_input) for ly, a in zip(layers, arrays, strict=True)])
        vectors = self._reused.vectors
        vector = vectors.get(key)
        if vector is None:
            if len(vectors) >= MAX_CACHED_VECTORS:
                vectors.clear()  # layers whose shapes keep changing: do not hold on to every vector
            vector = vectors[key] = _LayerVector(self.where, layers, arrays)
        vector.point(arrays)
        return vector

    def _network(self, network: NetworkInfo) -> int:
        """The address of ``network`` as nvinfer's struct, made once per (frozen) ``NetworkInfo`` object."""
        reused = self._reused
        cached = reused.network
        if cached is None or cached[0] is not network:
            struct_ = NvDsInferNetworkInfo(int(network.width), int(network.height), int(network.channels))
            cached = reused.network = (network, ctypes.addressof(struct_), struct_)
        return cached[1]

    def _records(self, vector: StdVector, dtype: np.dtype) -> np.ndarray:
        """The ``[begin, end)`` records of an output vector, copied; its storage freed with ``operator delete``."""
        begin, end = vector.begin, vector.end
        if not begin:
            return np.zeros(0, dtype)
        try:
            size = end - begin
            if size < 0 or size % dtype.itemsize:
                msg = (
                    f"{self.where} returned a vector of {size} bytes, not a whole number of {dtype.itemsize}-byte "
                    "records: was it built against another nvdsinfer.h?"
                )
                raise EngineError(msg)
            return np.frombuffer(ctypes.string_at(begin, size), dtype)
        finally:
            _runtime().delete(begin)


class BboxParser(_Function):
    """``NvDsInferParseCustomFunc``: ``parser(layers, network, params, *, xp, stream) -> Detections``."""

    kind = "bbox parser"
    argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
    record = OBJECT_DTYPE

    def __call__(
        self, outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np,
        stream: Any = None,
    ) -> Detections:  # fmt: skip
        arrays = [_contiguous(layer.data) for layer in outputs]
        vector = self._layers(outputs, arrays)
        block, keep = self._detection_params(params)
        out = StdVector()
        ok = self.fn(vector.address, self._network(network), block, ctypes.byref(out))
        del arrays, keep
        detections = self._detections(self._records(out, self.record))
        if not ok:
            raise self._failed()
        return detections

    def _detection_params(self, params: DetectionParams) -> tuple[int, tuple[Any, ...]]:
        """The address of ``params`` as nvinfer's struct, and what keeps its memory alive over the call.

        The parse node passes one ``params`` object to every call, so the struct is made once per
        object when its thresholds are float32 host arrays already: it points into them, so edits of
        their values are still seen. Otherwise it is made per call, over converted copies.
        """
        reused = self._reused
        cached = reused.params
        if cached is not None and cached[0] is params:
            return cached[1], ()
        pre = np.ascontiguousarray(to_numpy(params.pre_cluster_threshold), np.float32)
        post = np.ascontiguousarray(to_numpy(params.post_cluster_threshold), np.float32)
        block = NvDsInferParseDetectionParams(int(params.num_classes), _vector_over(pre), _vector_over(post))
        address = ctypes.addressof(block)
        block.perClassThreshold = address + _PRECLUSTER_OFFSET  # the reference member
        if pre is params.pre_cluster_threshold and post is params.post_cluster_threshold:
            reused.params = (params, address, block)  # params keeps the arrays alive
            return address, ()
        return address, (block, pre, post)

    def _detections(self, rows: np.ndarray, masks: Any = None) -> Detections:
        """Columns of the records' ``NvDsInferObjectDetectionInfo`` fields, all from one transposed copy."""
        if not len(rows):  # no objects (the usual sample): new empty columns cost half of cutting them
            return Detections.from_columns(
                np.empty(0, np.int32), *(np.empty(0, np.float32) for _ in range(5)), masks=masks
            )
        words = rows.view(np.uint32).reshape(len(rows), rows.itemsize // 4)
        block = words[:, :_OBJECT_WORDS].T.copy()  # rows classId, left, top, width, height, detectionConfidence
        return Detections.from_columns(block[0].view(np.int32), *block[1:].view(np.float32), masks=masks)


class InstanceMaskParser(BboxParser):
    """``NvDsInferInstanceMaskParseCustomFunc``: detections with ``masks``.

    Masks are copied out and released with ``operator delete[]``. They form one float32 array
    ``(N, mask_height, mask_width)`` when all have one size (the usual case), else a list of
    ``(mask_height, mask_width)`` arrays (an empty ``(0, 0)`` one for a NULL mask).
    """

    kind = "instance-mask parser"
    record = MASK_OBJECT_DTYPE

    def _detections(self, rows: np.ndarray, masks: Any = None) -> Detections:
        pointers = rows["mask"]
        try:
            masks = self._masks(rows)
        finally:
            runtime = _runtime()
            for pointer in np.unique(pointers[pointers != 0]).tolist():
                runtime.delete_array(pointer)
        return super()._detections(rows, masks)

    def _masks(self, rows: np.ndarray) -> np.ndarray | list[np.ndarray]:
        pointers, width, height = rows["mask"], rows["mask_width"], rows["mask_height"]
        need = width.astype(np.uint64) * height * 4
        short = (pointers != 0) & (rows["mask_size"] < need)
        if short.any():
            i = int(np.flatnonzero(short)[0])
            msg = (
                f"{self.where}: object {i} has a {width[i]}x{height[i]} mask but mask_size {rows['mask_size'][i]} "
                f"(expected at least {need[i]} bytes: mask_size counts bytes)"
            )
            raise EngineError(msg)
        n = len(rows)
        if n and (pointers != 0).all() and (width == width[0]).all() and (height == height[0]).all():
            masks = np.empty((n, int(height[0]), int(width[0])), np.float32)
            size = masks[0].nbytes
            for i, pointer in enumerate(pointers.tolist()):
                ctypes.memmove(masks[i].ctypes.data, pointer, size)
            return masks
        listed = []
        for pointer, h, w in zip(pointers.tolist(), height.tolist(), width.tolist(), strict=True):
            mask = np.empty((h, w) if pointer else (0, 0), np.float32)
            if pointer:
                ctypes.memmove(mask.ctypes.data, pointer, mask.nbytes)
            listed.append(mask)
        return listed


class Attributes(list):  # type: ignore[type-arg]
    """A classifier's attributes, with the ``descString`` the function wrote.

    nvinfer attaches a classifier's result only when this description is not empty.
    """

    description: str = ""


class ClassifierParser(_Function):
    """``NvDsInferClassiferParseCustomFunc``: ``parser(layers, network, threshold, *, xp, stream) -> list[Attribute]``.

    The result is an :class:`Attributes` list whose ``description`` is the function's ``descString``.
    Labels (``strdup``) are released with ``free``, a heap-allocated ``descString`` with ``operator delete``.
    """

    kind = "classifier parser"
    argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_float, ctypes.c_void_p, ctypes.c_void_p)

    def __call__(
        self, outputs: Sequence[Layer], network: NetworkInfo, threshold: float, *, xp: Any = np, stream: Any = None
    ) -> Attributes:
        arrays = [_contiguous(layer.data) for layer in outputs]
        vector = self._layers(outputs, arrays)
        out = StdVector()
        desc = StdString()
        local = ctypes.addressof(desc) + StdString.local_buf.offset
        desc.data = local  # an empty string: its data is its own local buffer
        ok = self.fn(vector.address, self._network(network), float(threshold), ctypes.byref(out), ctypes.byref(desc))
        del arrays
        try:
            rows = self._records(out, ATTRIBUTE_DTYPE)
        finally:
            description = self._take_string(desc, local)
        labels = self._labels(rows["attributeLabel"])
        result = Attributes(
            Attribute(label, class_id=value, confidence=confidence, index=index)
            for label, value, confidence, index in zip(
                labels, rows["attributeValue"].tolist(), rows["attributeConfidence"].tolist(),
                rows["attributeIndex"].tolist(), strict=True,
            )
        )  # fmt: skip
        result.description = description
        if not ok:
            raise self._failed()
        return result

    @staticmethod
    def _labels(pointers: np.ndarray) -> list[str]:
        """Each label's text ("" for NULL); every label released with ``free``."""
        labels = []
        free = _runtime().free
        for pointer in pointers.tolist():
            if pointer:
                labels.append(ctypes.string_at(pointer).decode("utf-8", "replace"))
                free(pointer)
            else:
                labels.append("")
        return labels

    @staticmethod
    def _take_string(desc: StdString, local: int) -> str:
        """The text of a ``std::string`` the callee wrote; its buffer released unless it is the local one."""
        data = desc.data
        try:
            return ctypes.string_at(data, desc.length).decode("utf-8", "replace") if data else ""
        finally:
            if data and data != local:
                _runtime().delete(data)


class SegmentationParser(_Function):
    """``NvDsInferSemSegmentationParseCustomFunc``:
    ``parser(layers, network, threshold, *, xp, stream, order) -> (class_map, probabilities)``.

    The class map (``H × W`` int32, prefilled with −1) and ``numClasses`` are sized from output layer 0
    (``[C, H, W]``, or ``[H, W, C]`` for ``order`` 1), as nvinfer sizes its built-in map. A
    ``classProbabilityMap`` the function points into one of the layers is returned as a view of that
    layer (no copy, as nvinfer); any other non-NULL pointer is copied (``C·H·W`` floats, shaped like
    layer 0) and left to the function, which owns it.
    """

    kind = "segmentation parser"
    argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_float, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p)

    def __call__(
        self, outputs: Sequence[Layer], network: NetworkInfo, threshold: float, *, xp: Any = np, stream: Any = None,
        order: int = 0,
    ) -> tuple[np.ndarray, Any]:  # fmt: skip
        arrays = [_contiguous(layer.data) for layer in outputs]
        if not arrays or arrays[0].ndim != 3 or order not in (0, 1):
            dims = arrays[0].shape if arrays else "no layers"
            msg = f"{self.where}: output layer 0 has dims {dims} and order {order}; expected 3 dims and order 0 or 1"
            raise EngineError(msg)
        first = arrays[0]
        classes, height, width = first.shape if order == 0 else (first.shape[2], *first.shape[:2])
        vector = self._layers(outputs, arrays)
        class_map = np.full((height, width), -1, np.int32)
        probabilities = ctypes.c_void_p()
        ok = self.fn(vector.address, self._network(network), float(threshold), classes, address(class_map),
                     ctypes.byref(probabilities))  # fmt: skip
        if not ok:
            raise self._failed()
        return class_map, self._probabilities(probabilities.value, arrays, first.shape)

    @staticmethod
    def _probabilities(pointer: int | None, arrays: Sequence[np.ndarray], shape: tuple[int, ...]) -> Any:
        """None, a view of the layer the pointer points into, or a copy of the function's own buffer."""
        if not pointer:
            return None
        count = math.prod(shape)
        for data in arrays:
            offset = pointer - data.ctypes.data
            if data.dtype == np.float32 and 0 <= offset and offset % 4 == 0 and offset + count * 4 <= data.nbytes:
                return data.reshape(-1)[offset // 4 : offset // 4 + count].reshape(shape)
        return np.frombuffer(ctypes.string_at(pointer, count * 4), np.float32).reshape(shape).copy()


class InputInitializer(_Function):
    """``NvDsInferInitializeInputLayers``: ``init(layers, network, max_batch_size, *, xp, stream) -> {name: array}``.

    Each layer's array ``(max_batch_size, *dims)`` is the buffer the function fills (in place when it
    is a writable C-contiguous NumPy array, else in a copy that is returned); ``inferDims`` is one
    sample's dims, as nvinfer passes them.
    """

    kind = "input initializer"
    argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint)

    def __call__(
        self, layers: Sequence[Layer], network: NetworkInfo, max_batch_size: int, *, xp: Any = np, stream: Any = None
    ) -> dict[str, np.ndarray]:
        ready = []
        for layer in layers:
            data = layer.data
            if not (isinstance(data, np.ndarray) and data.flags.c_contiguous and data.flags.writeable):
                data = np.array(to_numpy(data), order="C")
            if data.ndim < 1 or data.shape[0] < max_batch_size:
                msg = (
                    f"{self.where}: input layer {layer.name!r} has shape {data.shape}, expected "
                    f"({max_batch_size}, ...): room for max_batch_size samples"
                )
                raise EngineError(msg)
            ready.append(Layer(layer.name, data, layer.index, True))
        arrays = [layer.data for layer in ready]
        vector = _LayerVector(self.where, ready, arrays, batch=True)  # once per engine: not kept
        vector.point(arrays)
        ok = self.fn(vector.address, self._network(network), int(max_batch_size))
        if not ok:
            raise self._failed()
        return {layer.name: layer.data for layer in ready}


_WRAPPERS: dict[str, type[_Function]] = {
    "bbox_parsers": BboxParser,
    "instance_mask_parsers": InstanceMaskParser,
    "classifier_parsers": ClassifierParser,
    "segmentation_parsers": SegmentationParser,
    "input_initializers": InputInitializer,
}
