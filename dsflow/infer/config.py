"""nvinfer configuration: DeepStream config files (key-file or YAML) and the same keys inline in graphs.

Read with DeepStream 6.3's rules: GLib value typing, last duplicate wins, paths relative to
the file that names them, ``[class-attrs-all]`` then ``[class-attrs-N]`` over it, legacy keys
converted with a warning, unknown keys warned about. Errors name the file, line and key.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsflow import models
from dsflow.errors import ConfigError, did_you_mean
from dsflow.infer import keyfile
from dsflow.infer.cluster import ClassAttrs
from dsflow.infer.keys import CLASS_ATTRS, KNOWN_UNPARSED, PROPERTY, Key
from dsflow.yamlfile import Location, MarkedDict, load_file

log = logging.getLogger("dsflow.nvinfer")

_KEYFILE_TYPES = {
    "int": keyfile.to_int,
    "bool": keyfile.to_bool,
    "double": keyfile.to_double,
    "int-list": keyfile.to_int_list,
    "double-list": keyfile.to_double_list,
    "string": keyfile.to_string,
    "string-list": keyfile.to_string_list,
    "path": keyfile.to_string,
}
CLASS_GROUP_PREFIX = "class-attrs-"
DETECTOR, CLASSIFIER, SEGMENTATION, INSTANCE_SEGMENTATION, OTHER = 0, 1, 2, 3, 100


@dataclass(frozen=True)
class Setting:
    """One key's typed value and where it was written."""

    value: Any
    where: Location


@dataclass
class RawConfig:
    """Typed settings of one source (a file or a graph node), before defaults and checks."""

    origin: str
    property: dict[str, Setting] = field(default_factory=dict)
    class_groups: dict[str, dict[str, Setting]] = field(default_factory=dict)
    """``all`` or the class id suffix → settings."""
    class_group_where: dict[str, Location] = field(default_factory=dict)


@dataclass(eq=False)
class InferConfig:
    """The checked configuration of one inference stage."""

    origin: str
    """Where it came from: the config file, or the graph node."""
    settings: dict[str, Setting]
    class_attrs: list[ClassAttrs]
    """Per-class parameters (detectors and instance segmentation; empty otherwise)."""
    default_attrs: ClassAttrs
    """``[class-attrs-all]`` over the defaults."""

    def __getitem__(self, key: str) -> Any:
        setting = self.settings.get(key)
        return setting.value if setting is not None else PROPERTY[key].default

    def __contains__(self, key: str) -> bool:
        return key in self.settings

    def where(self, key: str) -> Location:
        setting = self.settings.get(key)
        return setting.where if setting is not None else Location(self.origin)

    def error(self, key: str, message: str) -> ConfigError:
        """A located error about ``key``."""
        return ConfigError(f"{self.where(key)}: {key}: {message}")

    @property
    def unique_id(self) -> int:
        return self["gie-unique-id"]

    @property
    def network_type(self) -> int:
        return self["network-type"]

    @property
    def secondary(self) -> bool:
        return self["process-mode"] == 2


# -- reading sources -------------------------------------------------------------------


def read_config_file(path: str | Path) -> RawConfig:
    """Read a DeepStream nvinfer config file: YAML for ``.yml``/``.yaml``, key-file otherwise."""
    path = str(path)
    if not os.path.isfile(path):
        msg = f"{path}: nvinfer config file not found"
        raise ConfigError(msg)
    if path.endswith((".yml", ".yaml")):
        doc = load_file(path)
        if not isinstance(doc, MarkedDict) or not isinstance(doc.get("property"), MarkedDict):
            msg = f"{path}: an nvinfer YAML config needs a 'property' mapping"
            raise ConfigError(msg)
        return _from_mapping(doc, path, Path(path).parent, grouped=True)
    return _from_keyfile(keyfile.read_keyfile(path), Path(path).parent)


def read_inline(params: MarkedDict, origin: str, base_dir: Path, skip: Iterable[str] = ()) -> RawConfig:
    """nvinfer keys written directly in a graph node's ``params`` (flat, with ``class-attrs-*`` mappings)."""
    return _from_mapping(params, origin, base_dir, grouped=False, skip=set(skip))


def _from_keyfile(kf: keyfile.KeyFile, base_dir: Path) -> RawConfig:
    raw = RawConfig(kf.path)
    if "property" not in kf.groups:
        msg = f"{kf.path}: the config file has no [property] group"
        raise ConfigError(msg)
    for name, group in kf.groups.items():
        if name == "property":
            table, target = PROPERTY, raw.property
        elif name.startswith(CLASS_GROUP_PREFIX):
            table, target = CLASS_ATTRS, raw.class_groups.setdefault(name[len(CLASS_GROUP_PREFIX) :], {})
            raw.class_group_where[name[len(CLASS_GROUP_PREFIX) :]] = Location(kf.path, group.line)
        else:
            continue  # DeepStream ignores other groups
        # nvinfer handles a repeated key at each place, reading its last value every time: so the order that
        # decides between keys setting the same field (threshold, pre-cluster-threshold) is that of last places.
        for key in reversed(dict.fromkeys(reversed(group.keys()))):
            entry = group.last(key)
            assert entry is not None
            where = Location(kf.path, entry.line)
            spec = _known(table, key, where, name)
            if spec is None:
                continue
            try:
                value = _KEYFILE_TYPES[spec.kind](entry.value)
            except ValueError as exc:
                msg = f"{where}: {key}: {exc}"
                raise ConfigError(msg) from None
            target[key] = Setting(_finish(spec, value, where, base_dir), where)
    return raw


def _from_mapping(
    doc: MarkedDict, origin: str, base_dir: Path, *, grouped: bool, skip: set[str] | None = None
) -> RawConfig:
    raw = RawConfig(origin)
    groups: list[tuple[str, MarkedDict]] = []
    if grouped:
        groups = [(str(k), v) for k, v in doc.items() if isinstance(v, MarkedDict)]
        for key, value in doc.items():
            if not isinstance(value, MarkedDict):
                msg = f"{doc.key_where[key]}: {key}: expected a group mapping (got {value!r})"
                raise ConfigError(msg)
    else:
        flat = MarkedDict(
            {k: v for k, v in doc.items() if k not in (skip or ()) and not k.startswith(CLASS_GROUP_PREFIX)}
        )
        flat.where, flat.key_where, flat.value_where = doc.where, doc.key_where, doc.value_where
        groups = [("property", flat)] + [(k, v) for k, v in doc.items() if k.startswith(CLASS_GROUP_PREFIX)]
    for name, group in groups:
        if not isinstance(group, MarkedDict):
            msg = f"{doc.at(name)}: {name}: expected a mapping of class keys (got {group!r})"
            raise ConfigError(msg)
        if name == "property":
            table, target = PROPERTY, raw.property
        elif name.startswith(CLASS_GROUP_PREFIX):
            suffix = name[len(CLASS_GROUP_PREFIX) :]
            table, target = CLASS_ATTRS, raw.class_groups.setdefault(suffix, {})
            raw.class_group_where[suffix] = doc.key_where.get(name, doc.where)
        else:
            continue
        for key, value in group.items():
            where = group.key_where.get(key, group.where)
            if not grouped and key not in table:  # a graph file: unknown keys are errors, as for any node
                hint = (
                    did_you_mean(key, [*table, *(skip or ())])
                    or f" (see docs/nvinfer-config.md for the keys of [{name}])"
                )
                msg = f"{where}: unknown nvinfer key {key!r}{hint}"
                raise ConfigError(msg)
            spec = _known(table, key, where, name)
            if spec is None:
                continue
            target[key] = Setting(_finish(spec, _yaml_value(spec, value, group.at(key)), where, base_dir), where)
    return raw


def _known(table: dict[str, Key], key: str, where: Location, group: str) -> Key | None:
    spec = table.get(key)
    if spec is None:
        why = KNOWN_UNPARSED.get(key, "")
        hint = did_you_mean(key, table)
        log.warning("%s: warning: unknown or legacy key %r in [%s], ignored%s%s", where, key, group,
                    f" ({why})" if why else "", hint)  # fmt: skip
    return spec


def _yaml_value(spec: Key, value: Any, where: Location) -> Any:
    """Type a YAML value the way DeepStream's YAML parser reads it (lists may be 'a;b;c' strings)."""
    kind = spec.kind
    try:
        if kind.endswith("-list"):
            if isinstance(value, str):
                return _KEYFILE_TYPES[kind](value)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = [value]
            if not isinstance(value, list):
                raise ValueError
            item_kind = {"int-list": "int", "double-list": "double", "string-list": "string"}[kind]
            return [_yaml_scalar(item_kind, v) for v in value]
        return _yaml_scalar(kind, value)
    except ValueError:
        expected = {
            "int": "an integer", "bool": "true, false, 1 or 0", "double": "a number", "string": "a string",
            "path": "a path", "int-list": "a list of integers", "double-list": "a list of numbers",
            "string-list": "a list of strings",
        }[kind]  # fmt: skip
        msg = f"{where}: {spec.name}: expected {expected} (got {value!r})"
        raise ConfigError(msg) from None


def _yaml_scalar(kind: str, value: Any) -> Any:
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError
    if kind == "double" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "double" and isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string; yaml-cpp takes it
        return keyfile.to_double(value)
    if kind in ("string", "path") and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError


def _finish(spec: Key, value: Any, where: Location, base_dir: Path) -> Any:
    if spec.check is not None and value is not None:
        problem = spec.check(value)
        if problem:
            msg = f"{where}: {spec.name}: {problem}"
            raise ConfigError(msg)
    if spec.kind == "path" and value:
        try:
            value = _resolve(value, base_dir)
        except ConfigError as exc:  # an unknown zoo: name
            msg = f"{where}: {spec.name}: {exc}"
            raise ConfigError(msg) from exc
    return value


def _resolve(path: str, base_dir: Path) -> str:
    """As nvinfer does: relative to the naming file's directory, through realpath when it exists.

    ``zoo:NAME`` names a file of dsflow's model catalogue, fetched (or found in the cache) now.
    """
    if path.startswith(models.PREFIX):
        return models.resolve(path)
    joined = path if os.path.isabs(path) else os.path.join(base_dir, path)
    return os.path.realpath(joined) if os.path.exists(joined) else joined


# -- building the stage configuration ------------------------------------------------------


def build_config(*sources: RawConfig, origin: str | None = None) -> InferConfig:
    """Merge sources (later ones override earlier ones key by key), convert legacy keys, check."""
    settings: dict[str, Setting] = {}
    class_groups: dict[str, dict[str, Setting]] = {}
    group_where: dict[str, Location] = {}
    for raw in sources:
        settings.update(raw.property)
        for suffix, group in raw.class_groups.items():
            merged = class_groups.setdefault(suffix, {})
            for key, setting in group.items():  # an override goes last, so it also beats an alias set earlier
                merged.pop(key, None)
                merged[key] = setting
            group_where.setdefault(suffix, raw.class_group_where.get(suffix, Location(raw.origin)))
    origin = origin or (sources[-1].origin if sources else "<config>")
    _convert_legacy(settings)
    for key, setting in settings.items():
        _reject(PROPERTY[key], setting, settings)
    for key, setting in settings.items():
        spec = PROPERTY[key]
        if spec.status == "accepted" and setting.value not in (None, False, spec.default):
            log.warning("%s: note: %s: %s", setting.where, key, spec.note)
    cfg = InferConfig(origin, settings, [], ClassAttrs())
    if cfg.network_type in (DETECTOR, INSTANCE_SEGMENTATION):
        cfg.default_attrs, cfg.class_attrs = _class_attrs(cfg, class_groups, group_where)
    _check(cfg)
    return cfg


def _convert_legacy(settings: dict[str, Setting]) -> None:
    def convert(old: str, new: str, value: Any) -> None:
        setting = settings.pop(old)
        if new in settings:
            log.warning("%s: warning: legacy key %r ignored because %r is set", setting.where, old, new)
            return
        log.warning("%s: warning: legacy key %r converted to %s=%s", setting.where, old, new, value)
        settings[new] = Setting(value, setting.where)

    if "is-classifier" in settings:
        convert("is-classifier", "network-type", 1 if settings["is-classifier"].value else 0)
    if "enable-dbscan" in settings:
        if settings["enable-dbscan"].value:
            convert("enable-dbscan", "cluster-mode", 1)
        else:
            settings.pop("enable-dbscan")
    for old in ("input-dims", "uff-input-dims"):
        if old in settings:
            convert(old, "infer-dims", list(settings[old].value[:3]))


def _reject(spec: Key, setting: Setting, settings: dict[str, Setting]) -> None:
    if spec.status != "rejected" or setting.value in (None, False, ""):
        return
    if spec.name == "model-file" and ("engine-create-func-name" in settings or "model-parser-func-name" in settings):
        return  # a file for the custom engine function or model parser (e.g. Darknet .weights), not Caffe
    msg = f"{setting.where}: {spec.name}: {spec.note}"
    raise ConfigError(msg)


def _class_attrs(
    cfg: InferConfig, groups: dict[str, dict[str, Setting]], group_where: dict[str, Location]
) -> tuple[ClassAttrs, list[ClassAttrs]]:
    defaults = _apply_class_keys(ClassAttrs(), groups.get("all", {}))
    n = cfg["num-detected-classes"]
    attrs = [defaults] * n
    for suffix, group in groups.items():
        if suffix == "all":
            continue
        where = group_where.get(suffix, Location(cfg.origin))
        digits = len(suffix) - len(suffix.lstrip("0123456789"))
        if digits == 0:  # strtoull: leading digits count, trailing junk is not checked
            group = f"{CLASS_GROUP_PREFIX}{suffix}"
            msg = f"{where}: [{group}]: expected a class id after '{CLASS_GROUP_PREFIX}' (got '{suffix}')"
            raise ConfigError(msg)
        class_id = int(suffix[:digits])
        if class_id >= n:
            msg = (
                f"{where}: [{CLASS_GROUP_PREFIX}{suffix}]: class id {class_id} is not below num-detected-classes ({n})"
            )
            raise ConfigError(msg)
        attrs[class_id] = _apply_class_keys(attrs[class_id], group)
    return defaults, attrs


_FIELD_OF = {"minBoxes": "min_boxes", "threshold": "pre_cluster_threshold"}


def _apply_class_keys(base: ClassAttrs, group: dict[str, Setting]) -> ClassAttrs:
    changes = {}
    for key, setting in group.items():
        if key == "threshold":
            log.warning("%s: warning: 'threshold' is deprecated, use 'pre-cluster-threshold'", setting.where)
        name = _FIELD_OF.get(key, key.replace("-", "_"))
        value = setting.value
        changes[name] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(base, **changes)


def _check(cfg: InferConfig) -> None:
    if cfg.unique_id < 1:
        raise cfg.error("gie-unique-id", "required: set gie-unique-id to a positive number that names this stage")
    nt = cfg.network_type
    if nt == INSTANCE_SEGMENTATION:
        if not cfg["parse-bbox-instance-mask-func-name"]:
            raise cfg.error("network-type", "instance segmentation (3) needs parse-bbox-instance-mask-func-name")
        if cfg["cluster-mode"] != 4:
            raise cfg.error(
                "cluster-mode", f"instance segmentation supports only cluster-mode 4 (got {cfg['cluster-mode']})"
            )
    if cfg["output-instance-mask"] and cfg["cluster-mode"] != 4:
        raise cfg.error("output-instance-mask", f"needs cluster-mode 4 (got {cfg['cluster-mode']})")
    if cfg["scaling-compute-hw"] == 2:
        raise cfg.error("scaling-compute-hw", "2 (VIC) exists only on Jetson; use 0 or 1")
    if cfg["model-parser-func-name"] and not cfg["model-file"]:
        raise cfg.error("model-parser-func-name", "needs model-file: the file in the custom format it reads")
    if not (cfg["onnx-file"] or cfg["engine-create-func-name"] or cfg["model-parser-func-name"]):
        if cfg["model-engine-file"]:
            raise cfg.error(
                "model-engine-file",
                "a serialized TensorRT engine alone cannot run on the onnxruntime backend: set onnx-file to the model",
            )
        raise ConfigError(
            f"{cfg.origin}: no model: set onnx-file "
            "(or engine-create-func-name, or model-parser-func-name with model-file)"
        )
    for key in ("onnx-file", "labelfile-path", "mean-file"):  # model-file is read by the custom function
        if cfg[key] and not os.path.isfile(cfg[key]):
            raise cfg.error(key, f"file not found: {cfg[key]}")
