"""``findining-mlops feedback``: analyze feedback, or measure an analyzer against labelled
feedback, with either analyzer (the local models or Bedrock)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from findining_mlops.errors import FindiningError

LOCAL, BEDROCK = "local", "bedrock"


def add_feedback_commands(commands, common: argparse.ArgumentParser, platform: Callable) -> None:
    """Registers ``feedback analyze`` and ``feedback evaluate``; ``platform(home)`` is the CLI's
    configured platform."""
    group = commands.add_parser("feedback",
                                help="negative feedback analysis").add_subparsers(dest="action", required=True)
    default = BEDROCK if os.environ.get("FINDINING_BACKEND", "").strip().lower() == "aws" else LOCAL
    analyzer = argparse.ArgumentParser(add_help=False)
    analyzer.add_argument("--analyzer", choices=[LOCAL, BEDROCK], default=default,
                          help=f"local: the live aspect and sentiment models; bedrock: Amazon Bedrock "
                               f"(FINDINING_BEDROCK_MODEL_ID, ...); default here: {default}")

    analyze = group.add_parser("analyze", parents=[common, analyzer], help="analyze feedback; JSON lines out")
    source = analyze.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="one piece of feedback")
    source.add_argument("--file", type=Path, help="a UTF-8 file with one piece of feedback per line")
    analyze.set_defaults(func=lambda args: cmd_analyze(args, platform))

    evaluate = group.add_parser("evaluate", parents=[common, analyzer],
                                help="aspect precision/recall/F1 against labelled feedback")
    evaluate.add_argument("--labelled", type=Path, required=True,
                          help="parquet or JSON lines with 'text', 'aspects' ('|'-separated) and optionally 'language'")
    evaluate.set_defaults(func=lambda args: cmd_evaluate(args, platform))


def make_analyzer(kind: str, home: str | None, platform: Callable):
    if kind == LOCAL:
        from findining_mlops.feedback.local import LocalAnalyzer

        return LocalAnalyzer.from_platform(platform(home))
    import boto3

    from findining_mlops.config.settings import BedrockSettings
    from findining_mlops.feedback.bedrock import BedrockAnalyzer, bedrock_runtime_client

    settings = BedrockSettings.from_env(os.environ, region=os.environ.get("FINDINING_AWS_REGION") or None)
    return BedrockAnalyzer(bedrock_runtime_client(boto3.Session(), settings), settings)


def _lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as exc:
        raise FindiningError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def cmd_analyze(args, platform: Callable) -> int:
    from findining_mlops.feedback.results import REFUSED, analyze

    texts = [args.text] if args.text is not None else _lines(args.file)
    analyzer = make_analyzer(args.analyzer, args.home, platform)
    refused = 0
    for number, text in enumerate(texts, start=1):
        result = analyze(analyzer, text, None if args.text is not None else f"line-{number}")
        refused += result.status == REFUSED
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    if refused:
        print(f"findining-mlops: {refused} of {len(texts)} input(s) refused; see their 'error'", file=sys.stderr)
    return 1 if refused else 0


def read_labelled(path: Path):
    import pandas as pd

    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_json(path, lines=True)
    except (OSError, ValueError) as exc:
        raise FindiningError(f"labelled file {path} is neither parquet nor JSON lines ({exc})") from exc
    missing = {"text", "aspects"} - set(frame.columns)
    if missing:
        raise FindiningError(f"labelled file {path} lacks column(s) {', '.join(sorted(missing))}")
    return frame


def cmd_evaluate(args, platform: Callable) -> int:
    from findining_mlops.feedback.evaluation import evaluate
    from findining_mlops.feedback.results import analyze

    frame = read_labelled(args.labelled)
    analyzer = make_analyzer(args.analyzer, args.home, platform)
    report = evaluate(frame, lambda text, fid: analyze(analyzer, text, fid))
    print(json.dumps({"analyzer": analyzer.name, **report}, indent=2))
    return 0
