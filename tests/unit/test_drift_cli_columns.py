"""`findining-mlops drift`: a reference column missing from the current file, or holding
another kind of value there, is an error naming the column; `--json -` is standard output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from findining_mlops.cli.main import main
from findining_mlops.errors import DataValidationError
from findining_mlops.monitoring.drift import detect_drift


def _frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"rating": rng.normal(4.0, 0.5, rows), "price": rng.normal(120, 30, rows),
                         "district": rng.choice(["Central", "Mong Kok", "Sha Tin"], rows)})


def _files(tmp_path, reference: pd.DataFrame, current: pd.DataFrame):
    ref, cur = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    reference.to_parquet(ref)
    current.to_parquet(cur)
    return ref, cur


def test_a_reference_column_missing_from_the_current_file_is_named(tmp_path, capsys):
    ref, cur = _files(tmp_path, _frame(), _frame(seed=1).drop(columns="price"))

    code = main(["drift", "--reference", str(ref), "--current", str(cur), "--json", str(tmp_path / "out.json")])

    assert code != 0
    assert "'price'" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("column, current_values", [
    ("rating", lambda n: np.array(["four", "five"] * (n // 2))),  # numbers in the reference, text now
    ("district", lambda n: np.arange(n) % 3),  # text in the reference, numbers now
])
def test_a_column_whose_values_changed_kind_is_named(tmp_path, capsys, column, current_values):
    current = _frame(seed=1)
    current[column] = current_values(len(current))
    ref, cur = _files(tmp_path, _frame(), current)

    code = main(["drift", "--reference", str(ref), "--current", str(cur)])

    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    assert repr(column) in err and "reference" in err


def test_the_library_refuses_the_same_columns(tmp_path):
    with pytest.raises(DataValidationError, match="'price'"):
        detect_drift(_frame(), _frame(seed=1).drop(columns="price"))
    current = _frame(seed=1).assign(rating=lambda f: f["rating"].round(1).astype(str))
    with pytest.raises(DataValidationError, match="'rating'"):
        detect_drift(_frame(), current, numerical=["rating", "price"], categorical=["district"])


def test_json_dash_writes_to_standard_output(tmp_path, capsys, monkeypatch):
    ref, cur = _files(tmp_path, _frame(), _frame(seed=1))
    monkeypatch.chdir(tmp_path)

    code = main(["drift", "--reference", str(ref), "--current", str(cur), "--json", "-"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert set(json.loads(out)["columns"]) == {"rating", "price", "district"}
    assert not (tmp_path / "-").exists()
