"""The local model registry: numbered versions per model, idempotent registration,
immutable artifact copies at ``models/<model>/<version>/model.tar.gz``, SageMaker
approval statuses, and safe registration from several processes at once."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from findining_mlops.errors import FindiningError, ImmutableArtifactError, RegistryError
from findining_mlops.platform.ports import APPROVED, PENDING, REJECTED, CheckedArtifact
from findining_mlops.store.layout import model_artifact_key


def _artifact(platform, model: str, job: str, data: bytes) -> str:
    key = f"training/{model}/{job}/output/model.tar.gz"
    platform.store.write_bytes(key, data)
    return key


def _register(platform, model: str, key: str, idempotency_key: str, status: str = PENDING):
    return platform.registry.register(
        model, key, status=status, metrics={"macro_f1": 0.8}, lineage={"training_job": idempotency_key},
        reason="test", idempotency_key=idempotency_key,
    )


def test_a_checked_artifact_is_copied_only_with_the_checked_bytes(platform):
    """The local store keeps no versions: the sha256 names the checked bytes, and bytes
    written over them since are refused, naming both hashes, with nothing registered."""
    import hashlib

    key = _artifact(platform, "m", "upload", b"checked")
    assert platform.store.version_id(key) == ""
    checked = CheckedArtifact("", hashlib.sha256(b"checked").hexdigest())
    platform.store.write_bytes(key, b"written over")
    found = hashlib.sha256(b"written over").hexdigest()
    with pytest.raises(RegistryError, match=f"{key} is not the object that was checked: the check read sha256 "
                                            f"{checked.sha256}, the registration found sha256 {found}"):
        platform.registry.register("m", key, status=APPROVED, metrics={}, lineage={}, reason="test",
                                   idempotency_key="upload", checked=checked)
    assert platform.registry.list_versions("m") == [] and not platform.store.exists(model_artifact_key("m", 1))

    platform.store.write_bytes(key, b"checked")
    version = platform.registry.register("m", key, status=APPROVED, metrics={}, lineage={}, reason="test",
                                         idempotency_key="upload", checked=checked)
    assert platform.store.read_bytes(version.artifact_key) == b"checked"
    with pytest.raises(FindiningError, match="the local store keeps no versions"):
        platform.store.read_bytes(key, "3HL4kqtJlcpXroDTDmJ")


# -- versions ----------------------------------------------------------------------------
def test_versions_count_up_from_one_per_model(platform):
    versions = [
        _register(platform, "m", _artifact(platform, "m", f"job{i}", f"model-bytes-{i}".encode()), f"job{i}").version
        for i in (1, 2, 3)
    ]
    assert versions == [1, 2, 3]
    assert [v.version for v in platform.registry.list_versions("m")] == [1, 2, 3]


def test_each_model_has_its_own_version_sequence(platform):
    a1 = _register(platform, "alpha", _artifact(platform, "alpha", "j1", b"a1"), "j1")
    a2 = _register(platform, "alpha", _artifact(platform, "alpha", "j2", b"a2"), "j2")
    b1 = _register(platform, "beta", _artifact(platform, "beta", "j1", b"b1"), "j1")
    assert (a1.version, a2.version, b1.version) == (1, 2, 1)
    assert [v.version for v in platform.registry.list_versions("beta")] == [1]
    assert [(v.model_name, v.version) for v in platform.registry.list_versions()] == [
        ("alpha", 1), ("alpha", 2), ("beta", 1)
    ]


def test_a_registered_version_records_what_was_registered(platform):
    key = _artifact(platform, "m", "job1", b"model-bytes-1")
    version = platform.registry.register(
        "m", key, status=APPROVED, metrics={"macro_f1": 0.81}, lineage={"training_job": "job1", "rows": 10},
        reason="scheduled", idempotency_key="job1",
    )
    stored = platform.registry.get("m", 1)
    assert stored == version
    assert (stored.status, stored.metrics, stored.lineage, stored.reason) == (
        APPROVED, {"macro_f1": 0.81}, {"training_job": "job1", "rows": 10}, "scheduled"
    )
    assert stored.artifact_key == model_artifact_key("m", 1) == "models/m/1/model.tar.gz"
    assert stored.artifact_uri == platform.store.uri("models/m/1/model.tar.gz")
    assert platform.store.read_bytes(stored.artifact_key) == b"model-bytes-1"


def test_getting_a_version_that_does_not_exist_raises_registry_error(platform):
    with pytest.raises(RegistryError, match="no version 7"):
        platform.registry.get("m", 7)


# -- idempotency -------------------------------------------------------------------------
def test_the_same_idempotency_key_registers_one_version(platform):
    key = _artifact(platform, "m", "job1", b"model-bytes-1")
    first = _register(platform, "m", key, "job1")
    again = _register(platform, "m", key, "job1")
    assert again.version == first.version == 1
    assert again == first
    assert len(platform.registry.list_versions("m")) == 1
    assert platform.store.list_keys("models/m/") == ["models/m/1/model.tar.gz"]


def test_a_retry_with_the_same_key_returns_the_first_registration_unchanged(platform):
    first = _register(platform, "m", _artifact(platform, "m", "job1", b"model-bytes-1"), "job1", status=PENDING)
    retry = platform.registry.register(
        "m", _artifact(platform, "m", "job1-retry", b"other-bytes"), status=APPROVED, metrics={"x": 1},
        lineage={}, reason="retry", idempotency_key="job1",
    )
    assert retry == first
    assert platform.store.read_bytes(retry.artifact_key) == b"model-bytes-1"


def test_a_new_idempotency_key_registers_a_new_version(platform):
    key = _artifact(platform, "m", "job1", b"model-bytes-1")
    assert _register(platform, "m", key, "job1").version == 1
    assert _register(platform, "m", key, "job2").version == 2


# -- immutable artifacts -----------------------------------------------------------------
def test_an_immutable_write_to_an_existing_key_raises(platform):
    platform.store.write_bytes("artifacts/a.bin", b"x", immutable=True)
    with pytest.raises(ImmutableArtifactError):
        platform.store.write_bytes("artifacts/a.bin", b"x", immutable=True)
    with pytest.raises(ImmutableArtifactError):
        platform.store.write_bytes("artifacts/a.bin", b"y", immutable=True)
    assert platform.store.read_bytes("artifacts/a.bin") == b"x"
    assert platform.store.list_keys("artifacts/") == ["artifacts/a.bin"]  # no temp file left behind


def test_registered_artifacts_keep_their_original_bytes(platform):
    source = _artifact(platform, "m", "job1", b"model-bytes-1")
    v1 = _register(platform, "m", source, "job1")
    # the training output is overwritten (a re-run) and registered again as v2
    platform.store.write_bytes(source, b"model-bytes-2")
    v2 = _register(platform, "m", source, "job2")
    with pytest.raises(ImmutableArtifactError):
        platform.store.write_bytes(model_artifact_key("m", 1), b"tampered", immutable=True)
    with pytest.raises(ImmutableArtifactError):
        platform.store.upload_file(platform.store.path(source), model_artifact_key("m", 1), immutable=True)
    assert platform.store.read_bytes(v1.artifact_key) == b"model-bytes-1"
    assert platform.store.read_bytes(v2.artifact_key) == b"model-bytes-2"


def test_registering_over_a_foreign_artifact_fails_and_changes_nothing(platform):
    _register(platform, "m", _artifact(platform, "m", "job1", b"model-bytes-1"), "job1")
    # somebody else's file already sits where version 2 would go
    platform.store.write_bytes(model_artifact_key("m", 2), b"foreign-bytes", immutable=True)
    with pytest.raises(RegistryError, match="v2"):
        _register(platform, "m", _artifact(platform, "m", "job2", b"model-bytes-2"), "job2")
    assert [v.version for v in platform.registry.list_versions("m")] == [1]
    assert platform.store.read_bytes(model_artifact_key("m", 2)) == b"foreign-bytes"
    # nothing remembers the failed attempt: once the path is free, the same job registers as v2
    platform.store.delete_prefix("models/m/2/")
    retried = _register(platform, "m", _artifact(platform, "m", "job2", b"model-bytes-2"), "job2")
    assert retried.version == 2
    assert platform.store.read_bytes(retried.artifact_key) == b"model-bytes-2"


def test_an_artifact_left_by_an_uncommitted_attempt_with_the_same_bytes_is_reused(platform):
    # an earlier attempt copied the artifact and died before committing its row
    platform.store.write_bytes(model_artifact_key("m", 1), b"model-bytes-1", immutable=True)
    version = _register(platform, "m", _artifact(platform, "m", "job1", b"model-bytes-1"), "job1")
    assert version.version == 1
    assert platform.store.read_bytes(version.artifact_key) == b"model-bytes-1"


# -- approval statuses -------------------------------------------------------------------
def test_rejecting_a_version_records_the_note(platform):
    _register(platform, "m", _artifact(platform, "m", "job1", b"model-bytes-1"), "job1")
    updated = platform.registry.update_status("m", 1, REJECTED, note="macro_f1 below 0.60")
    assert (updated.status, updated.status_note) == (REJECTED, "macro_f1 below 0.60")
    stored = platform.registry.get("m", 1)
    assert (stored.status, stored.status_note) == (REJECTED, "macro_f1 below 0.60")
    assert stored.to_dict()["status_note"] == "macro_f1 below 0.60"


@pytest.mark.parametrize("status", ["approved", "Deployed", ""])
def test_a_status_that_sagemaker_does_not_know_is_refused(platform, status):
    key = _artifact(platform, "m", "job1", b"model-bytes-1")
    with pytest.raises(RegistryError, match="approval status"):
        _register(platform, "m", key, "job1", status=status)
    assert platform.registry.list_versions("m") == []
    _register(platform, "m", key, "job1")
    with pytest.raises(RegistryError, match="approval status"):
        platform.registry.update_status("m", 1, status)
    assert platform.registry.get("m", 1).status == PENDING


def test_updating_the_status_of_a_missing_version_raises(platform):
    with pytest.raises(RegistryError, match="no version 3"):
        platform.registry.update_status("m", 3, APPROVED)


def test_latest_returns_the_newest_version_with_the_status(platform):
    for i in (1, 2, 3, 4):
        _register(platform, "m", _artifact(platform, "m", f"job{i}", f"b{i}".encode()), f"job{i}")
    platform.registry.update_status("m", 1, APPROVED)
    platform.registry.update_status("m", 3, APPROVED)
    platform.registry.update_status("m", 4, REJECTED)
    assert platform.registry.latest("m", APPROVED).version == 3
    assert platform.registry.latest("m").version == 3  # Approved is the default
    assert platform.registry.latest("m", REJECTED).version == 4
    assert platform.registry.latest("m", PENDING).version == 2
    assert platform.registry.latest("other", APPROVED) is None


# -- concurrency -------------------------------------------------------------------------
_barrier = None


def _init_worker(barrier) -> None:
    global _barrier
    _barrier = barrier


def _register_in_own_process(home: str, job: str) -> int:
    """Runs in a spawned process with its own platform on the shared home."""
    from findining_mlops.platform.local import local_platform

    platform = local_platform(Path(home))
    key = f"training/m/{job}/output/model.tar.gz"
    platform.store.write_bytes(key, f"model-bytes-{job}".encode())
    _barrier.wait(timeout=120)  # all registrations start together
    return platform.registry.register(
        "m", key, status=PENDING, metrics={}, lineage={"training_job": job}, reason="concurrent",
        idempotency_key=job,
    ).version


def _register_concurrently(home: Path, jobs: list[str]) -> list[int]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(jobs))
    with ProcessPoolExecutor(len(jobs), mp_context=context, initializer=_init_worker, initargs=(barrier,)) as pool:
        futures = [pool.submit(_register_in_own_process, str(home), job) for job in jobs]
        return [f.result(timeout=180) for f in futures]


@pytest.mark.parametrize("processes", [2, 8])
def test_concurrent_registrations_all_succeed_with_distinct_versions(home, platform, processes):
    jobs = [f"job{i}" for i in range(processes)]
    versions = _register_concurrently(home, jobs)
    assert sorted(versions) == list(range(1, processes + 1))
    registered = platform.registry.list_versions("m")
    assert [v.version for v in registered] == list(range(1, processes + 1))
    # each version holds the bytes of the job that registered it
    for job, version in zip(jobs, versions, strict=False):
        stored = platform.registry.get("m", version)
        assert stored.lineage == {"training_job": job}
        assert platform.store.read_bytes(stored.artifact_key) == f"model-bytes-{job}".encode()


def test_concurrent_retries_of_one_job_register_it_once(home, platform):
    versions = _register_concurrently(home, ["same-job"] * 4)
    assert versions == [1, 1, 1, 1]
    assert [v.version for v in platform.registry.list_versions("m")] == [1]
