"""Training and serving with no internet: the source bundle's requirements.txt, which the
scikit-learn container pip-installs at start in subnets with no NAT, never reaches an index;
what the image lacks travels in the bundle as wheels for the image's platform (downloaded
once into a cache at bundle-build time, never in a test)."""

from __future__ import annotations

import ast
import functools
import io
import tarfile
from importlib import metadata

import pytest
from packaging.utils import parse_wheel_filename

from findining_mlops.config.catalog import get_model


@pytest.fixture
def source(monkeypatch, tmp_path):
    """The bundle builder with an empty process cache and its own wheel cache."""
    from findining_mlops.platform.aws import source

    monkeypatch.setenv("FINDINING_WHEEL_CACHE", str(tmp_path / "wheels"))
    monkeypatch.setattr(source, "_source_tarball", functools.lru_cache(maxsize=16)(source._source_tarball.__wrapped__))
    return source


def bundle(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {member.name: tar.extractfile(member).read() for member in tar.getmembers()}


def install_lines(requirements: bytes) -> list[str]:
    return [line for line in requirements.decode().splitlines() if line and not line.startswith("#")]


def test_the_default_image_s_bundle_asks_no_index_for_anything(source):
    """The scikit-learn 1.9-0 image (Python 3.12) ships every distribution the code imports,
    pyarrow included: pip only checks them, and the local pin (another pyarrow) is not asked for."""
    files = bundle(source.source_tarball(get_model("sentiment"), "1.9-0"))
    lines = install_lines(files["requirements.txt"])
    assert lines[:2] == ["--no-index", "--find-links wheels"]
    assert sorted(lines[2:]) == sorted(source.RUNTIME_REQUIREMENTS)  # checked as installed, no pin to fetch
    assert not [name for name in files if name.startswith("wheels/")]
    assert source.SKLEARN_IMAGES["1.9-0"].python == (3, 12)


def test_what_the_image_lacks_ships_as_a_wheel_for_its_platform(source, monkeypatch, tmp_path):
    lean = source.SklearnImage(python=(3, 12), ships=source.SKLEARN_IMAGES["1.9-0"].ships - {"pyarrow"})
    monkeypatch.setitem(source.SKLEARN_IMAGES, "lean", lean)
    version = metadata.version("pyarrow")
    downloads = []

    def download(requirement, image, folder):  # what `pip download` leaves, without the network
        downloads.append((requirement, image.python))
        (folder / f"pyarrow-{version}-cp312-cp312-manylinux_2_28_x86_64.whl").write_bytes(b"wheel")
        (folder / f"pyarrow-{version}-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"another python's")
        return ""

    monkeypatch.setattr(source, "_download", download)
    files = bundle(source.source_tarball(get_model("sentiment"), "lean"))
    lines = install_lines(files["requirements.txt"])
    assert "--no-index" in lines and "--find-links wheels" in lines
    assert f"pyarrow=={version}" in lines and "pyarrow" not in lines
    [wheel] = [name for name in files if name.startswith("wheels/")]
    _, wheel_version, _, tags = parse_wheel_filename(wheel.removeprefix("wheels/"))
    assert str(wheel_version) == version and tags & lean.tags()  # cp312 on manylinux x86_64
    assert downloads == [(f"pyarrow=={version}", (3, 12))]

    monkeypatch.setattr(source, "_source_tarball", functools.lru_cache(maxsize=16)(source._source_tarball.__wrapped__))
    assert bundle(source.source_tarball(get_model("sentiment"), "lean")) == files
    assert len(downloads) == 1  # the second build takes the cached wheel


def test_a_wheel_that_cannot_be_had_fails_the_build_saying_how_to_provide_it(source, monkeypatch):
    from findining_mlops.errors import ConfigurationError

    lean = source.SklearnImage(python=(3, 12), ships=frozenset())
    monkeypatch.setitem(source.SKLEARN_IMAGES, "bare", lean)
    monkeypatch.setattr(source, "_download", lambda *_: "ERROR: Could not find a version (no network)")
    with pytest.raises(ConfigurationError, match=r"pip download --only-binary=:all: --no-deps --platform "
                                                 r"manylinux_2_34_x86_64 --python-version 3\.12") as error:
        source.source_tarball(get_model("sentiment"), "bare")
    assert "no network" in str(error.value) and "FINDINING_WHEEL_CACHE" in str(error.value)


def test_an_image_whose_python_is_unknown_is_refused_naming_the_setting(source):
    from findining_mlops.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="FINDINING_SKLEARN_FRAMEWORK_VERSION='0.23-1'"):
        source.source_tarball(get_model("sentiment"), "0.23-1")


def test_the_bundle_holds_the_package_and_its_entry_points_and_no_dev_tool(source):
    """What ships to a training job or an endpoint: ``findining_mlops`` and what script mode
    needs to run it, nothing of ``devtools`` (the demo, the cluster, the traffic simulator),
    and no module of the package that would import it."""
    files = bundle(source.source_tarball(get_model("sentiment"), "1.9-0"))
    assert {name for name in files if not name.startswith("findining_mlops/")} == {
        "requirements.txt", source.TRAIN_PROGRAM, source.SERVE_PROGRAM}
    assert "findining_mlops/models/sentiment/train.py" in files
    assert not [name for name in files if "devtools" in name.split("/")]
    importers = [name for name, data in files.items() if name.endswith(".py") and devtools_imports(data)]
    assert importers == []


def devtools_imports(code: bytes) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
    return [m for m in modules if m == "devtools" or m.startswith("devtools.")]
