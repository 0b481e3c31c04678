"""Endpoints with weighted production variants, each served by its own model server
process (the SageMaker container contract, ``serving.server``), behind a router that keeps
what SageMaker's front end does: weights, ``TargetVariant``, SageMaker-format data capture
and per-variant CloudWatch-style metrics.

Model servers belong to the process that invokes (``serving.pool``) and run in the sandbox
(``platform.sandbox``): a deploy starts each variant's server, so the check that a model loads
is its server's own start, never a load in the deploying process.
A request whose server dropped it (killed, restarting) is sent again: to another live
variant when it was routed by weight, to the same variant when the caller named it
(``TargetVariant``, e.g. an A/B test's arm: a user is never served by the other arm)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from findining_mlops.data import capture
from findining_mlops.errors import ArchiveRefused, EndpointError
from findining_mlops.platform.local.db import StateDB
from findining_mlops.platform.local.metrics import LocalMetrics
from findining_mlops.platform.local.store import LocalArtifactStore
from findining_mlops.platform.ports import (
    Endpoint,
    Invocation,
    MetricDatum,
    ProductionVariant,
    check_variants,
    check_weights,
)
from findining_mlops.platform.sandbox import sandbox_root, unpack
from findining_mlops.serving.server.model_server import invocation_error
from findining_mlops.serving.server.pool import (
    ModelServer,
    ServerPool,
    ServerSpec,
    ServerStatus,
    ServerUnavailable,
    shared_pool,
)
from findining_mlops.store import layout

# serving from many threads (a traffic run) is this runtime's normal case, not a misuse
warnings.filterwarnings("ignore", message=r".*sklearn\.utils\.parallel\.delayed.*")
IN_SERVICE = "InService"
SAGEMAKER_NAMESPACE = "AWS/SageMaker"
METRIC_FLUSH_EVERY = 500
SERVING_NAMESPACE = "FindDining/Serving"
DEFAULT_TIMEOUT_S = 30.0  # a hung server cannot hold a caller forever
RESEND_ATTEMPTS = 3  # a request a dying server dropped is sent again at most this often


class ModelServing(NamedTuple):
    """How a model's servers run: the inference module they import and their worker processes."""

    inference_module: str
    workers: int


class LocalEndpoints:
    """:param serving: how each model (by name) is served; the platform's factory reads it from the catalog."""

    def __init__(self, db: StateDB, store: LocalArtifactStore, metrics: LocalMetrics,
                 serving: Callable[[str], ModelServing], seed: int | None = None):
        self.db = db
        self.serving = serving
        self.store = store
        self.metrics = metrics
        self._rng = random.Random(seed)
        self._served_by: dict[str, tuple[str, str]] = {}  # model dir -> (endpoint, variant) last served
        self._pool: ServerPool | None = None
        self._lock = threading.Lock()
        self._pending: list[MetricDatum] = []
        self._runtime_id = uuid.uuid4().hex[:12]

    # -- control plane ---------------------------------------------------------------
    def deploy(self, endpoint_name: str, variants: list[ProductionVariant], *, wait: bool = True) -> Endpoint:
        """Instant here, so ``wait`` changes nothing: the endpoint is in service on return."""
        check_variants(endpoint_name, variants)
        for variant in variants:  # like SageMaker: a model that cannot load never takes traffic
            self._start_server(variant)
        payload = json.dumps([asdict(v) for v in variants], sort_keys=True)
        config_name = f"{endpoint_name}-config-{hashlib.sha256(payload.encode()).hexdigest()[:10]}"
        now = _now()
        weights = json.dumps({v.variant_name: v.weight for v in variants})
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO endpoint_configs VALUES (?,?,?,?)", (config_name, endpoint_name, payload, now)
            )
            conn.execute(
                "INSERT INTO endpoints VALUES (?,?,?,?,?) ON CONFLICT(endpoint) DO UPDATE SET "
                "config_name=excluded.config_name, status=excluded.status, weights=excluded.weights, "
                "updated_at=excluded.updated_at",
                (endpoint_name, config_name, IN_SERVICE, weights, now),
            )
        return self._require(endpoint_name)

    def update_weights(self, endpoint_name: str, weights: dict[str, float], *, wait: bool = True) -> Endpoint:
        current = self._require(endpoint_name)
        names = {v.variant_name for v in current.variants}
        unknown = set(weights) - names
        if unknown:
            raise EndpointError(f"endpoint {endpoint_name} has no variant(s) {sorted(unknown)}; it has {sorted(names)}")
        merged = {v.variant_name: float(weights.get(v.variant_name, v.weight)) for v in current.variants}
        check_weights(endpoint_name, merged)
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE endpoints SET weights=?, updated_at=? WHERE endpoint=?",
                (json.dumps(merged), _now(), endpoint_name),
            )
        return self._require(endpoint_name)

    def settle(self, endpoint_name: str, variants: list[ProductionVariant]) -> Endpoint:
        """Changes are instant here: the endpoint, checked to serve these variants."""
        endpoint = self._require(endpoint_name)
        served = {(v.variant_name, v.model_version, v.artifact_uri) for v in endpoint.variants}
        if served != {(v.variant_name, v.model_version, v.artifact_uri) for v in variants}:
            raise EndpointError(f"endpoint {endpoint_name} serves {sorted(served)}, not the variants asked for")
        return self.update_weights(endpoint_name, {v.variant_name: v.weight for v in variants})

    def describe(self, endpoint_name: str) -> Endpoint | None:
        with self.db.reader() as conn:
            row = conn.execute("SELECT * FROM endpoints WHERE endpoint=?", (endpoint_name,)).fetchone()
            if row is None:
                return None
            config = conn.execute("SELECT variants FROM endpoint_configs WHERE config_name=?",
                                  (row["config_name"],)).fetchone()
        weights = json.loads(row["weights"])
        variants = tuple(
            ProductionVariant(**{**v, "weight": weights.get(v["variant_name"], v["weight"])})
            for v in json.loads(config["variants"])
        )
        return Endpoint(row["endpoint"], row["status"], row["config_name"], variants, row["updated_at"])

    def list_endpoints(self) -> list[Endpoint]:
        with self.db.reader() as conn:
            names = [r["endpoint"] for r in conn.execute("SELECT endpoint FROM endpoints ORDER BY endpoint")]
        return [endpoint for name in names if (endpoint := self.describe(name)) is not None]

    def acquire_deployment_lock(self, endpoint_name: str, owner: str) -> str | None:
        with self.db.transaction() as conn:
            holder = conn.execute("SELECT owner FROM deployment_locks WHERE endpoint=?", (endpoint_name,)).fetchone()
            if holder and holder["owner"] != owner:
                return holder["owner"]
            conn.execute("INSERT OR REPLACE INTO deployment_locks VALUES (?,?,?)", (endpoint_name, owner, _now()))
        return None

    def release_deployment_lock(self, endpoint_name: str, owner: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM deployment_locks WHERE endpoint=? AND owner=?", (endpoint_name, owner))

    # -- data plane ------------------------------------------------------------------
    def invoke(self, endpoint_name: str, body: bytes, *, content_type: str = "application/json",
               target_variant: str | None = None, inference_id: str | None = None,
               event_time: datetime | None = None, timeout_s: float | None = None) -> Invocation:
        endpoint = self._require(endpoint_name)
        variant = self._route(endpoint, target_variant)
        inference_id = inference_id or str(uuid.uuid4())
        event_time = event_time or datetime.now(UTC)
        tried: list[str] = []
        for attempt in range(RESEND_ATTEMPTS):
            started = time.perf_counter()
            spec = self._server_spec(variant)
            self._served_by[spec.model_dir] = (endpoint_name, variant.variant_name)
            try:
                response = self.servers.invoke(spec, body, content_type,
                                               DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s)
                break
            except ServerUnavailable as exc:
                tried.append(variant.variant_name)
                if attempt == RESEND_ATTEMPTS - 1:
                    self._record(endpoint_name, variant.variant_name, event_time, 0.0, error=True)
                    raise EndpointError(f"ServiceUnavailable: {endpoint_name} could not serve inference "
                                        f"{inference_id} (variants tried: {tried}): {exc}") from exc
                if target_variant is None:  # routed by weight: any live variant may take it
                    variant = self._failover(endpoint, variant)
            except EndpointError:  # the time-out: the caller's budget is spent
                self._record(endpoint_name, variant.variant_name, event_time, time.perf_counter() - started, error=True)
                raise
        latency = time.perf_counter() - started
        if response.status_code >= 400:  # worded as SageMaker's ModelError, counted 4XX or 5XX like CloudWatch
            message = invocation_error(response.status_code, response.content)
            client_error = response.status_code < 500
            self._record(endpoint_name, variant.variant_name, event_time, latency, error=not client_error,
                         client_error=client_error)
            raise EndpointError(f"ModelError: variant {variant.variant_name} of {endpoint_name} failed on inference "
                                f"{inference_id}: Received {'client' if client_error else 'server'} error "
                                f"({response.status_code}) from the model with message: {message}")
        output_bytes = response.content
        self._capture(endpoint_name, variant.variant_name, body, content_type, output_bytes, inference_id, event_time)
        self._record(endpoint_name, variant.variant_name, event_time, latency, error=False)
        return Invocation(output_bytes, "application/json", variant.variant_name, inference_id, latency * 1000)

    @property
    def servers(self) -> ServerPool:
        """This process's model servers (started on the first invocation, not by a deploy)."""
        if self._pool is None:
            self._pool = shared_pool()
            self._pool.on_restart(self._restarted)
        return self._pool

    def server_status(self, endpoint_name: str) -> dict[str, ServerStatus]:
        """Per variant of the endpoint, its model server in this process (url, pids,
        restarts), or nothing for a variant not served here yet."""
        endpoint = self._require(endpoint_name)
        found = {v.variant_name: self.servers.find(self._server_spec(v)) for v in endpoint.variants}
        return {name: server.status() for name, server in found.items() if server is not None}

    def flush(self) -> None:
        """Write buffered metrics; called by the buffer and at the end of a traffic run."""
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            self.metrics.put(SAGEMAKER_NAMESPACE, pending)

    def _route(self, endpoint: Endpoint, target_variant: str | None) -> ProductionVariant:
        if target_variant is not None:
            for variant in endpoint.variants:
                if variant.variant_name == target_variant:
                    return variant
            raise EndpointError(f"endpoint {endpoint.name} has no variant {target_variant!r}")
        live = [v for v in endpoint.variants if v.weight > 0]
        with self._lock:
            return self._rng.choices(live, weights=[v.weight for v in live])[0]

    def _failover(self, endpoint: Endpoint, failed: ProductionVariant) -> ProductionVariant:
        """Another variant taking traffic, else the same one (its restarted server)."""
        others = [v for v in endpoint.variants if v.weight > 0 and v.variant_name != failed.variant_name]
        if not others:
            return failed
        with self._lock:
            return self._rng.choices(others, weights=[v.weight for v in others])[0]

    def _model_dir(self, variant: ProductionVariant) -> Path:
        key = f"{variant.model_name}/{variant.model_version}/{variant.artifact_uri}"
        # unpacked once per machine, under the sandbox root, where its sandboxed server can read it
        model_dir = sandbox_root() / "models" / variant.model_name / hashlib.sha256(key.encode()).hexdigest()[:16]
        if not model_dir.exists():
            _unpack_once(Path(_uri_path(variant.artifact_uri)), model_dir)
        return model_dir

    def _server_spec(self, variant: ProductionVariant) -> ServerSpec:
        serving = self.serving(variant.model_name)
        return ServerSpec.started_here(serving.inference_module, str(self._model_dir(variant)), serving.workers)

    def _start_server(self, variant: ProductionVariant) -> None:
        """The variant's model server, started and answering ``/ping``; an error names the
        variant and carries the server's own reason."""
        try:
            self.servers.server(self._server_spec(variant))
        except EndpointError as exc:
            raise EndpointError(
                f"variant {variant.variant_name}: model {variant.model_name} v{variant.model_version} "
                f"does not load from {variant.artifact_uri}: {exc}"
            ) from exc

    def _restarted(self, server: ModelServer) -> None:
        """A worker of a model server this router sends to died and was restarted: counted,
        as ``ModelServerRestarts`` of the endpoint and variant it last served."""
        served = self._served_by.get(server.spec.model_dir)
        if served is None:
            return
        dims = {"EndpointName": served[0], "VariantName": served[1]}
        self.metrics.put(SERVING_NAMESPACE, [MetricDatum("ModelServerRestarts", 1.0, dims, datetime.now(UTC),
                                                         "Count")])

    def _capture(self, endpoint: str, variant: str, body: bytes, content_type: str, output: bytes,
                 inference_id: str, event_time: datetime) -> None:
        record = capture.capture_record(body, content_type, output, "application/json", inference_id, event_time)
        key = layout.capture_key(endpoint, variant, event_time, f"{self._runtime_id}-{os.getpid()}")
        path = self.store.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def _record(self, endpoint: str, variant: str, when: datetime, latency_s: float, *, error: bool,
                client_error: bool = False) -> None:
        dims = {"EndpointName": endpoint, "VariantName": variant}
        points = [
            MetricDatum("Invocations", 1.0, dims, when, "Count"),
            MetricDatum("Invocation4XXErrors", 1.0 if client_error else 0.0, dims, when, "Count"),
            MetricDatum("Invocation5XXErrors", 1.0 if error else 0.0, dims, when, "Count"),
        ]
        if not (error or client_error):
            points.append(MetricDatum("ModelLatency", latency_s * 1e6, dims, when, "Microseconds"))
        with self._lock:
            self._pending.extend(points)
            full = len(self._pending) >= METRIC_FLUSH_EVERY
        if full:
            self.flush()

    def _require(self, endpoint_name: str) -> Endpoint:
        endpoint = self.describe(endpoint_name)
        if endpoint is None:
            raise EndpointError(f"ValidationError: endpoint {endpoint_name} does not exist")
        return endpoint


def _unpack_once(archive: Path, target: Path) -> None:
    """Unpacks in the sandbox beside ``target``, then renames: a folder at ``target`` is always
    whole, and of two processes unpacking the same model one keeps its copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        unpack(archive, staging)
    except ArchiveRefused as exc:
        raise EndpointError(f"model artifact {archive} {exc}") from exc
    try:
        staging.rename(target)
    except OSError:  # another process unpacked it first
        shutil.rmtree(staging, ignore_errors=True)


def _uri_path(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
