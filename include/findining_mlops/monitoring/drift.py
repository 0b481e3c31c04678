"""Data drift between a reference and a current frame, decided as Evidently 0.7's ``DataDriftPreset`` decides.

Why not call Evidently: at a million rows it runs each column's test three times and concatenates both frames
as objects (about a minute and 1.6 GB). The rules below are Evidently's defaults, re-implemented with one
vectorised pass per column; Evidently itself still draws the HTML report for people, on a sample.

Evidently's defaults, per column, after dropping NaN and ±inf on each side:

* reference of at most 1,000 values: numeric columns with more than 5 distinct values use the K-S test,
  everything else the chi-square test (more than 2 distinct values) or the two-proportion z-test;
* larger reference: numeric columns with more than 5 distinct values use the Wasserstein distance normed by the
  reference standard deviation, everything else the Jensen-Shannon distance of the value shares.

Distances drift at >= 0.1, p-values below 0.05 (K-S: at or below). The dataset drifts when the share of
drifted columns reaches ``drift_share``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypedDict, cast

import numpy as np
import pandas as pd

from findining_mlops.errors import DataValidationError

SMALL_REFERENCE = 1000  # values; at most this many and Evidently switches from distances to tests
FEW_VALUES = 5  # a numeric column with at most this many distinct values is tested like a categorical one
INTEGER_CARDINALITY_LIMIT = 10  # integer columns with at most this many distinct values are categorical
TEXT_UNIQUE_SHARE = 0.5  # string columns with a larger share of distinct values are free text
DISTANCE_THRESHOLD = 0.1
P_VALUE_THRESHOLD = 0.05
# pandas' inferred types, by the kind of value a person would call them
VALUE_KINDS = {"integer": "numbers", "floating": "numbers", "mixed-integer-float": "numbers", "decimal": "numbers",
               "boolean": "booleans", "string": "text", "bytes": "text"}


class ColumnDriftRecord(TypedDict):
    """One column's ``ColumnDrift`` in the monitoring report's JSON."""

    column_type: str
    stattest: str
    score: float
    threshold: float
    drifted: bool


class DriftRecord(TypedDict):
    """``DriftResult.to_dict``: the drift part of a version's entry in the monitoring report."""

    dataset_drift: bool
    drift_share: float
    number_of_drifted_columns: int
    columns: dict[str, ColumnDriftRecord]


@dataclass(frozen=True)
class ColumnDrift:
    column_type: str  # "num" | "cat"
    stattest: str  # Evidently's name: "wasserstein", "jensenshannon", "ks", "chisquare" or "z"
    score: float  # a distance, or a p-value for the tests
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    dataset_drift: bool
    drift_share: float  # drifted columns / compared columns: Evidently's share_of_drifted_columns
    number_of_drifted_columns: int
    columns: dict[str, ColumnDrift]

    def to_dict(self) -> DriftRecord:
        """Plain JSON types; columns keep their comparison order (numerical, then categorical)."""
        return cast(DriftRecord, asdict(self))


def read_parquet(path: str | Path) -> tuple[pd.DataFrame, frozenset[str]]:
    """A parquet file as a frame compact enough for a million rows a side, and the names of its string columns.

    ``pd.read_parquet`` makes a Python object of every string (about 60 bytes each, and most of a drift check's
    memory and read time); here string columns are read dictionary-encoded into pandas categoricals, one small
    integer per row, and numbers into plain arrays. Evidently would see those columns as strings, not as a
    category dtype, so their names come back too: ``detect_drift(..., strings=...)`` types them as strings.
    One column at a time and without pre-buffering the file, so decoding never holds much more than the column
    (reading the whole table at once peaks near three times the data); the frame keeps one block per column
    rather than copying them into one. A pandas index stored as columns is left out, as ``pd.read_parquet`` makes
    it the index.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    index = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
    strings = [f.name for f in schema if f.name not in index
               and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
    file = pq.ParquetFile(path, read_dictionary=strings, pre_buffer=False)
    columns = {name: file.read(columns=[name], use_pandas_metadata=False).column(0).to_pandas()
               for name in schema.names if name not in index}
    return pd.DataFrame(columns, copy=False), frozenset(strings)


def infer_column_types(frame: pd.DataFrame, strings: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """Numerical and categorical columns, by Evidently 0.7's ``infer_column_type`` rules.

    Floats are numerical; integers are categorical up to 10 distinct values; bool and category dtypes are
    categorical; strings are categorical unless more than half of the present values are distinct. Those are
    text, which Evidently judges with a text classifier that this module does not reproduce, so they are left
    out, like what Evidently itself leaves out of drift: datetimes, unsigned or nullable (``Int64``,
    ``boolean``) integers, and object columns that do not hold strings, such as booleans with missing values.

    ``strings``: category columns that hold a file's strings (``read_parquet``), typed as the object column of
    strings that Evidently would be given; one without any value is left out, as such an object column is.
    """
    numerical, categorical, _ = _column_types(frame, strings)
    return numerical, categorical


def _column_types(frame: pd.DataFrame, strings: Collection[str] = ()) -> tuple[list[str], list[str],
                                                                             dict[str, pd.Series]]:
    """``infer_column_types``, plus the value counts it took of string columns, for the drift tests to reuse."""
    numerical: list[str] = []
    categorical: list[str] = []
    counted: dict[str, pd.Series] = {}
    for name in frame.columns:
        series = frame[name]
        dtype = series.dtype.name  # Evidently matches dtype names, case-sensitively
        if dtype.startswith("float"):
            numerical.append(name)
        elif dtype.startswith("int"):
            (categorical if series.nunique() <= INTEGER_CARDINALITY_LIMIT else numerical).append(name)
        elif dtype == "bool" or (dtype == "category" and name not in strings):
            categorical.append(name)
        elif name in strings or dtype in ("string", "str") or (dtype == "object" and _holds_strings(series)):
            counts = series.value_counts(sort=False)  # distinct present values and how many are present
            counts = counts[counts > 0]  # a category column also lists its values that are absent
            if name in strings and counts.empty:
                continue
            if len(counts) <= counts.sum() * TEXT_UNIQUE_SHARE:  # more distinct values make it text
                categorical.append(name)
                counted[name] = counts
    return numerical, categorical, counted


def _holds_strings(series: pd.Series) -> bool:
    """Evidently looks at the first and the last present value only."""
    values = series.to_numpy()
    first = next((x for x in values if not pd.isna(x)), None)
    last = next((x for x in values[::-1] if not pd.isna(x)), None)
    return isinstance(first, str) and isinstance(last, str)


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
    drift_share: float = 0.5,
    strings: Collection[str] = (),
) -> DriftResult:
    """Per-column and dataset drift of ``current`` against ``reference``.

    A list left as None is inferred from ``current`` (as Evidently infers types from the current data),
    leaving out the columns named in the other list; ``strings`` as ``infer_column_types`` takes it.
    """
    for side, frame in (("reference", reference), ("current", current)):
        if frame.empty:
            raise DataValidationError(f"the {side} frame is empty")
    numerical, categorical, counted = _compared_columns(reference, current, numerical, categorical, strings)
    _check_columns(reference, current, numerical, categorical)
    _check_kinds(reference, current, [*numerical, *categorical])

    columns = {name: _numerical_drift(reference, current, name) for name in numerical}
    columns |= {name: _categorical_drift(reference, current, name, counted.get(name)) for name in categorical}
    drifted = sum(c.drifted for c in columns.values())
    share = drifted / len(columns)
    return DriftResult(bool(share >= drift_share), share, drifted, columns)


def _compared_columns(reference: pd.DataFrame, current: pd.DataFrame, numerical: list[str] | None,
                      categorical: list[str] | None, strings: Collection[str]
                      ) -> tuple[list[str], list[str], dict[str, pd.Series]]:
    """The numerical and categorical columns to compare, each list left as None inferred from ``current``;
    with the value counts the inference took, for the drift tests to reuse."""
    if numerical is not None and categorical is not None:
        return numerical, categorical, {}
    unseen = [c for c in reference.columns if c not in current.columns]
    if unseen:  # inferring from the current frame alone would drop them without a word
        raise DataValidationError(f"the current frame has no column {', '.join(map(repr, unseen))} "
                                  "of the reference")
    inferred_numerical, inferred_categorical, counted = _column_types(current, strings)
    named = set(numerical or ()) | set(categorical or ())
    if numerical is None:
        numerical = [c for c in inferred_numerical if c not in named]
    if categorical is None:
        categorical = [c for c in inferred_categorical if c not in named]
    return numerical, categorical, counted


def _check_columns(reference: pd.DataFrame, current: pd.DataFrame, numerical: list[str], categorical: list[str]):
    both = set(numerical) & set(categorical)
    if both:
        raise DataValidationError(f"columns {sorted(both)} are listed as both numerical and categorical")
    if not numerical and not categorical:
        raise DataValidationError("there are no numerical or categorical columns to compare")
    for side, frame in (("reference", reference), ("current", current)):
        missing = [c for c in [*numerical, *categorical] if c not in frame.columns]
        if missing:
            raise DataValidationError(f"the {side} frame has no column {', '.join(map(repr, missing))}")


def _check_kinds(reference: pd.DataFrame, current: pd.DataFrame, names: list[str]) -> None:
    """A column must hold the same kind of values on both sides: numbers compared with text would
    be judged as categories that never match, a silent re-typing rather than drift."""
    for name in names:
        kinds = _value_kind(reference[name]), _value_kind(current[name])
        if None not in kinds and kinds[0] != kinds[1]:
            raise DataValidationError(f"column {name!r} holds {kinds[0]} in the reference and {kinds[1]} "
                                      "in the current frame; convert one side or leave the column out")


def _value_kind(series: pd.Series) -> str | None:
    """numbers, booleans, text, or pandas' name for anything else; None for a column without values."""
    if not series.notna().any():  # refused later, by name, as Evidently refuses it
        return None
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.cat.categories.to_series()
    inferred = pd.api.types.infer_dtype(series, skipna=True)  # O(1) unless the dtype is object
    return VALUE_KINDS.get(inferred, f"{inferred} values")


def _numerical_drift(reference: pd.DataFrame, current: pd.DataFrame, name: str) -> ColumnDrift:
    ref = _finite_sorted(reference, name, "reference")
    cur = _finite_sorted(current, name, "current")
    if max(_distinct(ref), _distinct(cur)) <= FEW_VALUES:
        ref_counts, cur_counts = _aligned(_sorted_counts(ref), _sorted_counts(cur))
        if len(ref_counts) <= FEW_VALUES:
            return _discrete_drift("num", ref_counts, cur_counts)
    if ref.size <= SMALL_REFERENCE:
        from scipy import stats  # the small reference's tests only: a second to import

        p_value = float(stats.ks_2samp(ref, cur).pvalue)
        return ColumnDrift("num", "ks", p_value, P_VALUE_THRESHOLD, p_value <= P_VALUE_THRESHOLD)
    scale = max(float(np.std(ref)), 0.001)
    score = _sorted_wasserstein(ref, cur) / scale
    return ColumnDrift("num", "wasserstein", score, DISTANCE_THRESHOLD, score >= DISTANCE_THRESHOLD)


def _finite_sorted(frame: pd.DataFrame, name: str, side: str) -> np.ndarray:
    series = frame[name]
    if not pd.api.types.is_numeric_dtype(series):
        raise DataValidationError(f"numerical column {name!r} of the {side} frame holds {series.dtype} values")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]  # a copy: sorting it in place leaves the frame alone
    if not values.size:
        raise DataValidationError(f"column {name!r} has no finite values in the {side} frame")
    values.sort()
    return values


def _distinct(sorted_values: np.ndarray) -> int:
    return 1 + int(np.count_nonzero(sorted_values[1:] != sorted_values[:-1]))


def _sorted_counts(sorted_values: np.ndarray) -> pd.Series:
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    return pd.Series(np.diff(np.r_[starts, sorted_values.size]), index=sorted_values[starts])


def _sorted_wasserstein(u: np.ndarray, v: np.ndarray, block: int = 1 << 15) -> float:
    """Exact 1-D Wasserstein distance of two sorted samples, as ``scipy.stats.wasserstein_distance`` gives.

    SciPy argsorts and binary-searches both samples; this walks them once, ``block`` u-values at a time so the
    temporaries stay small (over ten times faster at a million values). The distance is the integral over
    t in (0, 1] of |Q_u(t) - Q_v(t)|. Scaled by n*m, the quantile functions step at the integers i*m and j*n;
    merged, those steps cut (0, n*m] into n+m pieces (empty ones at shared steps). u-value i owns the pieces
    from floor(i(n+m)/n) up to the next u-value's first, v-value j those from floor(j(n+m)/m), and each piece
    ends at the first of its two values' last steps.
    """
    n, m = u.size, v.size
    total = 0.0
    for a in range(0, n, block):
        i = np.arange(a, min(a + block, n) + 1, dtype=np.int64)  # this block's u-values, and the next one
        u_first = i * (n + m) // n
        start, stop = int(u_first[0]), int(u_first[-1])  # the block's pieces
        # the v-values owning those pieces, and the next one
        j = np.arange(((start + 1) * m - 1) // (n + m), (stop * m - 1) // (n + m) + 2, dtype=np.int64)
        v_first = j * (n + m) // m
        window = slice(start - int(v_first[0]), stop - int(v_first[0]))
        pieces_u, pieces_v = np.diff(u_first), np.diff(v_first)
        ends = np.minimum(np.repeat(i[1:] * m, pieces_u), np.repeat(j[1:] * n, pieces_v)[window])
        gaps = np.abs(np.repeat(u[i[0]:i[-1]], pieces_u) - np.repeat(v[j[0]:j[-1]], pieces_v)[window])
        gaps *= np.diff(ends, prepend=a * m)
        total += float(gaps.sum())  # not np.dot: its BLAS threads stall when the machine is busy
    return total / (float(n) * float(m))


def _categorical_drift(
    reference: pd.DataFrame, current: pd.DataFrame, name: str, current_counts: pd.Series | None,
) -> ColumnDrift:
    """``current_counts``: the current column's value counts, when type inference has taken them already."""
    if current_counts is None:
        current_counts = current[name].value_counts(sort=False)
    return _discrete_drift("cat", *_aligned(_present(reference[name].value_counts(sort=False), name, "reference"),
                                            _present(current_counts, name, "current")))


def _present(counts: pd.Series, name: str, side: str) -> pd.Series:
    # value_counts leaves NaN out; Evidently drops ±inf too; a category dtype lists its unused categories
    counts = counts[(counts > 0) & ~counts.index.isin([np.inf, -np.inf])]
    if counts.empty:
        raise DataValidationError(f"column {name!r} has no values in the {side} frame")
    return counts


def _aligned(ref_counts: pd.Series, cur_counts: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Counts of both sides over the union of their values, zero where a side lacks a value."""
    ref_counts, cur_counts = ref_counts.align(cur_counts, join="outer", fill_value=0)
    return ref_counts.astype(np.int64), cur_counts.astype(np.int64)


def _discrete_drift(column_type: str, ref_counts: pd.Series, cur_counts: pd.Series) -> ColumnDrift:
    ref, cur = ref_counts.to_numpy(), cur_counts.to_numpy()
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    if n_ref > SMALL_REFERENCE:
        score = _jensenshannon(ref / n_ref, cur / n_cur)
        return ColumnDrift(column_type, "jensenshannon", score, DISTANCE_THRESHOLD, score >= DISTANCE_THRESHOLD)
    if len(ref) > 2:
        from scipy import stats  # the small reference's tests only: a second to import

        # expected counts: the reference shares scaled to the current size; a value the reference lacks
        # expects 0, which makes the statistic infinite and p 0 (Evidently's result), not an error
        with np.errstate(divide="ignore"):
            p_value = float(stats.chisquare(cur, ref * (n_cur / n_ref)).pvalue)
        return ColumnDrift(column_type, "chisquare", p_value, P_VALUE_THRESHOLD, p_value < P_VALUE_THRESHOLD)
    p_value = _two_proportion_p_value(ref_counts, cur_counts, n_ref, n_cur)
    return ColumnDrift(column_type, "z", p_value, P_VALUE_THRESHOLD, p_value < P_VALUE_THRESHOLD)


def _two_proportion_p_value(ref_counts: pd.Series, cur_counts: pd.Series, n_ref: int, n_cur: int) -> float:
    """Two-sided z-test on the share of values other than the smallest one, with Evidently's arithmetic."""
    from scipy import stats

    if len(ref_counts) == 1:  # one value on both sides
        return 1.0
    first = min(ref_counts.index)
    p_ref = float(n_ref - ref_counts.loc[first]) / n_ref
    p_cur = float(n_cur - cur_counts.loc[first]) / n_cur
    pooled = float(p_ref * n_ref + p_cur * n_cur) / (n_ref + n_cur)
    z = (p_ref - p_cur) / np.sqrt(pooled * (1 - pooled) * (1.0 / n_ref + 1.0 / n_cur))
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


def _jensenshannon(p: np.ndarray, q: np.ndarray) -> float:
    """``scipy.spatial.distance.jensenshannon(p, q)``, the same operations in the same order (equal to rounding,
    about 1e-13: SciPy's ``rel_entr`` takes its logarithm elsewhere), without importing ``scipy.spatial`` (over
    half a second and 60 MiB) for one formula. Every value here is present on at least one side, so the mixture
    is positive wherever ``p`` or ``q`` is."""
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):  # rel_entr is 0 where a share is 0
        left = np.where(p > 0, p * np.log(p / m), 0.0)
        right = np.where(q > 0, q * np.log(q / m), 0.0)
    return float(np.sqrt((left.sum() + right.sum()) / 2.0))


def render_html_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: list[str],
    categorical: list[str],
    sample_size: int = 5000,
    seed: int = 0,
) -> str:
    """Evidently's own ``DataDriftPreset`` report, for people, on at most ``sample_size`` random rows a side.

    Its figures come from the sample, so they can differ slightly from ``detect_drift`` on the full frames.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = [*numerical, *categorical]
    _check_columns(reference, current, numerical, categorical)
    definition = DataDefinition(
        numerical_columns=numerical, categorical_columns=categorical, text_columns=[], datetime_columns=[],
        unknown_columns=[], list_columns=[],
    )
    reference_sample, current_sample = (
        Dataset.from_pandas(
            frame.sample(n=min(sample_size, len(frame)), random_state=seed)[columns], data_definition=definition,
        )
        for frame in (reference, current)
    )
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        current_data=current_sample, reference_data=reference_sample,
    )
    return snapshot.get_html_str(as_iframe=False)
