"""``findining-mlops feedback analyze|evaluate`` and ``MLService.analyze_negative_feedback``
on the local backend, with the session's trained models."""

from __future__ import annotations

import json

import pandas as pd
from feedback_support import WORLD_SEED, unseen_days

from findining_mlops.cli.main import main
from findining_mlops.data.synthetic import ScenarioPlan, World
from findining_mlops.serving.client.service import MLService


def test_analyze_text_prints_one_json_line(capsys, feedback_home):
    code = main(["feedback", "analyze", "--home", str(feedback_home), "--text", "啲餐具好污糟，見到曱甴，唔會再嚟。"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and len(out) == 1
    result = json.loads(out[0])
    assert result["status"] == "analyzed" and result["analysis"]["language"] == "yue"
    assert "hygiene" in [a["aspect"] for a in result["analysis"]["aspects"]]
    assert result["analysis"]["needs_attention"] is True


def test_analyze_file_answers_per_line_and_refuses_bad_lines_with_exit_1(capsys, feedback_home, tmp_path):
    lines = tmp_path / "feedback.txt"
    lines.write_text("The waiter was rude.\n\u0000\u0001binary\nWay too expensive.\n", encoding="utf-8")
    code = main(["feedback", "analyze", "--home", str(feedback_home), "--file", str(lines)])
    captured = capsys.readouterr()
    results = [json.loads(line) for line in captured.out.splitlines()]
    assert code == 1 and "1 of 3 input(s) refused" in captured.err
    assert [r["status"] for r in results] == ["analyzed", "refused", "analyzed"]
    assert [r["feedback_id"] for r in results] == ["line-1", "line-2", "line-3"]


def test_evaluate_reports_per_aspect_precision_recall_and_f1(capsys, feedback_home, tmp_path):
    labelled = tmp_path / "labelled.jsonl"
    World(WORLD_SEED).feedback(unseen_days(1)[0], 80, ScenarioPlan())[["text", "aspects", "language"]].to_json(
        labelled, orient="records", lines=True, force_ascii=False)
    code = main(["feedback", "evaluate", "--home", str(feedback_home), "--labelled", str(labelled)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["rows"] == 80 and report["analyzer"].startswith("local:aspects v1")
    assert set(report["per_aspect"]["service"]) == {"precision", "recall", "f1", "support"}
    assert report["macro_f1"] >= 0.8


def test_evaluate_names_missing_columns(capsys, feedback_home, tmp_path):
    labelled = tmp_path / "labelled.jsonl"
    pd.DataFrame({"text": ["cold food"]}).to_json(labelled, orient="records", lines=True)
    assert main(["feedback", "evaluate", "--home", str(feedback_home), "--labelled", str(labelled)]) == 2
    assert "lacks column(s) aspects" in capsys.readouterr().err


def test_the_client_analyzes_negative_feedback_and_its_health_check_covers_the_aspect_endpoint(feedback_platform):
    service = MLService(feedback_platform)
    result = service.analyze_negative_feedback("The delivery arrived an hour late, really disappointed.")
    assert result.status == "analyzed"
    assert [a["aspect"] for a in result.analysis["aspects"]] == ["delivery"]
    assert service.analyze_negative_feedback("   ").status == "refused"
    assert service.health_check()["aspects"]["status"] == "InService"
