"""nvinfer configuration: DeepStream config files (key-file and YAML), inline keys in graphs, overrides.

Every value goes through :mod:`dsflow.infer.config` as a node would read it; errors are checked by
their whole message (``file:line: key: what is wrong``). Where the GLib typing rules matter the
expected values are those of GLib 2.74's ``g_key_file_*`` getters.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from onnx_models import identity_model

import dsflow
from dsflow.errors import ConfigError
from dsflow.infer import config as nvconfig
from dsflow.infer.cluster import ClassAttrs
from dsflow.infer.config import InferConfig
from dsflow.infer.keys import CLASS_KEYS, PROPERTY, PROPERTY_KEYS
from dsflow.yamlfile import Location

HEADER = "[property]\ngie-unique-id=1\nonnx-file=model.onnx\n"
"""Three lines: a test's own keys start on line 4."""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A config folder holding a real ONNX model, a labels file and a mean image."""
    folder = Path(os.path.realpath(tmp_path)) / "configs"  # resolved paths compare equal to it
    folder.mkdir()
    (folder / "model.onnx").write_bytes(identity_model(["n", 3, 4, 4]))
    (folder / "labels.txt").write_text("car\nperson\n", encoding="utf-8")
    (folder / "mean.ppm").write_bytes(b"P6\n4 4\n255\n" + bytes(48))
    return folder


def write(folder: Path, text: str, name: str = "pgie.txt") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path) -> InferConfig:
    return nvconfig.build_config(nvconfig.read_config_file(path))


def load_text(folder: Path, body: str, header: str = HEADER) -> InferConfig:
    return load(write(folder, header + body))


def error_of(folder: Path, body: str, header: str = HEADER, name: str = "pgie.txt") -> str:
    path = write(folder, header + body, name)
    with pytest.raises(ConfigError) as info:
        load(path)
    return str(info.value)


def values(cfg: InferConfig) -> dict[str, Any]:
    return {key: setting.value for key, setting in cfg.settings.items()}


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# -- value typing (GLib's getters) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        ("batch-size=4 # four frames a batch", "batch-size", 4),
        ("batch-size=  +8\t", "batch-size", 8),
        ("operate-on-gie-id=-3", "operate-on-gie-id", -3),
        ("maintain-aspect-ratio=true", "maintain-aspect-ratio", True),
        ("maintain-aspect-ratio=1  ", "maintain-aspect-ratio", True),
        ("maintain-aspect-ratio=false", "maintain-aspect-ratio", False),
        ("maintain-aspect-ratio=0", "maintain-aspect-ratio", False),
        ("net-scale-factor=.5", "net-scale-factor", 0.5),
        ("net-scale-factor=1e-3", "net-scale-factor", 0.001),
        ("net-scale-factor=0.0039215697906911373", "net-scale-factor", 0.0039215697906911373),
        ("operate-on-class-ids=1; 2 ;3", "operate-on-class-ids", [1, 2, 3]),
        ("operate-on-class-ids=1;2;", "operate-on-class-ids", [1, 2]),
        ("offsets=123.675;116.28;103.53", "offsets", [123.675, 116.28, 103.53]),
        ("offsets=1; 2;3", "offsets", [1.0, 2.0, 3.0]),  # strtod skips leading blanks
        ("output-blob-names=boxes;scores;", "output-blob-names", ["boxes", "scores"]),
        ("classifier-type=car color  ", "classifier-type", "car color  "),  # trailing blanks are kept
        (r"classifier-type=a\sb\tc\\d", "classifier-type", "a b\tc\\d"),
    ],
)
def test_values_are_typed_as_glib_reads_them(folder: Path, line: str, key: str, value: Any) -> None:
    cfg = load_text(folder, line + "\n")
    assert cfg[key] == value
    assert type(cfg[key]) is type(value)
    assert cfg.where(key) == Location(str(folder / "pgie.txt"), 4)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("batch-size=1.0", "batch-size: expected an integer (got '1.0')"),
        ("batch-size=0x10", "batch-size: expected an integer (got '0x10')"),
        ("batch-size=2147483648", "batch-size: expected an integer (got '2147483648')"),
        ("batch-size=four", "batch-size: expected an integer (got 'four')"),
        ("maintain-aspect-ratio=True", "maintain-aspect-ratio: expected true, false, 1 or 0 (got 'True')"),
        ("maintain-aspect-ratio=yes", "maintain-aspect-ratio: expected true, false, 1 or 0 (got 'yes')"),
        ("maintain-aspect-ratio=true # x", "maintain-aspect-ratio: expected true, false, 1 or 0 (got 'true # x')"),
        ("net-scale-factor=0.5 ", "net-scale-factor: expected a number (got '0.5 ')"),
        ("net-scale-factor=1/255", "net-scale-factor: expected a number (got '1/255')"),
        ("net-scale-factor=0.5 # x", "net-scale-factor: expected a number (got '0.5 # x')"),
        (
            "operate-on-class-ids=1;;2",
            "operate-on-class-ids: expected a ';'-separated list of integers, element 2 is '' (got '1;;2')",
        ),
        ("offsets=1 ;2", "offsets: expected a ';'-separated list of numbers, element 1 is '1 ' (got '1 ;2')"),
        ("offsets=1;2 ", "offsets: expected a ';'-separated list of numbers, element 2 is '2 ' (got '1;2 ')"),
        (r"classifier-type=a\;b", r"classifier-type: expected a string with escapes \s \n \t \r \\ only (got 'a\;b')"),
    ],
)
def test_values_glib_rejects_are_located_errors(folder: Path, line: str, expected: str) -> None:
    assert error_of(folder, line + "\n") == f"{folder / 'pgie.txt'}:4: {expected}"


def test_class_attrs_values_are_typed_too(folder: Path) -> None:
    body = "num-detected-classes=1\n[class-attrs-all]\ntopk=3 # keep three\nnms-iou-threshold=0.5 \n"
    assert error_of(folder, body) == f"{folder / 'pgie.txt'}:7: nms-iou-threshold: expected a number (got '0.5 ')"


# -- file semantics ------------------------------------------------------------------------------


def test_last_duplicate_key_wins_and_is_located_there(folder: Path) -> None:
    cfg = load_text(folder, "batch-size=2\ninterval=1\nbatch-size=6\n")
    assert (cfg["batch-size"], cfg["interval"]) == (6, 1)
    assert cfg.where("batch-size").line == 6


def test_duplicate_groups_are_merged(folder: Path) -> None:
    text = HEADER + "num-detected-classes=2\n[class-attrs-all]\ntopk=4\n"
    text += "[property]\nbatch-size=3\n[class-attrs-all]\neps=0.5\n"
    cfg = load(write(folder, text))
    assert cfg["batch-size"] == 3
    assert cfg["num-detected-classes"] == 2
    assert cfg.default_attrs == ClassAttrs(topk=4, eps=0.5)
    assert cfg.class_attrs == [ClassAttrs(topk=4, eps=0.5)] * 2


def test_a_bad_earlier_duplicate_is_never_read(folder: Path) -> None:
    """GLib returns the last value for every read of a duplicated key, so an earlier bad one is harmless."""
    assert load_text(folder, "batch-size=zero\nbatch-size=2\n")["batch-size"] == 2


@pytest.mark.parametrize(
    ("group", "threshold"),
    [
        ("pre-cluster-threshold=0.3\nthreshold=0.5\n", 0.5),
        ("threshold=0.5\npre-cluster-threshold=0.3\n", 0.3),
        # nvinfer handles a repeated key at each of its places, reading its last value each time
        ("threshold=0.5\npre-cluster-threshold=0.3\nthreshold=0.7\n", 0.7),
        ("pre-cluster-threshold=0.3\nthreshold=0.5\npre-cluster-threshold=0.2\n", 0.2),
    ],
)
def test_keys_are_processed_in_file_order(folder: Path, group: str, threshold: float) -> None:
    """``threshold`` and ``pre-cluster-threshold`` set the same value: the one handled last wins."""
    cfg = load_text(folder, "num-detected-classes=1\n[class-attrs-all]\n" + group)
    assert cfg.class_attrs == [ClassAttrs(pre_cluster_threshold=threshold)]


def test_defaults_of_absent_keys(folder: Path) -> None:
    cfg = load_text(folder, "")
    assert values(cfg) == {"gie-unique-id": 1, "onnx-file": str(folder / "model.onnx")}
    assert (cfg["process-mode"], cfg["batch-size"], cfg["net-scale-factor"], cfg["scaling-filter"]) == (1, 1, 1.0, 6)
    assert (cfg["operate-on-gie-id"], cfg["secondary-reinfer-interval"], cfg["cluster-mode"]) == (-1, 2**31 - 1, 0)
    assert cfg["offsets"] is None
    assert cfg.class_attrs == []  # num-detected-classes 0
    assert cfg.default_attrs == ClassAttrs()


def test_unknown_keys_are_warnings_with_file_line_and_key(folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dsflow.nvinfer")
    body = "batchsize=4\nparse-func=0\ndisable-output-host-copy=1\nnum-detected-classes=1\n[class-attrs-all]\ntop-k=2\n"
    cfg = load_text(folder, body)
    path = folder / "pgie.txt"
    assert warnings(caplog) == [
        f"{path}:4: warning: unknown or legacy key 'batchsize' in [property], ignored (did you mean 'batch-size'?)",
        f"{path}:5: warning: unknown or legacy key 'parse-func' in [property], ignored (legacy key)"
        " (did you mean 'parse-bbox-func-name'?)",
        f"{path}:6: warning: unknown or legacy key 'disable-output-host-copy' in [property], ignored"
        " (DeepStream 6.3 does not read it either)",
        f"{path}:9: warning: unknown or legacy key 'top-k' in [class-attrs-all], ignored (did you mean 'topk'?)",
    ]
    assert set(cfg.settings) == {"gie-unique-id", "onnx-file", "num-detected-classes"}
    assert cfg.class_attrs == [ClassAttrs()]


def test_other_groups_are_ignored_silently(folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = load_text(folder, "[tracker]\nanything=at all\n[property]\nbatch-size=2\n")
    assert cfg["batch-size"] == 2
    assert warnings(caplog) == []


def test_config_without_property_group(folder: Path) -> None:
    path = write(folder, "[class-attrs-all]\ntopk=1\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: the config file has no [property] group"


def test_config_file_not_found(folder: Path) -> None:
    with pytest.raises(ConfigError) as info:
        nvconfig.read_config_file(folder / "nope.txt")
    assert str(info.value) == f"{folder / 'nope.txt'}: nvinfer config file not found"


def test_key_file_syntax_errors_are_located(folder: Path) -> None:
    assert error_of(folder, "just words\n") == (
        f"{folder / 'pgie.txt'}:4: expected a '[group]' header, a 'key=value' line or a '#' comment (got 'just words')"
    )
    assert error_of(folder, "", header="batch-size=1\n[property]\n") == (
        f"{folder / 'pgie.txt'}:1: key 'batch-size' comes before any group: expected a '[group]' header first"
    )


# -- paths ---------------------------------------------------------------------------------------


def test_paths_are_resolved_relative_to_the_config_file(tmp_path: Path) -> None:
    configs = tmp_path / "deploy" / "configs"
    (configs / "models").mkdir(parents=True)
    (configs / "models" / "det.onnx").write_bytes(identity_model(["n", 3, 4, 4]))
    (configs / "labels.txt").write_text("a\n", encoding="utf-8")
    (tmp_path / "deploy" / "mean.ppm").write_bytes(b"P6\n4 4\n255\n" + bytes(48))
    text = (
        "[property]\ngie-unique-id=1\nonnx-file=models/det.onnx\nlabelfile-path=./labels.txt\n"
        "mean-file=../mean.ppm\ncustom-lib-path=lib/libparsers.so\ncustom-network-config=yolo.cfg\n"
        "parse-bbox-func-name=NvDsInferParseYolo\nengine-create-func-name=build/engine\n"
        "model-engine-file=models/det.onnx_b1_gpu0_fp32.engine\n"
    )
    cfg = load(write(configs, text))
    real = os.path.realpath
    assert cfg["onnx-file"] == real(configs / "models" / "det.onnx")
    assert cfg["labelfile-path"] == real(configs / "labels.txt")  # realpath drops the './'
    assert cfg["mean-file"] == real(tmp_path / "deploy" / "mean.ppm")  # and the '..'
    assert cfg["custom-lib-path"] == str(configs / "lib" / "libparsers.so")  # missing: joined, not resolved
    assert cfg["model-engine-file"] == str(configs / "models" / "det.onnx_b1_gpu0_fp32.engine")
    assert cfg["custom-network-config"] == "yolo.cfg"  # handed to custom code verbatim
    assert cfg["parse-bbox-func-name"] == "NvDsInferParseYolo"
    assert cfg["engine-create-func-name"] == "build/engine"


def test_absolute_paths_are_kept(folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "m.onnx").write_bytes(identity_model(["n", 3, 4, 4]))
    cfg = load_text(folder, f"onnx-file={other / 'm.onnx'}\ncustom-lib-path=/opt/lib/libx.so\n")
    assert cfg["onnx-file"] == os.path.realpath(other / "m.onnx")
    assert cfg["custom-lib-path"] == "/opt/lib/libx.so"


def test_config_named_relative_to_the_working_directory(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder.parent)
    write(folder, HEADER)
    cfg = load(Path("configs") / "pgie.txt")
    assert cfg["onnx-file"] == os.path.realpath(folder / "model.onnx")


# -- class attributes ----------------------------------------------------------------------------


def test_class_attrs_all_is_replicated_then_class_groups_apply_over_it(folder: Path) -> None:
    body = (
        "num-detected-classes=3\n"
        "[class-attrs-1]\ntopk=2\nborder-color=0;1;0;1\n"
        "[class-attrs-all]\npre-cluster-threshold=0.4\ntopk=5\n"
    )
    cfg = load_text(folder, body)
    every = ClassAttrs(pre_cluster_threshold=0.4, topk=5)
    assert cfg.default_attrs == every
    assert cfg.class_attrs == [every, ClassAttrs(pre_cluster_threshold=0.4, topk=2, border_color=(0, 1, 0, 1)), every]


def test_class_attrs_without_all_start_from_the_defaults(folder: Path) -> None:
    cfg = load_text(folder, "num-detected-classes=2\n[class-attrs-0]\npost-cluster-threshold=0.7\n")
    assert cfg.class_attrs == [ClassAttrs(post_cluster_threshold=0.7), ClassAttrs()]


def test_class_attrs_suffix_is_read_like_strtoull(folder: Path) -> None:
    """Leading digits are the class id; nvinfer does not look at what follows them."""
    cfg = load_text(folder, "num-detected-classes=2\n[class-attrs-1st]\ntopk=1\n")
    assert cfg.class_attrs == [ClassAttrs(), ClassAttrs(topk=1)]


def test_class_attrs_suffix_must_be_numeric(folder: Path) -> None:
    message = error_of(folder, "num-detected-classes=2\n[class-attrs-car]\ntopk=1\n")
    expected = "[class-attrs-car]: expected a class id after 'class-attrs-' (got 'car')"
    assert message == f"{folder / 'pgie.txt'}:5: {expected}"


def test_class_attrs_id_must_be_below_num_detected_classes(folder: Path) -> None:
    message = error_of(folder, "num-detected-classes=2\n[class-attrs-2]\ntopk=1\n")
    assert message == f"{folder / 'pgie.txt'}:5: [class-attrs-2]: class id 2 is not below num-detected-classes (2)"


@pytest.mark.parametrize("network_type", [1, 2, 100])
def test_class_attrs_are_ignored_unless_detector_or_instance_segmentation(folder: Path, network_type: int) -> None:
    body = f"network-type={network_type}\nnum-detected-classes=1\n[class-attrs-7]\ntopk=1\n[class-attrs-x]\neps=1\n"
    cfg = load_text(folder, body)
    assert cfg.class_attrs == []
    assert cfg.default_attrs == ClassAttrs()


def test_class_attrs_are_parsed_for_instance_segmentation(folder: Path) -> None:
    body = (
        "network-type=3\ncluster-mode=4\nparse-bbox-instance-mask-func-name=NvDsInferParseCustomMrcnnTLTV2\n"
        "num-detected-classes=2\n[class-attrs-all]\npre-cluster-threshold=0.8\n"
    )
    assert load_text(folder, body).class_attrs == [ClassAttrs(pre_cluster_threshold=0.8)] * 2


def test_legacy_threshold_with_a_warning(folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = "num-detected-classes=2\n[class-attrs-all]\nthreshold=0.6\n[class-attrs-1]\nthreshold=1.1\n"
    cfg = load_text(folder, body)
    assert cfg.class_attrs == [ClassAttrs(pre_cluster_threshold=0.6), ClassAttrs(pre_cluster_threshold=1.1)]
    path = folder / "pgie.txt"
    assert warnings(caplog) == [
        f"{path}:6: warning: 'threshold' is deprecated, use 'pre-cluster-threshold'",
        f"{path}:8: warning: 'threshold' is deprecated, use 'pre-cluster-threshold'",
    ]


# -- legacy keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "key", "value", "message"),
    [
        ("is-classifier=1", "network-type", 1, "legacy key 'is-classifier' converted to network-type=1"),
        ("is-classifier=0", "network-type", 0, "legacy key 'is-classifier' converted to network-type=0"),
        ("enable-dbscan=1", "cluster-mode", 1, "legacy key 'enable-dbscan' converted to cluster-mode=1"),
        ("input-dims=3;1;2;0", "infer-dims", [3, 1, 2], "legacy key 'input-dims' converted to infer-dims=[3, 1, 2]"),
        (
            "uff-input-dims=1;8;8;0",
            "infer-dims",
            [1, 8, 8],
            "legacy key 'uff-input-dims' converted to infer-dims=[1, 8, 8]",
        ),
    ],
)
def test_legacy_keys_are_converted_with_a_warning(
    folder: Path, caplog: pytest.LogCaptureFixture, line: str, key: str, value: Any, message: str
) -> None:
    cfg = load_text(folder, line + "\n")
    assert cfg[key] == value
    assert cfg.where(key).line == 4
    assert line.split("=")[0] not in cfg.settings
    assert warnings(caplog) == [f"{folder / 'pgie.txt'}:4: warning: {message}"]


@pytest.mark.parametrize(
    ("legacy", "modern", "key", "value"),
    [
        ("is-classifier=1", "network-type=0", "network-type", 0),
        ("enable-dbscan=1", "cluster-mode=2", "cluster-mode", 2),
        ("input-dims=3;16;32;0", "infer-dims=3;8;8", "infer-dims", [3, 8, 8]),
    ],
)
def test_legacy_keys_are_ignored_when_their_successor_is_set(
    folder: Path, caplog: pytest.LogCaptureFixture, legacy: str, modern: str, key: str, value: Any
) -> None:
    cfg = load_text(folder, f"{modern}\n{legacy}\n")  # the successor wins even when it comes first
    assert cfg[key] == value
    old = legacy.split("=")[0]
    assert warnings(caplog) == [f"{folder / 'pgie.txt'}:5: warning: legacy key '{old}' ignored because '{key}' is set"]


def test_is_classifier_makes_class_attrs_ignored(folder: Path) -> None:
    cfg = load_text(folder, "is-classifier=1\nnum-detected-classes=1\n[class-attrs-5]\ntopk=1\n")
    assert (cfg.network_type, cfg.class_attrs) == (1, [])


def test_enable_dbscan_false_changes_nothing(folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = load_text(folder, "enable-dbscan=0\n")
    assert cfg["cluster-mode"] == 0
    assert "enable-dbscan" not in cfg.settings
    assert warnings(caplog) == []


# -- rejected keys -------------------------------------------------------------------------------

CAFFE = (
    "Caffe models are not supported by TensorRT 10 and dsflow: convert the model to ONNX "
    "(e.g. with caffe2onnx or through PyTorch) and set onnx-file"
)
UFF = (
    "UFF models were removed from TensorRT: export the original TensorFlow model to ONNX with tf2onnx and set onnx-file"
)
ETLT = (
    "encrypted TAO .etlt models cannot be read outside TensorRT's TAO path: export the model to ONNX "
    "with TAO (tao model <task> export) and set onnx-file"
)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("model-file=resnet10.caffemodel", f"model-file: {CAFFE}"),
        ("proto-file=resnet10.prototxt", f"proto-file: {CAFFE}"),
        ("uff-file=ssd.uff", f"uff-file: {UFF}"),
        ("tlt-encoded-model=peoplenet.etlt", f"tlt-encoded-model: {ETLT}"),
        ("tlt-model-key=tlt_encode", f"tlt-model-key: {ETLT}"),
        (
            "enable-dla=1",
            "enable-dla: DLA cores exist only on Jetson; dsflow's engines run on the GPU or the CPU: remove enable-dla",
        ),
        (
            "input-tensor-from-meta=1",
            "input-tensor-from-meta: dsflow has no nvdspreprocess element: its preprocess node is the equivalent. "
            "Use an nvinfer.infer node after your own tensor-producing node, or remove input-tensor-from-meta",
        ),
        ("scaling-compute-hw=2", "scaling-compute-hw: 2 (VIC) exists only on Jetson; use 0 or 1"),
    ],
)
def test_rejected_keys(folder: Path, line: str, message: str) -> None:
    assert error_of(folder, line + "\n") == f"{folder / 'pgie.txt'}:4: {message}"


@pytest.mark.parametrize("line", ["enable-dla=0", "input-tensor-from-meta=0", "scaling-compute-hw=1"])
def test_rejected_features_switched_off_are_fine(folder: Path, line: str) -> None:
    key, value = line.split("=")
    assert load_text(folder, line + "\n")[key] == int(value)


def test_model_file_is_the_weights_of_an_engine_create_function(folder: Path) -> None:
    """DeepStream-Yolo's Darknet configs pass the .weights file as model-file."""
    header = "[property]\ngie-unique-id=1\n"
    body = "custom-network-config=yolov4.cfg\nmodel-file=yolov4.weights\n"
    body += "engine-create-func-name=NvDsInferYoloCudaEngineGet\n"
    cfg = load_text(folder, body, header=header)
    assert cfg["model-file"] == str(folder / "yolov4.weights")
    assert cfg["onnx-file"] is None
    # proto-file stays Caffe even then
    assert error_of(folder, body + "proto-file=x.prototxt\n", header=header) == (
        f"{folder / 'pgie.txt'}:6: proto-file: {CAFFE}"
    )


# -- checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("process-mode=3\n", ":4: process-mode: must be one of 1, 2 (got 3)"),
        ("network-type=3\ncluster-mode=4\n", ":4: network-type: instance segmentation (3) needs "
         "parse-bbox-instance-mask-func-name"),
        ("network-type=3\nparse-bbox-instance-mask-func-name=NvDsInferParseCustomMrcnnTLTV2\n",
         ": cluster-mode: instance segmentation supports only cluster-mode 4 (got 0)"),
        ("output-instance-mask=1\n", ":4: output-instance-mask: needs cluster-mode 4 (got 0)"),
        ("output-instance-mask=1\ncluster-mode=2\n", ":4: output-instance-mask: needs cluster-mode 4 (got 2)"),
        ("batch-size=0\n", ":4: batch-size: must be between 1 and 1024 (got 0)"),
        ("batch-size=1025\n", ":4: batch-size: must be between 1 and 1024 (got 1025)"),
        ("offsets=1;2;3;4;5\n", ":4: offsets: must have at most 4 values (got 5)"),
        ("infer-dims=3;224\n", ":4: infer-dims: must have 3 values (got 2)"),
        ("input-dims=3;224;224\n", ":4: input-dims: must have 4 values (got 3)"),
        ("network-type=4\n", ":4: network-type: must be one of 0, 1, 2, 3, 100 (got 4)"),
        ("cluster-mode=5\n", ":4: cluster-mode: must be one of 0, 1, 2, 3, 4 (got 5)"),
        ("interval=-1\n", ":4: interval: must be at least 0 (got -1)"),
        ("classifier-threshold=-0.5\n", ":4: classifier-threshold: must be at least 0 (got -0.5)"),
        ("num-detected-classes=1\n[class-attrs-all]\nnms-iou-threshold=1.5\n",
         ":6: nms-iou-threshold: must be between 0 and 1 (got 1.5)"),
        ("num-detected-classes=1\n[class-attrs-0]\ntopk=-2\n", ":6: topk: must be at least 0 (got -2)"),
        ("num-detected-classes=1\n[class-attrs-0]\nborder-color=1;0;0\n",
         ":6: border-color: must have 4 values (got 3)"),
        ("labelfile-path=missing-labels.txt\n", ":4: labelfile-path: file not found: {folder}/missing-labels.txt"),
        ("mean-file=nomean.ppm\n", ":4: mean-file: file not found: {folder}/nomean.ppm"),
    ],
)  # fmt: skip
def test_checks(folder: Path, body: str, expected: str) -> None:
    path = folder / "pgie.txt"
    assert error_of(folder, body) == f"{path}{expected.format(folder=folder)}"


def test_gie_unique_id_is_required(folder: Path) -> None:
    path = folder / "pgie.txt"
    assert error_of(folder, "", header="[property]\nonnx-file=model.onnx\n") == (
        f"{path}: gie-unique-id: required: set gie-unique-id to a positive number that names this stage"
    )
    assert error_of(folder, "", header="[property]\nonnx-file=model.onnx\ngie-unique-id=0\n") == (
        f"{path}:3: gie-unique-id: must be at least 1 (got 0)"
    )


def test_missing_onnx_file(folder: Path) -> None:
    header = "[property]\ngie-unique-id=1\nonnx-file=models/none.onnx\n"
    assert error_of(folder, "", header=header) == (
        f"{folder / 'pgie.txt'}:3: onnx-file: file not found: {folder / 'models' / 'none.onnx'}"
    )


def test_engine_file_alone_asks_for_the_onnx_file(folder: Path) -> None:
    header = "[property]\ngie-unique-id=1\nmodel-engine-file=model_b1_gpu0_fp16.engine\n"
    assert error_of(folder, "", header=header) == (
        f"{folder / 'pgie.txt'}:3: model-engine-file: a serialized TensorRT engine alone cannot run on the "
        "onnxruntime backend: set onnx-file to the model"
    )


def test_no_model_at_all(folder: Path) -> None:
    assert error_of(folder, "", header="[property]\ngie-unique-id=1\n") == (
        f"{folder / 'pgie.txt'}: no model: set onnx-file (or engine-create-func-name, or model-parser-func-name "
        "with model-file)"
    )


def test_engine_file_next_to_the_onnx_file_is_noted(folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dsflow.nvinfer")
    cfg = load_text(folder, "model-engine-file=model.onnx_b1_gpu0_fp32.engine\n")
    assert cfg["model-engine-file"] == str(folder / "model.onnx_b1_gpu0_fp32.engine")
    note = "a TensorRT engine file; the onnxruntime backend runs onnx-file instead"
    assert [r.getMessage() for r in caplog.records] == [f"{folder / 'pgie.txt'}:4: note: model-engine-file: {note}"]


# -- every key of the table ---------------------------------------------------------------------

# A valid value for every [property] key, what reading it gives (key, value), and lines it needs.
F = "{folder}"
VALID: dict[str, tuple[str, tuple[str, Any], str]] = {
    "gie-unique-id": ("3", ("gie-unique-id", 3), ""),
    "process-mode": ("2", ("process-mode", 2), ""),
    "interval": ("2", ("interval", 2), ""),
    "labelfile-path": ("labels.txt", ("labelfile-path", f"{F}/labels.txt"), ""),
    "gpu-id": ("0", ("gpu-id", 0), ""),
    "secondary-reinfer-interval": ("10", ("secondary-reinfer-interval", 10), ""),
    "output-tensor-meta": ("1", ("output-tensor-meta", True), ""),
    "output-instance-mask": ("true", ("output-instance-mask", True), "cluster-mode=4"),
    "auto-inc-mem": ("0", ("auto-inc-mem", 0), ""),
    "max-gpu-mem-per": ("50", ("max-gpu-mem-per", 50), ""),
    "tensor-meta-pool-size": ("6", ("tensor-meta-pool-size", 6), ""),
    "enable-dla": ("0", ("enable-dla", False), ""),
    "use-dla-core": ("1", ("use-dla-core", 1), ""),
    "batch-size": ("8", ("batch-size", 8), ""),
    "network-mode": ("2", ("network-mode", 2), ""),
    "model-engine-file": ("model.engine", ("model-engine-file", f"{F}/model.engine"), ""),
    "int8-calib-file": ("calib.bin", ("int8-calib-file", f"{F}/calib.bin"), ""),
    "workspace-size": ("1024", ("workspace-size", 1024), ""),
    "output-blob-names": ("boxes;scores", ("output-blob-names", ["boxes", "scores"]), ""),
    "output-io-formats": ("boxes:fp32:chw;s:fp16:hwc8", ("output-io-formats", ["boxes:fp32:chw", "s:fp16:hwc8"]), ""),
    "layer-device-precision": ("conv1:fp16:gpu", ("layer-device-precision", ["conv1:fp16:gpu"]), ""),
    "is-classifier": ("1", ("network-type", 1), ""),
    "network-type": ("100", ("network-type", 100), ""),
    "force-implicit-batch-dim": ("1", ("force-implicit-batch-dim", True), ""),
    "infer-dims": ("3;16;32", ("infer-dims", [3, 16, 32]), ""),
    "input-dims": ("3;16;32;0", ("infer-dims", [3, 16, 32]), ""),
    "uff-input-dims": ("3;16;32;0", ("infer-dims", [3, 16, 32]), ""),
    "uff-input-order": ("1", ("uff-input-order", 1), ""),
    "uff-input-blob-name": ("Input", ("uff-input-blob-name", "Input"), ""),
    "network-input-order": ("1", ("network-input-order", 1), ""),
    "model-color-format": ("1", ("model-color-format", 1), ""),
    "net-scale-factor": ("0.00390625", ("net-scale-factor", 0.00390625), ""),
    "offsets": ("1;2.5;3", ("offsets", [1.0, 2.5, 3.0]), ""),
    "mean-file": ("mean.ppm", ("mean-file", f"{F}/mean.ppm"), ""),
    "maintain-aspect-ratio": ("1", ("maintain-aspect-ratio", True), ""),
    "symmetric-padding": ("1", ("symmetric-padding", True), ""),
    "scaling-filter": ("1", ("scaling-filter", 1), ""),
    "scaling-compute-hw": ("1", ("scaling-compute-hw", 1), ""),
    "input-tensor-from-meta": ("false", ("input-tensor-from-meta", False), ""),
    "custom-lib-path": ("libcustom.so", ("custom-lib-path", f"{F}/libcustom.so"), ""),
    "parse-bbox-func-name": ("NvDsInferParseYolo", ("parse-bbox-func-name", "NvDsInferParseYolo"), ""),
    "parse-bbox-instance-mask-func-name": (
        "NvDsInferParseCustomMrcnnTLTV2", ("parse-bbox-instance-mask-func-name", "NvDsInferParseCustomMrcnnTLTV2"), ""
    ),
    "parse-classifier-func-name": ("softmax", ("parse-classifier-func-name", "softmax"), ""),
    "parse-segmentation-func-name": ("argmax", ("parse-segmentation-func-name", "argmax"), ""),
    "engine-create-func-name": ("make_engine", ("engine-create-func-name", "make_engine"), ""),
    "custom-network-config": ("yolo.cfg", ("custom-network-config", "yolo.cfg"), ""),
    "model-parser-func-name": (
        "read_npz", ("model-parser-func-name", "read_npz"), "model-file=net.npz\nonnx-file=model.onnx"
    ),
    "input-init-func-name": ("fill_im_info", ("input-init-func-name", "fill_im_info"), ""),
    "crop-func-name": ("text-line", ("crop-func-name", "text-line"), "process-mode=2"),
    "fit-batch-width": ("1", ("fit-batch-width", True), ""),
    "max-batch-width": ("960", ("max-batch-width", 960), ""),
    "model-file": ("yolo.weights", ("model-file", f"{F}/yolo.weights"), "engine-create-func-name=make_engine"),
    "proto-file": ("x.prototxt", ("proto-file", None), ""),
    "uff-file": ("x.uff", ("uff-file", None), ""),
    "tlt-encoded-model": ("x.etlt", ("tlt-encoded-model", None), ""),
    "tlt-model-key": ("key", ("tlt-model-key", None), ""),
    "onnx-file": ("./model.onnx", ("onnx-file", f"{F}/model.onnx"), ""),
    "num-detected-classes": ("4", ("num-detected-classes", 4), ""),
    "enable-dbscan": ("1", ("cluster-mode", 1), ""),
    "cluster-mode": ("3", ("cluster-mode", 3), ""),
    "crop-objects-to-roi-boundary": ("1", ("crop-objects-to-roi-boundary", True), ""),
    "filter-out-class-ids": ("0;2", ("filter-out-class-ids", [0, 2]), ""),
    "cluster-per-frame": ("1", ("cluster-per-frame", True), ""),
    "classifier-type": ("color", ("classifier-type", "color"), ""),
    "classifier-threshold": ("0.25", ("classifier-threshold", 0.25), ""),
    "set-object-label": ("1", ("set-object-label", True), ""),
    "classifier-async-mode": ("1", ("classifier-async-mode", True), ""),
    "segmentation-threshold": ("0.5", ("segmentation-threshold", 0.5), ""),
    "segmentation-output-order": ("1", ("segmentation-output-order", 1), ""),
    "input-object-min-width": ("20", ("input-object-min-width", 20), ""),
    "input-object-min-height": ("21", ("input-object-min-height", 21), ""),
    "input-object-max-width": ("200", ("input-object-max-width", 200), ""),
    "input-object-max-height": ("201", ("input-object-max-height", 201), ""),
    "operate-on-gie-id": ("1", ("operate-on-gie-id", 1), ""),
    "operate-on-class-ids": ("0;1", ("operate-on-class-ids", [0, 1]), ""),
}  # fmt: skip

CLASS_VALID: dict[str, tuple[str, str, Any]] = {
    "pre-cluster-threshold": ("0.5", "pre_cluster_threshold", 0.5),
    "threshold": ("0.6", "pre_cluster_threshold", 0.6),
    "post-cluster-threshold": ("0.1", "post_cluster_threshold", 0.1),
    "eps": ("0.2", "eps", 0.2),
    "group-threshold": ("2", "group_threshold", 2),
    "minBoxes": ("3", "min_boxes", 3),
    "dbscan-min-score": ("0.7", "dbscan_min_score", 0.7),
    "nms-iou-threshold": ("0.45", "nms_iou_threshold", 0.45),
    "topk": ("10", "topk", 10),
    "roi-top-offset": ("5", "roi_top_offset", 5),
    "roi-bottom-offset": ("6", "roi_bottom_offset", 6),
    "detected-min-w": ("7", "detected_min_w", 7),
    "detected-min-h": ("8", "detected_min_h", 8),
    "detected-max-w": ("9", "detected_max_w", 9),
    "detected-max-h": ("10", "detected_max_h", 10),
    "border-color": ("0;1;0;0.5", "border_color", (0.0, 1.0, 0.0, 0.5)),
    "bg-color": ("0.5;0.5;0.5;0.25", "bg_color", (0.5, 0.5, 0.5, 0.25)),
}


def test_the_valid_values_cover_the_whole_key_table() -> None:
    assert list(VALID) == [k.name for k in PROPERTY_KEYS]
    assert list(CLASS_VALID) == [k.name for k in CLASS_KEYS]


@pytest.mark.parametrize("key", [k.name for k in PROPERTY_KEYS])
def test_every_property_key_is_read(folder: Path, key: str) -> None:
    raw, (read_as, value), extra = VALID[key]
    body = f"{key}={raw}\n" + (extra + "\n" if extra else "")
    path = folder / "pgie.txt"
    if PROPERTY[key].status == "rejected" and value is None:
        assert error_of(folder, body) == f"{path}:4: {key}: {PROPERTY[key].note}"
        return
    cfg = load_text(folder, body)
    expected = value.format(folder=folder) if isinstance(value, str) else value
    assert cfg[read_as] == expected
    assert type(cfg[read_as]) is type(expected)
    assert cfg.where(read_as) == Location(str(path), 4)


@pytest.mark.parametrize("key", [k.name for k in CLASS_KEYS])
def test_every_class_key_is_read(folder: Path, key: str) -> None:
    raw, field, value = CLASS_VALID[key]
    cfg = load_text(folder, f"num-detected-classes=2\n[class-attrs-all]\n{key}={raw}\n[class-attrs-1]\n{key}={raw}\n")
    assert getattr(cfg.default_attrs, field) == value
    assert [getattr(a, field) for a in cfg.class_attrs] == [value, value]
    assert cfg.class_attrs[0] == ClassAttrs(**{field: value})


# -- YAML config files -----------------------------------------------------------------------------

YAML_CONFIG = """\
property:
  gie-unique-id: 2
  onnx-file: model.onnx
  labelfile-path: labels.txt
  batch-size: 2
  net-scale-factor: 0.5
  maintain-aspect-ratio: true
  symmetric-padding: 1
  offsets: 1.5;2;3
  operate-on-class-ids: [1, 2]
  filter-out-class-ids: 3
  output-blob-names: [boxes, scores]
  infer-dims: 3;8;16
  classifier-type: car color
  num-detected-classes: 4
  cluster-mode: 2
class-attrs-all:
  pre-cluster-threshold: 0.4
  topk: 20
class-attrs-2:
  topk: 3
  border-color: [0, 1, 0, 1]
  bg-color: 0.5;0.5;0.5;1
"""

KEYFILE_CONFIG = """\
[property]
gie-unique-id=2
onnx-file=model.onnx
labelfile-path=labels.txt
batch-size=2
net-scale-factor=0.5
maintain-aspect-ratio=true
symmetric-padding=1
offsets=1.5;2;3
operate-on-class-ids=1;2
filter-out-class-ids=3
output-blob-names=boxes;scores
infer-dims=3;8;16
classifier-type=car color
num-detected-classes=4
cluster-mode=2
[class-attrs-all]
pre-cluster-threshold=0.4
topk=20
[class-attrs-2]
topk=3
border-color=0;1;0;1
bg-color=0.5;0.5;0.5;1
"""


@pytest.mark.parametrize("suffix", [".yml", ".yaml"])
def test_yaml_config_reads_as_the_equivalent_key_file(folder: Path, suffix: str) -> None:
    from_yaml = load(write(folder, YAML_CONFIG, "pgie" + suffix))
    from_keyfile = load(write(folder, KEYFILE_CONFIG, "pgie.txt"))
    assert values(from_yaml) == values(from_keyfile)
    assert from_yaml.class_attrs == from_keyfile.class_attrs
    assert from_yaml.default_attrs == from_keyfile.default_attrs == ClassAttrs(pre_cluster_threshold=0.4, topk=20)
    assert from_yaml.class_attrs[2] == ClassAttrs(
        pre_cluster_threshold=0.4, topk=3, border_color=(0, 1, 0, 1), bg_color=(0.5, 0.5, 0.5, 1)
    )
    assert values(from_yaml)["offsets"] == [1.5, 2.0, 3.0]
    assert values(from_yaml)["labelfile-path"] == os.path.realpath(folder / "labels.txt")
    assert from_yaml.where("batch-size") == Location(str(folder / f"pgie{suffix}"), 5, 3)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  batch-size: two", ":3:15: batch-size: expected an integer (got 'two')"),
        ("  batch-size: 2.5", ":3:15: batch-size: expected an integer (got 2.5)"),
        ("  maintain-aspect-ratio: 2", ":3:26: maintain-aspect-ratio: expected true, false, 1 or 0 (got 2)"),
        ("  offsets: [1, a]", ":3:12: offsets: expected a list of numbers (got [1, 'a'])"),
        ("  offsets: 1;;2", ":3:12: offsets: expected a list of numbers (got '1;;2')"),
        ("  batch-size: 0", ":3:3: batch-size: must be between 1 and 1024 (got 0)"),
    ],
)
def test_yaml_config_errors_are_located(folder: Path, line: str, expected: str) -> None:
    path = write(folder, f"property:\n  gie-unique-id: 1\n{line}\n  onnx-file: model.onnx\n", "pgie.yml")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}{expected}"


def test_yaml_config_needs_a_property_mapping(folder: Path) -> None:
    path = write(folder, "class-attrs-all:\n  topk: 1\n", "pgie.yml")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: an nvinfer YAML config needs a 'property' mapping"


# -- configs in graphs ---------------------------------------------------------------------------


def graph_text(params: str) -> str:
    """A graph whose node ``pgie`` (line 5) has ``params`` (YAML lines) from line 9 on."""
    lines = textwrap.indent(textwrap.dedent(params).rstrip("\n") + "\n", "      ")
    return (
        "nodes:\n"
        "  - name: src\n"
        "    type: source.testpattern\n"
        "    params: {frames: 1}\n"
        "  - name: pgie\n"
        "    type: nvinfer\n"
        "    input: src\n"
        "    params:\n"
        f"{lines}"
        "  - name: out\n"
        "    type: sink.null\n"
        "    input: pgie\n"
    )


def stage_config(graph: dsflow.Graph) -> InferConfig:
    configs = {spec.name: spec.params.config for spec in graph.nodes.values() if spec.part_of == ("pgie", "nvinfer")}
    assert list(configs) == ["pgie/preprocess", "pgie/infer", "pgie/parse"]
    first = configs["pgie/preprocess"]
    assert all(cfg is first for cfg in configs.values())  # one checked config shared by the three stages
    return first


def test_graph_config_file_is_relative_to_the_graph(folder: Path, write_graph: Any) -> None:
    write(folder, HEADER + "batch-size=3\n")
    graph = dsflow.load_graph(write_graph(graph_text("config: configs/pgie.txt")))
    cfg = stage_config(graph)
    assert cfg["batch-size"] == 3
    assert cfg["onnx-file"] == os.path.realpath(folder / "model.onnx")
    assert cfg.origin == str(folder / "pgie.txt")


def test_graph_config_file_missing(write_graph: Any, tmp_path: Path) -> None:
    path = write_graph(graph_text("config: configs/none.txt"))
    with pytest.raises(ConfigError) as info:
        dsflow.load_graph(path)
    missing = tmp_path / "configs" / "none.txt"
    assert str(info.value) == f"{path}:9:15: node 'pgie': nvinfer config file not found: {missing}"


def test_inline_keys_override_the_config_file(folder: Path, write_graph: Any) -> None:
    write(folder, HEADER + "batch-size=3\ninterval=2\nnum-detected-classes=2\n[class-attrs-all]\ntopk=5\n")
    params = """\
        config: configs/pgie.txt
        batch-size: 4
        maintain-aspect-ratio: 1
        class-attrs-all: {eps: 0.25}
        class-attrs-1: {topk: 1, border-color: 0;0;1;1}
    """
    path = write_graph(graph_text(params))
    cfg = stage_config(dsflow.load_graph(path))
    assert (cfg["batch-size"], cfg["interval"], cfg["maintain-aspect-ratio"]) == (4, 2, True)
    assert cfg.where("batch-size") == Location(str(path), 10, 7)
    assert cfg.where("interval") == Location(str(folder / "pgie.txt"), 5)
    assert cfg.default_attrs == ClassAttrs(topk=5, eps=0.25)
    assert cfg.class_attrs == [ClassAttrs(topk=5, eps=0.25), ClassAttrs(topk=1, eps=0.25, border_color=(0, 0, 1, 1))]


@pytest.mark.parametrize("inline", ["pre-cluster-threshold", "threshold"])
def test_inline_class_keys_override_either_name_in_the_file(folder: Path, write_graph: Any, inline: str) -> None:
    write(folder, HEADER + "num-detected-classes=1\n[class-attrs-0]\npre-cluster-threshold=0.3\nthreshold=0.5\n")
    path = write_graph(graph_text(f"config: configs/pgie.txt\nclass-attrs-0: {{{inline}: 0.9}}\n"))
    assert stage_config(dsflow.load_graph(path)).class_attrs == [ClassAttrs(pre_cluster_threshold=0.9)]


def test_inline_keys_alone_and_their_paths_are_relative_to_the_graph(folder: Path, write_graph: Any) -> None:
    params = """\
        gie-unique-id: 5
        onnx-file: configs/model.onnx
        labelfile-path: configs/labels.txt
        network-type: 1
        classifier-threshold: 0.5
    """
    path = write_graph(graph_text(params))
    cfg = stage_config(dsflow.load_graph(path))
    assert values(cfg) == {
        "gie-unique-id": 5,
        "onnx-file": os.path.realpath(folder / "model.onnx"),
        "labelfile-path": os.path.realpath(folder / "labels.txt"),
        "network-type": 1,
        "classifier-threshold": 0.5,
    }
    assert cfg.origin == str(path)


def test_inline_key_errors_point_into_the_graph(folder: Path, write_graph: Any) -> None:
    path = write_graph(graph_text("config: configs/pgie.txt\nbatch-size: many\n"))
    write(folder, HEADER)
    with pytest.raises(ConfigError) as info:
        dsflow.load_graph(path)
    assert str(info.value) == f"{path}:10:19: batch-size: expected an integer (got 'many')"


def test_inline_checks_name_the_inline_key(folder: Path, write_graph: Any) -> None:
    write(folder, HEADER + "num-detected-classes=2\n")
    path = write_graph(graph_text("config: configs/pgie.txt\nclass-attrs-2: {topk: 1}\n"))
    with pytest.raises(ConfigError) as info:
        dsflow.load_graph(path)
    assert str(info.value) == f"{path}:10:7: [class-attrs-2]: class id 2 is not below num-detected-classes (2)"


def test_misspelt_inline_key_is_an_error_with_a_suggestion(folder: Path, write_graph: Any) -> None:
    """In a graph file, unknown keys are errors as for any node (config files only warn, as DeepStream does)."""
    write(folder, HEADER)
    path = write_graph(graph_text("config: configs/pgie.txt\nmaintain-aspect-ration: 1\n"))
    with pytest.raises(ConfigError) as info:
        dsflow.load_graph(path)
    assert str(info.value) == (
        f"{path}:10:7: unknown nvinfer key 'maintain-aspect-ration' (did you mean 'maintain-aspect-ratio'?)"
    )
    path = write_graph(graph_text("confg: configs/pgie.txt\n"))
    with pytest.raises(ConfigError) as info:
        dsflow.load_graph(path)
    assert str(info.value) == f"{path}:9:7: unknown nvinfer key 'confg' (did you mean 'config'?)"
    path = write_graph(graph_text("config: configs/pgie.txt\nclass-attrs-all: {top-k: 2}\n"))
    with pytest.raises(ConfigError) as info:
        dsflow.load_graph(path)
    assert str(info.value) == f"{path}:10:25: unknown nvinfer key 'top-k' (did you mean 'topk'?)"


def test_set_overrides_inline_keys(folder: Path, write_graph: Any) -> None:
    write(folder, HEADER + "batch-size=3\n")
    path = write_graph(graph_text("config: configs/pgie.txt\ninterval: 1\n"))
    graph = dsflow.load_graph(path, overrides=["pgie.batch-size=4", "pgie.interval=0", "pgie.symmetric-padding=true"])
    cfg = stage_config(graph)
    assert (cfg["batch-size"], cfg["interval"], cfg["symmetric-padding"]) == (4, 0, True)
    assert cfg.where("batch-size") == Location("--set pgie.batch-size=4")


def test_set_override_with_a_bad_value(folder: Path, write_graph: Any) -> None:
    write(folder, HEADER)
    path = write_graph(graph_text("config: configs/pgie.txt\n"))
    with pytest.raises(ConfigError) as info:
        dsflow.load_graph(path, overrides=["pgie.batch-size=2000"])
    assert str(info.value) == "--set pgie.batch-size=2000: batch-size: must be between 1 and 1024 (got 2000)"


def test_validate_prints_a_config_error_without_traceback(folder: Path, write_graph: Any) -> None:
    write(folder, HEADER + "net-scale-factor=1/255\n")
    path = write_graph(graph_text("config: configs/pgie.txt\n"))
    proc = subprocess.run(
        [sys.executable, "-m", "dsflow", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 4
    assert proc.stdout == ""
    assert proc.stderr == f"error: {folder / 'pgie.txt'}:4: net-scale-factor: expected a number (got '1/255')\n"


def test_two_stages_with_one_gie_unique_id_are_an_error(folder: Path, write_graph: Any) -> None:
    write(folder, HEADER)
    path = write_graph(
        "nodes:\n"
        "  - {name: src, type: source.testpattern, params: {frames: 1}}\n"
        "  - {name: pgie, type: nvinfer, input: src, params: {config: configs/pgie.txt}}\n"
        "  - {name: sgie, type: nvinfer, input: pgie, params: {config: configs/pgie.txt, process-mode: 2}}\n"
        "  - {name: out, type: sink.null, input: sgie}\n"
    )
    with pytest.raises(dsflow.GraphError) as info:
        dsflow.load_graph(path)
    assert str(info.value) == (
        f"{path}:4:5: node 'sgie': gie-unique-id 1 is already used by node 'pgie' (line 3); "
        "give each inference stage its own id"
    )
