"""What SageMaker's prebuilt scikit-learn container runs: the image URI (from sagemaker-core)
and the source tarball of script mode (``sagemaker_submit_directory``).

The tarball holds the whole ``findining_mlops`` package, so the container runs the same
training and inference modules as the local backend, plus two small generated entry scripts
(script mode runs a file, our entry points are modules) and a ``requirements.txt`` the
container installs. It is built reproducibly and stored under its content hash, so the
same code is uploaded once and a job's source is known by its key.

The bundle is read from disk once per process: the code a process deploys is the code it
started with. Read at every call, a file of the package edited while the process runs (a
checkout, an editor, a concurrent session) gave one process two bundles, so two identical
``deploy`` calls named two different SageMaker models and endpoint configs."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import findining_mlops
from findining_mlops.catalog import ModelSpec

TRAIN_PROGRAM, SERVE_PROGRAM = "findining_train.py", "findining_serve.py"
# what the container lacks of the training and serving code's imports; pinned as installed here
EXTRA_REQUIREMENTS = ("pyarrow",)

_TRAIN = '''"""SageMaker script-mode entry point: runs {module} as __main__ (hyperparameters arrive as --name value)."""
import runpy

runpy.run_module({module!r}, run_name="__main__", alter_sys=True)
'''
_SERVE = '''"""SageMaker scikit-learn serving entry point: the handlers of {module}."""
from findining_mlops.handlers import load_handlers, with_fault_injection

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


def source_tarball(spec: ModelSpec) -> bytes:
    """The model's source bundle; the same code gives the same bytes."""
    return _source_tarball(spec.training_module, spec.inference_module)


@lru_cache(maxsize=16)
def _source_tarball(training_module: str, inference_module: str) -> bytes:
    package = Path(findining_mlops.__file__).parent
    files = {f"findining_mlops/{p.relative_to(package).as_posix()}": p.read_bytes()
             for p in sorted(package.rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".toml")}
    files[TRAIN_PROGRAM] = _TRAIN.format(module=training_module).encode()
    files[SERVE_PROGRAM] = _SERVE.format(module=inference_module).encode()
    files["requirements.txt"] = "".join(f"{name}=={metadata.version(name)}\n" for name in EXTRA_REQUIREMENTS).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def upload_source(store, spec: ModelSpec) -> str:
    """``code/<model>/<sha256>/sourcedir.tar.gz`` in the store (uploaded once); returns its URI."""
    data = source_tarball(spec)
    key = f"code/{spec.name}/{hashlib.sha256(data).hexdigest()[:16]}/sourcedir.tar.gz"
    if not store.exists(key):
        store.write_bytes(key, data)
    return store.uri(key)
