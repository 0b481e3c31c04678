"""How a canary rollout ends, decided from values alone: the verdict of each look at a baking
ramp step — keep baking, ramp to the next step, promote, or roll back, with the alarms and
the reason — and the cause recorded for a rollout that stopped before it could finish.

The readings come in as values (``deployment.canary`` takes them from the metrics port and
the data capture) and the verdict goes out as a value (``deployment.rollout`` applies it to
the endpoint, the store and the registry), so every rule here is tested without either.

The alarms are the ones a SageMaker blue/green canary deployment with auto-rollback would
watch on the challenger variant (ModelLatency and Invocation5XXErrors in ``AWS/SageMaker``),
plus one CloudWatch cannot compute: how far the challenger's predictions move away from the
champion's on the same window's traffic. A model that answers fast and without errors but
says something else entirely is the failure a retrained model is most likely to have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from datetime import timedelta
from typing import Any, TypedDict

from findining_mlops.errors import DataValidationError

LATENCY, ERRORS, PREDICTION_SHIFT = "ModelLatency", "Invocation5XXErrors", "PredictionShift"
# what a look decides; the last two are also how a rollout ends (``Rollout.ending``)
BAKING, RAMP, PROMOTE, ROLLBACK = "baking", "ramp", "promote", "rollback"


def _threshold(default: float, why: str, **bounds: float) -> Any:
    """A threshold's default, and the JSON-schema bounds (``minimum``, ``exclusiveMinimum``,
    ``maximum``) that the DAG form and every ``CanaryThresholds`` hold it to, with why."""
    return field(default=default, metadata={"description": why, **bounds})


@dataclass(frozen=True)
class CanaryThresholds:
    """The seed's guardrails on the challenger variant during a bake window. Each is bounded
    so that no override can switch an alarm off: out of bounds is a DataValidationError here,
    and the model_deployment form (``thresholds_schema``) refuses it before any run starts."""

    max_model_latency_ms: float = _threshold(
        5000.0, "average ModelLatency in ms (recorded in microseconds); at most 60 000: a SageMaker real-time "
                "invocation times out at 60 s, so a higher threshold could never fire",
        exclusiveMinimum=0, maximum=60_000)
    max_error_rate: float = _threshold(
        0.05, "sum Invocation5XXErrors / sum Invocations; at most 0.5: a challenger failing half its requests "
              "is broken, and at 1 the alarm could never fire", minimum=0, maximum=0.5)
    max_prediction_shift: float = _threshold(
        0.2, "distance of the challenger's predictions from the champion's; a broken model (constant or "
             "inverted answers) lands far above 0.2, a model retrained on drifted data may fairly move ~0.1; at "
             "most 0.4: a constant answer on a balanced label is ~0.47 in Jensen-Shannon distance",
        exclusiveMinimum=0, maximum=0.4)
    min_requests: int = _threshold(
        20, "fewer challenger requests in the window and the alarms cannot judge yet; at least 1 (an error rate "
            "needs requests), at most 1 000 000", minimum=1, maximum=1_000_000)
    min_prediction_samples: int = _threshold(
        100, "captured predictions each side needs before the shift is judged (at 100 the distance's own noise "
             "is ~0.05); at least 1, at most 1 000 000", minimum=1, maximum=1_000_000)

    def __post_init__(self) -> None:
        for threshold in fields(self):
            problem = _out_of_bounds(threshold, getattr(self, threshold.name))
            if problem:
                raise DataValidationError(f"canary threshold {threshold.name} = {getattr(self, threshold.name)!r} "
                                          f"{problem}")

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any]) -> CanaryThresholds:
        """The seed's thresholds with ``overrides`` (a form's or a payload's) laid over; an
        unknown name is refused, never ignored."""
        known = [threshold.name for threshold in fields(cls)]
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise DataValidationError(f"unknown canary threshold(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return cls(**overrides)


_JSON_TYPES = {"float": "number", "int": "integer"}


def thresholds_schema() -> dict[str, Any]:
    """The JSON schema of ``CanaryThresholds`` overrides, from its fields' bounds: the
    model_deployment form's, so a trigger with a bad threshold is refused before any task runs."""
    return {"type": "object", "additionalProperties": False,
            "properties": {threshold.name: {"type": _JSON_TYPES[str(threshold.type)], "default": threshold.default,
                                            **threshold.metadata}
                           for threshold in fields(CanaryThresholds)}}


def _out_of_bounds(threshold: Field, value: Any) -> str:
    """What is wrong with ``value`` for ``threshold``, or "" when it is within its bounds."""
    number_types = (int,) if threshold.type == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, number_types):
        return f"is not {'a whole number' if threshold.type == 'int' else 'a number'}"
    bounds = threshold.metadata
    if "minimum" in bounds and not value >= bounds["minimum"]:
        return f"is below its minimum {bounds['minimum']:g}"
    if "exclusiveMinimum" in bounds and not value > bounds["exclusiveMinimum"]:
        return f"must be above {bounds['exclusiveMinimum']:g}"
    if not value <= bounds["maximum"]:
        return f"is above its maximum {bounds['maximum']:g} ({bounds['description']})"
    return ""


class AlarmRecord(TypedDict):
    """An alarm as the rollout state, the sensor's log and the deployment history read it."""

    name: str
    variant: str
    value: float | None
    threshold: float
    firing: bool
    detail: str
    insufficient_data: bool
    state: str


@dataclass(frozen=True)
class Alarm:
    name: str  # LATENCY | ERRORS | PREDICTION_SHIFT
    variant: str
    value: float | None
    threshold: float
    firing: bool
    detail: str
    insufficient_data: bool = False  # too little traffic to judge: never firing

    @property
    def state(self) -> str:
        """CloudWatch's three alarm states, in lower case."""
        return "insufficient_data" if self.insufficient_data else "firing" if self.firing else "ok"

    def to_dict(self) -> AlarmRecord:
        return AlarmRecord(name=self.name, variant=self.variant, value=self.value, threshold=self.threshold,
                           firing=self.firing, detail=self.detail, insufficient_data=self.insufficient_data,
                           state=self.state)


@dataclass(frozen=True)
class ChallengerMetrics:
    """The challenger variant's CloudWatch-style metrics summed over the bake window."""

    variant: str
    window: str  # how the alarms' details name it: "<variant> of <endpoint> in <start> .. <end>"
    requests: int  # Invocations
    errors: float  # Invocation5XXErrors
    latency_sum_us: float  # ModelLatency, recorded for successful requests only
    latency_samples: int


@dataclass(frozen=True)
class PredictionSamples:
    """The challenger's captured predictions against the champion's, as far as they were read:
    the champion's are not read when the challenger's are too few to judge (``champion_samples``
    0), and ``distance`` is None unless both sides had enough."""

    variant: str
    champion_variant: str
    samples: int  # the challenger's captured requests in the window
    champion_samples: int  # the champion's captured requests in reference_window
    reference_window: str  # "the same window", or the recent hours standing in for it
    distance: float | None = None
    stattest: str = ""  # the distance's name: "wasserstein" (numeric) or "jensenshannon"


@dataclass(frozen=True)
class BakeReadings:
    """What a look reads of the challenger: its CloudWatch-style figures and its predictions beside the champion's."""

    metrics: ChallengerMetrics
    predictions: PredictionSamples


@dataclass(frozen=True)
class BakeLook:
    """One look at a ramp step: where the rollout is, how long the step has baked, and what
    the alarms read. ``readings`` is None when there is no champion to judge against (the
    first version on an endpoint): such a step ends on its bake time alone."""

    step: int  # index into ramp
    ramp: tuple[int, ...]  # the challenger's traffic percent per step
    bake_minutes: float
    insufficient_data_minutes: float
    baked: timedelta  # since the endpoint took the step's shape
    readings: BakeReadings | None


@dataclass(frozen=True)
class Verdict:
    action: str  # BAKING | RAMP | PROMOTE | ROLLBACK
    alarms: tuple[Alarm, ...] = ()  # every alarm of the look, firing or not
    reason: str = ""  # why it rolls back, for the registry, the deployment history and the alert

    @property
    def fired(self) -> tuple[Alarm, ...]:
        return tuple(a for a in self.alarms if a.firing)


def judge(look: BakeLook, thresholds: CanaryThresholds) -> Verdict:
    """Any firing alarm rolls back. A step ends when its bake time is up and every alarm could
    judge it (enough traffic), ramping to the next step or, after the last, promoting; a step
    that still cannot be judged after ``insufficient_data_minutes`` rolls back. A bake time of
    0 asks for no bake (e.g. the winner of an A/B test, judged on real users)."""
    found = alarms(look.readings, thresholds) if look.readings is not None else ()
    fired = [a for a in found if a.firing]
    if fired:
        return Verdict(ROLLBACK, found, "rolled back by canary alarm(s): " + "; ".join(
            f"{a.name} on {a.variant} = {a.value} (threshold {a.threshold})" for a in fired))
    unjudged = [] if look.bake_minutes == 0 else [a for a in found if a.insufficient_data]
    if unjudged and look.baked >= timedelta(minutes=look.insufficient_data_minutes):
        return Verdict(ROLLBACK, found, _insufficient_data_reason(look, unjudged))
    if unjudged or look.baked < timedelta(minutes=look.bake_minutes):
        return Verdict(BAKING, found)
    return Verdict(PROMOTE if look.step + 1 >= len(look.ramp) else RAMP, found)


def _insufficient_data_reason(look: BakeLook, unjudged: list[Alarm]) -> str:
    return (f"rolled back for insufficient data: step {look.step + 1}/{len(look.ramp)} ({look.ramp[look.step]} %) "
            f"could not be judged within insufficient_data_minutes {look.insufficient_data_minutes:g}: "
            + "; ".join(a.detail for a in unjudged))


def alarms(readings: BakeReadings, thresholds: CanaryThresholds) -> tuple[Alarm, ...]:
    """The challenger's latency, error-rate and prediction-shift alarms."""
    return (latency_alarm(readings.metrics, thresholds), error_alarm(readings.metrics, thresholds),
            prediction_shift_alarm(readings.predictions, thresholds))


def _too_few(name: str, metrics: ChallengerMetrics, threshold: float, minimum: int) -> Alarm | None:
    if metrics.requests >= minimum:
        return None
    return Alarm(name, metrics.variant, None, threshold, False,
                 f"only {metrics.requests} requests to {metrics.window} (< min_requests {minimum}): cannot judge yet",
                 True)


def latency_alarm(metrics: ChallengerMetrics, thresholds: CanaryThresholds) -> Alarm:
    threshold = thresholds.max_model_latency_ms
    too_few = _too_few(LATENCY, metrics, threshold, thresholds.min_requests)
    if too_few:
        return too_few
    if not metrics.latency_samples:
        return Alarm(LATENCY, metrics.variant, None, threshold, False,
                     f"none of the {metrics.requests} requests to {metrics.window} succeeded: no latency to judge",
                     True)
    average_ms = metrics.latency_sum_us / metrics.latency_samples / 1000.0
    return Alarm(LATENCY, metrics.variant, average_ms, threshold, average_ms > threshold,
                 f"average ModelLatency {average_ms:.1f} ms over {metrics.latency_samples} successful requests to "
                 f"{metrics.window} (threshold {threshold:g} ms)")


def error_alarm(metrics: ChallengerMetrics, thresholds: CanaryThresholds) -> Alarm:
    threshold = thresholds.max_error_rate
    too_few = _too_few(ERRORS, metrics, threshold, thresholds.min_requests)
    if too_few:
        return too_few
    rate = metrics.errors / metrics.requests
    return Alarm(ERRORS, metrics.variant, rate, threshold, rate > threshold,
                 f"{metrics.errors:g} of {metrics.requests} requests to {metrics.window} failed ({rate:.1%}; "
                 f"threshold {threshold:.1%})")


def prediction_shift_alarm(samples: PredictionSamples, thresholds: CanaryThresholds) -> Alarm:
    """An effect size against a threshold, never a p-value: the bake looks again at every
    poke, and a test at 5 % asked twenty times would roll back a perfectly healthy challenger."""
    minimum, threshold, variant = thresholds.min_prediction_samples, thresholds.max_prediction_shift, samples.variant
    if samples.samples < minimum:
        return Alarm(PREDICTION_SHIFT, variant, None, threshold, False,
                     f"only {samples.samples} captured requests of {variant} in the window (< min_prediction_samples "
                     f"{minimum}): cannot judge yet", True)
    if samples.champion_samples < minimum or samples.distance is None:
        return Alarm(PREDICTION_SHIFT, variant, None, threshold, False,
                     f"only {samples.champion_samples} captured requests of the champion {samples.champion_variant} "
                     f"in {samples.reference_window} (< min_prediction_samples {minimum}): nothing to compare with",
                     True)
    score = samples.distance
    return Alarm(PREDICTION_SHIFT, variant, score, threshold, score > threshold,
                 f"{samples.stattest} distance {score:.4g} (threshold {threshold:g}) between the predictions of "
                 f"{variant} ({samples.samples} requests) and of the champion {samples.champion_variant} "
                 f"({samples.champion_samples} requests in {samples.reference_window})")


def abort_cause(task_states: Mapping[str, str | None], teardown: str) -> str:
    """Why a rollout stopped before it finished, from its run's task states: the tasks that
    neither succeeded nor were skipped (failed, timed out, marked failed, or never ran),
    other than ``teardown``, the task asking."""
    stopped = sorted(f"{task_id} {state}" for task_id, state in task_states.items()
                     if task_id != teardown and state not in ("success", "skipped"))
    if stopped:
        return f"task(s) {', '.join(stopped)} (failed, timed out or marked failed)"
    return "the run ended before finish"
