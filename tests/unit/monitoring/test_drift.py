"""The drift detector decides every column as Evidently 0.7's ``DataDriftPreset`` does with its defaults:
same test per column, same score (to 1e-6), same drift decision, same dataset-level share. Evidently itself is
the oracle: each dataset below runs through both."""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from evidently import DataDefinition, Dataset, Report
from evidently.legacy.calculations import stattests
from evidently.presets import DataDriftPreset
from scipy.stats import wasserstein_distance

from findining_mlops.cli.main import main
from findining_mlops.errors import DataValidationError
from findining_mlops.monitoring.drift import _sorted_wasserstein, detect_drift, infer_column_types, read_parquet

STATTEST_NAMES = {t.display_name: t.name for t in (
    stattests.wasserstein_stat_test, stattests.jensenshannon_stat_test, stattests.ks_stat_test,
    stattests.chi_stat_test, stattests.z_stat_test,
)}


def evidently_drift(reference: pd.DataFrame, current: pd.DataFrame, definition: DataDefinition | None = None) -> dict:
    """Evidently's per-column (stattest, score, drifted) and dataset-level figures, read from its report."""
    if definition is not None:
        reference, current = (Dataset.from_pandas(f, data_definition=definition) for f in (reference, current))
    report = Report([DataDriftPreset()], include_tests=True).run(current_data=current, reference_data=reference)
    output = report.dict()
    drifted = {t["metric_config"]["params"]["column"]: t["status"] == "FAIL" for t in output["tests"]
               if t["id"] == "drift"}
    count = next(m["value"] for m in output["metrics"] if m["config"]["type"].endswith("DriftedColumnsCount"))
    return {
        "columns": {m["config"]["column"]: (STATTEST_NAMES[m["config"]["method"]], m["value"],
                                            drifted[m["config"]["column"]])
                    for m in output["metrics"] if m["config"]["type"].endswith(":ValueDrift")},
        "count": int(count["count"]),
        "share": count["share"],
        "dataset_drift": next(t["status"] == "FAIL" for t in output["tests"] if t["id"] == "lt"),
    }


# -- datasets: each a (reference, current) pair, built from fixed seeds -----------------------------
def _labels(rng, n: int, labels: list, weights: list[float]) -> np.ndarray:
    p = np.asarray(weights, float)
    return rng.choice(np.array(labels, dtype=object), n, p=p / p.sum())


def small_numeric():
    """<= 1,000 reference values: K-S for more than 5 values, chi-square for 3-5 values, z-test for 1-2."""
    frames = []
    for n, seed, drift in ((600, 1, False), (500, 2, True)):
        rng = np.random.default_rng(seed)
        frames.append(pd.DataFrame({
            "stable": rng.normal(0, 1, n),
            "shifted": rng.normal(0.5 if drift else 0, 1, n),
            "scaled": rng.normal(0, 1.6 if drift else 1, n),
            "few_values": rng.choice([1.0, 2.0, 3.0, 4.0], n, p=[0.1, 0.2, 0.3, 0.4] if drift else [0.25] * 4),
            "five_values": rng.integers(1, 6, n).astype(float),
            "six_values": rng.integers(1, 7, n).astype(float),
            "two_values": rng.choice([0.0, 1.0], n, p=[0.6, 0.4]),
            "constant": np.full(n, 3.5),
            "borderline": rng.normal(-0.25 if drift else 0, 1, n),  # p = 0.044: drifted, just
        }))
    return tuple(frames)


def small_categorical():
    """Strings on a small reference: chi-square (> 2 values) and z-test (2 values), including values
    that only one side has."""
    frames = []
    for n, seed, drift in ((800, 23, False), (700, 24, True)):
        rng = np.random.default_rng(seed)
        frames.append(pd.DataFrame({
            "city": _labels(rng, n, ["hk", "kln", "nt", "lantau"], [4, 3, 2, 1]),
            "tier": _labels(rng, n, ["gold", "basic"], [1, 3] if drift else [1, 1]),
            "cuisine": _labels(rng, n, ["dim sum", "noodles", "bbq", "new"] if drift else ["dim sum", "noodles",
                                                                                            "bbq", "old"],
                               [5, 5, 5, 1]),
        }))
    return tuple(frames)


def binary():
    """0/1 integers (categorical: at most 10 distinct integers) and booleans; exactly 1,000 reference rows,
    the largest reference that still gets the z-test."""
    frames = []
    for n, seed, drift in ((1000, 5, False), (900, 6, True)):
        rng = np.random.default_rng(seed)
        frames.append(pd.DataFrame({
            "clicked": (rng.random(n) < (0.3 if drift else 0.2)).astype(int),
            "returning": (rng.random(n) < 0.5).astype(int),
            "premium": rng.random(n) < (0.6 if drift else 0.3),
            "weekend": rng.random(n) < 0.3,
        }))
    return tuple(frames)


def large_numeric():
    """> 1,000 reference values and unequal sizes: normed Wasserstein for many values (ties included),
    Jensen-Shannon for at most 5 values."""
    frames = []
    for n, seed, drift in ((5000, 7, False), (3700, 8, True)):
        rng = np.random.default_rng(seed)
        frames.append(pd.DataFrame({
            "stable": rng.normal(10, 2, n),
            "shifted": rng.normal(10.6 if drift else 10, 2, n),
            "skewed": rng.lognormal(0.2 if drift else 0, 0.8, n),
            "rounded": np.round(rng.uniform(0, 50, n)),
            "counts": rng.integers(0, 400, n),  # integers with more than 10 values are numerical
            "three_values": rng.choice([0.0, 1.0, 2.0], n, p=[0.2, 0.3, 0.5] if drift else [0.3, 0.3, 0.4]),
            "five_values": rng.integers(0, 5, n).astype(float),
            "six_values": rng.integers(0, 6, n).astype(float),
        }))
    return tuple(frames)


def large_categorical():
    """> 1,000 reference values: Jensen-Shannon for strings, category dtype, booleans and small integer codes."""
    frames = []
    for n, seed, drift in ((5000, 9, False), (5000, 10, True)):
        rng = np.random.default_rng(seed)
        districts = ["central", "wan chai", "mong kok", "sha tin", "tsuen wan", "tuen mun", "sai kung", "tai po"]
        frames.append(pd.DataFrame({
            "district": _labels(rng, n, districts, [1, 1, 1, 1, 1, 1, 1, 5 if drift else 1]),
            "cuisine": _labels(rng, n, ["cantonese", "japanese", "thai", "western"], [4, 3, 2, 1]),
            "price_band": pd.Categorical(_labels(rng, n, ["$", "$$", "$$$"], [1, 2, 1])),
            "open_late": rng.random(n) < (0.5 if drift else 0.2),
            "rating": rng.choice(np.arange(1, 6), n, p=[0.1, 0.1, 0.2, 0.3, 0.3]),
        }))
    return tuple(frames)


def missing_values():
    """NaN, None and ±inf are dropped per column and per side; the 1,000-value limit counts what is left
    (1,150 rows with 30 % missing is a small reference)."""
    frames = []
    for n, seed, drift in ((1150, 11, False), (2000, 12, True)):
        rng = np.random.default_rng(seed)
        gappy = rng.normal(0, 1, n)
        gappy[rng.random(n) < 0.3] = np.nan
        with_inf = rng.normal(0.4 if drift else 0, 1, n)
        with_inf[:5] = [np.nan, np.inf, -np.inf, np.inf, np.nan]
        flag = (rng.random(n) < 0.4).astype(float)
        flag[rng.random(n) < 0.1] = np.nan  # 0/1 with gaps: a float column of two values
        colour = _labels(rng, n, ["red", "green", "blue"], [1, 1, 1])
        colour[rng.random(n) < (0.2 if drift else 0.05)] = None
        colour[1:4] = np.inf
        frames.append(pd.DataFrame({"gappy": gappy, "with_inf": with_inf, "flag": flag,
                                    "complete": rng.normal(0, 1, n), "colour": colour}))
    return tuple(frames)


def constant_columns():
    """Constant on both sides (no drift, whatever the test) and constant only in the reference (the
    Wasserstein distance is normed by a floor of 0.001 instead of a zero standard deviation)."""
    rng = np.random.default_rng(13)
    n = 2000
    reference = pd.DataFrame({"const": np.full(n, 7.0), "const_label": ["same"] * n,
                              "then_varies": np.full(n, 1.0), "noise": rng.normal(0, 1, n)})
    current = pd.DataFrame({"const": np.full(n, 7.0), "const_label": ["same"] * n,
                            "then_varies": rng.normal(1.0, 0.01, n), "noise": rng.normal(0, 1, n)})
    return reference, current


def no_drift():
    """The same distributions drawn with different seeds: nothing drifts."""
    def draw(seed):
        rng = np.random.default_rng(seed)
        n = 5000
        return pd.DataFrame({
            "spend": rng.gamma(2.0, 50.0, n),
            "distance_km": rng.exponential(3.0, n),
            "party_size": rng.integers(1, 13, n),  # 12 values: numerical
            "channel": _labels(rng, n, ["app", "web", "phone"], [6, 3, 1]),
            "member": rng.random(n) < 0.4,
        })
    return draw(14), draw(15)


def strong_drift():
    """Every column moves a lot: the dataset drifts."""
    frames = []
    for n, seed, drift in ((3000, 16, False), (2500, 17, True)):
        rng = np.random.default_rng(seed)
        frames.append(pd.DataFrame({
            "spend": rng.gamma(4.0 if drift else 2.0, 50.0, n),
            "wait_min": rng.normal(25 if drift else 10, 5, n),
            "channel": _labels(rng, n, ["app", "web", "phone"], [1, 3, 6] if drift else [6, 3, 1]),
            "member": rng.random(n) < (0.8 if drift else 0.2),
        }))
    return tuple(frames)


def small_reference_large_current():
    """A 700-row reference against 5,000 current rows: the reference size alone picks the tests."""
    rng = np.random.default_rng(18)
    reference = pd.DataFrame({"score": rng.normal(0, 1, 700), "segment": _labels(rng, 700, list("abcd"), [1] * 4)})
    current = pd.DataFrame({"score": rng.normal(0.1, 1, 5000),
                            "segment": _labels(rng, 5000, list("abcd"), [1, 1, 1, 1.3])})
    return reference, current


DATASETS = {f.__name__: f for f in (small_numeric, small_categorical, binary, large_numeric, large_categorical,
                                    missing_values, constant_columns, no_drift, strong_drift,
                                    small_reference_large_current)}


@functools.cache
def _both(name: str) -> tuple:
    reference, current = DATASETS[name]()
    return detect_drift(reference, current), evidently_drift(reference, current)


# -- agreement with Evidently ------------------------------------------------------------------------
@pytest.mark.parametrize("name", DATASETS)
def test_every_column_gets_evidentlys_test_score_and_decision(name):
    ours, theirs = _both(name)
    assert list(ours.columns) == list(theirs["columns"])
    for column, (stattest, score, drifted) in theirs["columns"].items():
        got = ours.columns[column]
        assert (got.stattest, got.drifted) == (stattest, drifted), column
        assert got.score == pytest.approx(score, rel=0, abs=1e-6), column


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_drift_is_evidentlys_share_of_drifted_columns(name):
    ours, theirs = _both(name)
    assert ours.number_of_drifted_columns == theirs["count"]
    assert ours.drift_share == pytest.approx(theirs["share"])
    assert ours.dataset_drift == theirs["dataset_drift"]


def test_inf_is_dropped_as_evidentlys_column_test_drops_it_even_where_its_own_count_does_not():
    """Evidently's column count keeps ±inf in a column without NaN, gets a NaN distance and misses the drift
    that its per-column test (which drops ±inf) reports. The per-column rule is followed, for the count too."""
    rng = np.random.default_rng(22)
    reference = pd.DataFrame({"wait_min": rng.normal(10, 2, 3000), "spend": rng.normal(50, 5, 3000)})
    current = pd.DataFrame({"wait_min": rng.normal(11, 2, 3000), "spend": rng.normal(50, 5, 3000)})
    current.loc[:9, "wait_min"] = np.inf
    ours, theirs = detect_drift(reference, current), evidently_drift(reference, current)
    assert ours.columns["wait_min"].drifted and theirs["columns"]["wait_min"][2]
    assert ours.columns["wait_min"].score == pytest.approx(theirs["columns"]["wait_min"][1], abs=1e-6)
    assert (ours.number_of_drifted_columns, theirs["count"]) == (1, 0)


def test_the_datasets_cover_every_default_test_with_and_without_drift():
    outcomes = {(c.stattest, c.drifted) for name in DATASETS for c in _both(name)[0].columns.values()}
    tests = ("wasserstein", "jensenshannon", "ks", "chisquare", "z")
    assert outcomes == {(t, d) for t in tests for d in (True, False)}
    assert {_both(name)[0].dataset_drift for name in DATASETS} == {True, False}


def test_explicit_column_types_override_inference_as_a_data_definition_does():
    reference, current = binary()
    numerical, categorical = ["clicked"], ["premium"]  # 0/1 integers judged as numbers
    ours = detect_drift(reference, current, numerical, categorical)
    theirs = evidently_drift(reference[numerical + categorical], current[numerical + categorical],
                             DataDefinition(numerical_columns=numerical, categorical_columns=categorical))
    assert {c: (d.column_type, d.stattest, d.drifted) for c, d in ours.columns.items()} == {
        "clicked": ("num", *theirs["columns"]["clicked"][::2]),
        "premium": ("cat", *theirs["columns"]["premium"][::2]),
    }


def test_one_list_given_the_other_is_inferred_without_the_named_columns():
    reference, current = large_numeric()
    result = detect_drift(reference, current, numerical=None, categorical=["three_values"])
    assert [(c, d.column_type) for c, d in result.columns.items()] == [
        ("stable", "num"), ("shifted", "num"), ("skewed", "num"), ("rounded", "num"), ("counts", "num"),
        ("five_values", "num"), ("six_values", "num"), ("three_values", "cat"),
    ]


def test_infer_column_types_follows_evidentlys_rules():
    n = 40
    frame = pd.DataFrame({
        "price": np.linspace(0, 1, n),  # float: numerical
        "visits": np.arange(n),  # integers, > 10 values: numerical
        "stars": np.arange(n) % 10,  # integers, <= 10 values: categorical
        "floors": np.arange(n) % 11,  # integers, 11 values: numerical
        "city": ["hk", "kln"] * (n // 2),  # strings, few values: categorical
        "review": [f"review {i}" for i in range(n)],  # strings, > 50 % distinct: text, left out
        "open": np.arange(n) % 2 == 0,  # bool: categorical
        "band": pd.Categorical(["$", "$$"] * (n // 2)),  # category: categorical
        "when": pd.date_range("2026-10-01", periods=n),  # datetime: left out
        "small_unsigned": np.arange(n, dtype=np.uint8),  # Evidently only knows "int…" dtype names: left out
        "nullable_int": pd.array(np.arange(n), dtype="Int64"),  # "Int64": left out
        "flag_with_gaps": pd.Series([True, False, None, True] * (n // 4), dtype=object),  # not strings: left out
    })
    definition = Dataset.from_pandas(frame).data_definition
    assert infer_column_types(frame) == (definition.numerical_columns, definition.categorical_columns)
    assert infer_column_types(frame) == (["price", "visits", "floors"], ["stars", "city", "open", "band"])


def test_types_are_inferred_from_the_current_frame_as_evidently_does():
    rng = np.random.default_rng(19)
    reference = pd.DataFrame({"level": rng.integers(0, 50, 2000)})  # 50 values: numerical here
    current = pd.DataFrame({"level": rng.integers(0, 5, 2000)})  # 5 values: categorical here
    assert detect_drift(reference, current).columns["level"].column_type == "cat"
    assert list(evidently_drift(reference, current)["columns"]) == ["level"]


def test_sorted_wasserstein_is_exact_across_blocks_sizes_and_ties():
    rng = np.random.default_rng(20)
    for _ in range(300):
        n, m = rng.integers(1, 120, 2)
        u = np.sort(np.round(rng.normal(0, 1, n), rng.integers(0, 3)))
        v = np.sort(np.round(rng.normal(0.3, 1.2, m), 1))
        block = int(rng.integers(1, 130))
        assert _sorted_wasserstein(u, v, block) == pytest.approx(wasserstein_distance(u, v), rel=1e-12, abs=1e-12)


def test_result_serialises_to_plain_json_in_a_fixed_order():
    reference, current = small_categorical()
    result = detect_drift(reference, current)
    data = json.loads(json.dumps(result.to_dict()))
    assert list(data) == ["dataset_drift", "drift_share", "number_of_drifted_columns", "columns"]
    assert list(data["columns"]) == ["city", "tier", "cuisine"]
    assert all(list(c) == ["column_type", "stattest", "score", "threshold", "drifted"]
               for c in data["columns"].values())
    assert data["drift_share"] == data["number_of_drifted_columns"] / 3


# -- validation -------------------------------------------------------------------------------------
@pytest.fixture
def pair():
    rng = np.random.default_rng(21)
    return (pd.DataFrame({"a": rng.normal(0, 1, 50), "b": ["x", "y"] * 25}),
            pd.DataFrame({"a": rng.normal(0, 1, 50), "b": ["x", "y"] * 25}))


@pytest.mark.parametrize("side", ["reference", "current"])
def test_a_requested_column_missing_from_a_frame_is_named(pair, side):
    frames = dict(zip(("reference", "current"), pair, strict=False))
    frames[side] = frames[side].drop(columns="b")
    with pytest.raises(DataValidationError, match=rf"{side} frame has no column 'b'"):
        detect_drift(frames["reference"], frames["current"], ["a"], ["b"])


@pytest.mark.parametrize("side", ["reference", "current"])
def test_an_empty_frame_is_refused(pair, side):
    frames = dict(zip(("reference", "current"), pair, strict=False))
    frames[side] = frames[side].iloc[:0]
    with pytest.raises(DataValidationError, match=f"the {side} frame is empty"):
        detect_drift(frames["reference"], frames["current"])


@pytest.mark.parametrize("column", ["a", "b"])
def test_a_column_with_nothing_but_gaps_on_one_side_is_refused_as_evidently_refuses_it(pair, column):
    reference, current = pair
    current = current.assign(**{column: np.nan})
    with pytest.raises(DataValidationError, match=f"column '{column}' has no .*values in the current frame"):
        detect_drift(reference, current, ["a"], ["b"])
    with pytest.raises(ValueError, match=f"empty column '{column}'"):
        evidently_drift(reference, current, DataDefinition(numerical_columns=["a"], categorical_columns=["b"]))


def test_a_numerical_column_must_hold_numbers(pair):
    reference, current = pair
    with pytest.raises(DataValidationError, match="numerical column 'b' of the reference frame holds object"):
        detect_drift(reference, current, ["a", "b"], [])


def test_a_column_cannot_be_both_numerical_and_categorical(pair):
    with pytest.raises(DataValidationError, match=r"\['a'\] are listed as both"):
        detect_drift(*pair, ["a"], ["a", "b"])


def test_frames_without_comparable_columns_are_refused():
    reviews = pd.DataFrame({"review": [f"text {i}" for i in range(20)]})  # free text: not compared
    with pytest.raises(DataValidationError, match="no numerical or categorical columns"):
        detect_drift(reviews, reviews)


# -- files read compactly ---------------------------------------------------------------------------
def _same_result(compact, plain) -> None:
    assert list(compact.columns) == list(plain.columns)
    for name, column in plain.columns.items():
        assert (compact.columns[name].column_type, compact.columns[name].stattest, compact.columns[name].drifted) == (
            column.column_type, column.stattest, column.drifted), name
        assert compact.columns[name].score == pytest.approx(column.score, rel=1e-12, abs=1e-12), name
    assert (compact.dataset_drift, compact.drift_share) == (plain.dataset_drift, plain.drift_share)


@pytest.mark.parametrize("name", [n for n in DATASETS if n != "missing_values"])  # its strings hold inf too
def test_files_read_compactly_give_the_result_of_files_read_by_pandas(name, tmp_path):
    paths = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    for frame, path in zip(DATASETS[name](), paths, strict=False):
        frame.to_parquet(path)
    (reference, _), (current, strings) = (read_parquet(p) for p in paths)
    # no Python strings held
    assert not any(pd.api.types.is_object_dtype(dtype) for dtype in [*reference.dtypes, *current.dtypes])

    _same_result(detect_drift(reference, current, strings=strings),
                 detect_drift(*(pd.read_parquet(p) for p in paths)))


def test_string_columns_read_as_categories_are_typed_as_the_strings_evidently_would_see(tmp_path):
    n = 40
    frame = pd.DataFrame({
        "city": ["hk", "kln"] * (n // 2),  # strings, few values: categorical
        "review": [f"review {i}" for i in range(n)],  # strings, > 50 % distinct: text, left out
        "band": pd.Categorical([f"band {i}" for i in range(n)]),  # a stored category dtype: categorical
        "nothing": pd.Series([None] * n, dtype=object),
        "price": np.linspace(0, 1, n),
    }, index=pd.Index([f"row {i}" for i in range(n)], name="row"))  # an index stored as a column
    table = pa.Table.from_pandas(frame)
    nothing = table.schema.get_field_index("nothing")  # a string column without a string: left out
    pq.write_table(table.set_column(nothing, "nothing", pa.nulls(n, pa.string())), tmp_path / "frame.parquet")

    compact, strings = read_parquet(tmp_path / "frame.parquet")

    assert list(compact.columns) == ["city", "review", "band", "nothing", "price"]
    assert strings == {"city", "review", "nothing"}
    evidently_types = Dataset.from_pandas(pd.read_parquet(tmp_path / "frame.parquet")).data_definition
    evidently = (evidently_types.numerical_columns, evidently_types.categorical_columns)
    assert infer_column_types(compact, strings) == evidently == (["price"], ["city", "band"])


# -- command line -----------------------------------------------------------------------------------
@pytest.fixture
def parquet_pair(tmp_path):
    reference, current = small_categorical()
    paths = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    reference.assign(spend=np.linspace(0, 1, len(reference))).to_parquet(paths[0])
    current.assign(spend=np.linspace(0.5, 1.5, len(current))).to_parquet(paths[1])
    return paths


def test_cli_writes_the_json_result_and_evidentlys_html_report(parquet_pair, tmp_path, capsys):
    reference, current = parquet_pair
    out, html = tmp_path / "drift.json", tmp_path / "drift.html"
    code = main(["drift", "--reference", str(reference), "--current", str(current), "--json", str(out),
                 "--html", str(html), "--sample-size", "300"])
    assert code == 0
    assert capsys.readouterr().out == ""
    data = json.loads(out.read_text())
    assert set(data) == {"dataset_drift", "drift_share", "number_of_drifted_columns", "columns"}
    assert list(data["columns"]) == ["spend", "city", "tier", "cuisine"]
    for column in data["columns"].values():
        assert set(column) == {"column_type", "stattest", "score", "threshold", "drifted"}
        assert column["column_type"] in {"num", "cat"} and isinstance(column["drifted"], bool)
    assert data["columns"]["spend"] == {**data["columns"]["spend"], "stattest": "ks", "drifted": True}
    page = html.read_text()
    assert "<html" in page and "Drift" in page


def test_cli_prints_json_for_the_requested_columns(parquet_pair, capsys):
    reference, current = parquet_pair
    code = main(["drift", "--reference", str(reference), "--current", str(current),
                 "--numerical", "spend", "--categorical", "city, tier"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert {c: d["column_type"] for c, d in data["columns"].items()} == {"spend": "num", "city": "cat", "tier": "cat"}


def test_cli_names_a_missing_file(parquet_pair, tmp_path, capsys):
    reference, _ = parquet_pair
    missing = tmp_path / "nowhere.parquet"
    with pytest.raises(SystemExit) as exit_info:  # refused by the parser, before any work
        main(["drift", "--reference", str(reference), "--current", str(missing)])
    assert exit_info.value.code == 2
    assert str(missing) in capsys.readouterr().err
