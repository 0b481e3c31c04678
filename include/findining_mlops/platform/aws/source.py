"""What SageMaker's prebuilt scikit-learn container runs: the image URI (from sagemaker-core)
and the source tarball of script mode (``sagemaker_submit_directory``).

The tarball holds the whole ``findining_mlops`` package, so the container runs the same
training and inference modules as the local backend, plus two small generated entry scripts
(script mode runs a file, our entry points are modules) and a ``requirements.txt`` the
container installs at start. It is built reproducibly and stored under its content hash, so
the same code is uploaded once and a job's source is known by its key. It is written with
``If-None-Match: *``: an object already under the key is never replaced, and is accepted only
when its bytes are the bundle's (the bucket policy lets the management role create bundles,
never overwrite or delete one; only the deployer may, docs/aws.md "Least privilege").

Jobs and models run with network isolation, so the container cannot fetch the bundle itself:
SageMaker puts it in the container, as the ``code`` input channel of a training job and as an
additional model data source of a model (unpacked), and script mode is pointed at that path.

Jobs and endpoints run in private subnets with no route to the internet, so that
``requirements.txt`` never reaches an index (``--no-index``): what the code imports and the
image ships is only checked as installed, and whatever the image lacks travels in the bundle
as wheels for the image's platform (``wheels/``, manylinux x86_64 for its Python), downloaded
once at bundle-build time into a local cache (``FINDINING_WHEEL_CACHE``).

The bundle is read from disk once per process: the code a process deploys is the code it
started with. Read at every call, a file of the package edited while the process runs (a
checkout, an editor, a concurrent session) gave one process two bundles, so two identical
``deploy`` calls named two different SageMaker models and endpoint configs."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

import findining_mlops
from findining_mlops.config.catalog import ModelSpec
from findining_mlops.errors import ConfigurationError, ImmutableArtifactError
from findining_mlops.platform.ports import ArtifactStore
from findining_mlops.store.layout import source_bundle_key

TRAIN_PROGRAM, SERVE_PROGRAM = "findining_train.py", "findining_serve.py"
# where SageMaker puts the bundle for an isolated container: a training job's input channel (the
# tarball itself), a model's additional data source (unpacked: SageMaker untars a Gzip source)
CODE_CHANNEL = "code"
TRAINING_SUBMIT_DIRECTORY = f"/opt/ml/input/data/{CODE_CHANNEL}/sourcedir.tar.gz"
SERVING_SUBMIT_DIRECTORY = f"/opt/ml/additional-model-data-sources/{CODE_CHANNEL}"
WHEELS = "wheels"  # the bundle's folder of vendored wheels
# the third-party distributions the training and serving code imports
RUNTIME_REQUIREMENTS = ("numpy", "pandas", "pyarrow", "scikit-learn", "scipy")
# x86_64 with glibc 2.34 (Amazon Linux 2023, the 1.9-0 image): pip takes it to mean every older
# manylinux too (manylinux2014 = 2_17); pyarrow publishes manylinux_2_28 wheels only
PLATFORM = "manylinux_2_34_x86_64"
MANYLINUX_X86_64 = [f"manylinux_2_{minor}_x86_64" for minor in range(34, 16, -1)] + ["manylinux2014_x86_64"]


@dataclass(frozen=True)
class SklearnImage:
    """What a prebuilt scikit-learn image runs and ships (aws/deep-learning-containers,
    docker/sklearn/<version>: its Dockerfile's PYTHON_VERSION and its pinned packages)."""

    python: tuple[int, int]
    ships: frozenset[str]

    def tags(self) -> set[Tag]:
        """The wheel tags pip in the container accepts."""
        return set(cpython_tags(self.python, platforms=MANYLINUX_X86_64)) | set(
            compatible_tags(self.python, platforms=MANYLINUX_X86_64))


# both images pin every distribution the code imports (pyarrow 25.0.0 and 23.0.1 respectively)
_SHIPPED = frozenset(RUNTIME_REQUIREMENTS)
# by FINDINING_SKLEARN_FRAMEWORK_VERSION
SKLEARN_IMAGES = {
    "1.9-0": SklearnImage(python=(3, 12), ships=_SHIPPED),
    "1.4-2-py312": SklearnImage(python=(3, 12), ships=_SHIPPED),
}

_TRAIN = '''"""SageMaker script-mode entry point: runs {module} as __main__ (hyperparameters arrive as --name value)."""
import runpy

runpy.run_module({module!r}, run_name="__main__", alter_sys=True)
'''
_SERVE = '''"""SageMaker scikit-learn serving entry point: the handlers of {module}."""
from findining_mlops.serving.server.handlers import load_handlers, with_fault_injection

_handlers = load_handlers({module!r})


def model_fn(model_dir):
    global _handlers
    _handlers = with_fault_injection(_handlers, model_dir)  # a rollback drill's artifact misbehaves on purpose
    return _handlers.model_fn(model_dir)


def input_fn(body, content_type):
    return _handlers.input_fn(body, content_type)


def predict_fn(data, model):
    return _handlers.predict_fn(data, model)


def output_fn(prediction, accept):
    return _handlers.output_fn(prediction, accept)
'''


def image_uri(region: str, framework_version: str, scope: str) -> str:
    """The prebuilt scikit-learn image (``scope``: training | inference) of the region."""
    return _image_uri(region, framework_version, scope)


@lru_cache(maxsize=8)
def _image_uri(region: str, framework_version: str, scope: str) -> str:
    from sagemaker.core import image_uris  # ~3 s to import: only when a job or model is created

    return image_uris.retrieve("sklearn", region=region, version=framework_version, py_version="py3",
                               instance_type="ml.m5.large", image_scope=scope)


def sklearn_image(framework_version: str) -> SklearnImage:
    try:
        return SKLEARN_IMAGES[framework_version]
    except KeyError:
        raise ConfigurationError(
            f"FINDINING_SKLEARN_FRAMEWORK_VERSION={framework_version!r}: the Python and packages of that image are not "
            f"known here, so its source bundle cannot carry what it lacks; "
            f"use one of {', '.join(SKLEARN_IMAGES)}") from None


def source_tarball(spec: ModelSpec, framework_version: str) -> bytes:
    """The model's source bundle for the image; the same code gives the same bytes."""
    return _source_tarball(spec.training_module, spec.inference_module, framework_version)


@lru_cache(maxsize=16)
def _source_tarball(training_module: str, inference_module: str, framework_version: str) -> bytes:
    package = Path(findining_mlops.__file__).parent
    files = {f"findining_mlops/{p.relative_to(package).as_posix()}": p.read_bytes()
             for p in sorted(package.rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".toml")}
    files[TRAIN_PROGRAM] = _TRAIN.format(module=training_module).encode()
    files[SERVE_PROGRAM] = _SERVE.format(module=inference_module).encode()
    image = sklearn_image(framework_version)
    vendored = [_wheel(name, metadata.version(name), image) for name in RUNTIME_REQUIREMENTS
                if name not in image.ships]
    files.update({f"{WHEELS}/{wheel.name}": wheel.read_bytes() for wheel in vendored})
    files["requirements.txt"] = requirements(image, vendored).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def requirements(image: SklearnImage, vendored: list[Path]) -> str:
    """pip's instructions in the container: never an index; what the image ships is checked as
    installed, each vendored wheel installed from the bundle (the container runs pip in the
    bundle's folder)."""
    lines = ["# installed by the SageMaker scikit-learn container at start, with no internet: no index",
             "--no-index", f"--find-links {WHEELS}"]
    lines += sorted(name for name in RUNTIME_REQUIREMENTS if name in image.ships)
    lines += [f"{name}=={version}" for name, version, *_ in sorted(parse_wheel_filename(w.name) for w in vendored)]
    return "\n".join(lines) + "\n"


def wheel_cache() -> Path:
    return Path(os.environ.get("FINDINING_WHEEL_CACHE") or Path.home() / ".cache" / "findining-mlops" / "wheels")


def _wheel(name: str, version: str, image: SklearnImage) -> Path:
    """The wheel of ``name==version`` for the image's platform: from the cache, else downloaded
    into it once (binary only: nothing is built for a platform this machine is not)."""
    folder = wheel_cache() / f"cp{image.python[0]}{image.python[1]}-{PLATFORM}"
    found, failure = _matching(folder, name, version, image), ""
    if found is None:
        folder.mkdir(parents=True, exist_ok=True)
        failure = _download(f"{name}=={version}", image, folder)
        found = _matching(folder, name, version, image)
    if found is None:
        raise ConfigurationError(
            f"no wheel of {name}=={version} for Python {image.python[0]}.{image.python[1]} on manylinux x86_64 "
            f"in {folder} ({failure.strip() or 'pip downloaded none'}); "
            f"the training and serving image lacks {name}: on a machine with internet run `pip download "
            f"--only-binary=:all: --no-deps --platform {PLATFORM} --python-version {image.python[0]}.{image.python[1]} "
            f"-d {folder} {name}=={version}` and copy the wheel there (FINDINING_WHEEL_CACHE)")
    return found


def _matching(folder: Path, name: str, version: str, image: SklearnImage) -> Path | None:
    if not folder.is_dir():
        return None
    for wheel in sorted(folder.glob("*.whl")):
        wheel_name, wheel_version, _, tags = parse_wheel_filename(wheel.name)
        if wheel_name == canonicalize_name(name) and str(wheel_version) == version and tags & image.tags():
            return wheel
    return None


def _download(requirement: str, image: SklearnImage, folder: Path) -> str:
    """``pip download`` for the image's platform; returns pip's complaint, if any, for the
    caller to report with what to do instead (no index reachable from this machine)."""
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
                    "--platform", PLATFORM, "--python-version", f"{image.python[0]}.{image.python[1]}",
                    "--implementation", "cp", "--dest", str(folder), requirement],
                          check=False, capture_output=True, text=True, timeout=600)
    return done.stderr if done.returncode else ""


def upload_source(store: ArtifactStore, spec: ModelSpec, framework_version: str) -> str:
    """``code/<model>/<sha256>/sourcedir.tar.gz`` in the store, written once; returns its URI.

    An object already there is the same bundle only if its bytes are: the key holds 16 hex digits
    of the hash, and a different object under it means someone wrote code/ who should not have."""
    data = source_tarball(spec, framework_version)
    key = source_bundle_key(spec.name, data)
    try:
        return store.write_bytes(key, data, immutable=True)
    except ImmutableArtifactError:
        existing = store.read_bytes(key)
    if existing != data:
        raise ImmutableArtifactError(
            f"{store.uri(key)} holds other bytes than the source bundle of {spec.name} it is named for "
            f"(sha256 {hashlib.sha256(existing).hexdigest()}, expected {hashlib.sha256(data).hexdigest()}); "
            f"it is never overwritten: the deployer deletes it (docs/aws.md \"Least privilege\") after finding "
            f"who wrote it")
    return store.uri(key)
