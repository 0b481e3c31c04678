"""``findining-mlops abtest``: the A/B tests in the A/B test store, and the analysis of an event file.

``abtests list|show`` and ``ab-analyze`` are the group's earlier names: they run the same command
and say its name on standard error.
"""

from __future__ import annotations

import argparse
import json

from findining_mlops.cli.arguments import input_file, output_file, platform_at, read_parquet_file, write_output
from findining_mlops.errors import FindiningError

COMMAND = "abtest"


def cmd_list(args) -> int:
    from findining_mlops.registry.versions import version_names

    platform = platform_at(args.home)
    tests = []
    for t in platform.abtests.list_tests(args.status):
        names = version_names(platform.registry, t.model_name)
        tests.append({**t.to_dict(), "control_display": names[t.control_version],
                      "treatment_display": names[t.treatment_version]})
    if args.json:
        print(json.dumps(tests, indent=2, ensure_ascii=False))
    else:
        for t in tests:
            ended = f" {t['decision']} on {t['concluded_at']}" if t["concluded_at"] else ""
            print(f"{t['test_id']:<40} {t['status']:<10} {t['model_name']} {t['control_display']} vs "
                  f"{t['treatment_display']} ({t['traffic_split']} % treatment) from {t['started_at']}{ended}")
    return 0


def cmd_show(args) -> int:
    from findining_mlops.abtest.lifecycle import history

    platform = platform_at(args.home)
    test = platform.abtests.get(args.test_id)
    if test is None:
        raise FindiningError(f"there is no A/B test {args.test_id!r}; `findining-mlops {COMMAND} list` shows them")
    print(json.dumps({"test": test.to_dict(), "daily_analyses": history(platform, test)}, indent=2,
                     ensure_ascii=False))
    return 0


def cmd_analyze(args) -> int:
    from findining_mlops.abtest.analysis import analyze
    from findining_mlops.abtest.stats import load_config

    config = load_config(args.config)
    result = analyze(read_parquet_file(args.events, "events"), config)
    write_output(args.json, json.dumps(result, indent=2))
    return 0


def _list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", choices=["running", "concluded", "stopped"])
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=cmd_list)


def _show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("test_id")
    parser.set_defaults(func=cmd_show)


def _analyze_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=input_file, required=True, help="events parquet: user_id, variant, "
                        "metric_name, metric_value, timestamp")
    parser.add_argument("--config", type=input_file, required=True,
                        help="test config JSON (see findining_mlops.abtest.stats)")
    parser.add_argument("--json", type=output_file, metavar="OUT", help="write the result here (default, -: stdout)")
    parser.set_defaults(func=cmd_analyze)


LIST_HELP = "every test with its status and decision"
SHOW_HELP = "a test and its daily analyses, as JSON"
ANALYZE_HELP = "SRM check, per-metric tests and the decision of an A/B test, from an events file"


def add_abtest_commands(commands, common: argparse.ArgumentParser) -> None:
    """``abtest list|show|analyze``, and the earlier names ``abtests list|show`` and ``ab-analyze``."""
    group = commands.add_parser(COMMAND, help="A/B tests: the A/B test store, and the analysis of an events file")
    actions = group.add_subparsers(dest="action", required=True)
    _list_arguments(actions.add_parser("list", parents=[common], help=LIST_HELP))
    _show_arguments(actions.add_parser("show", parents=[common], help=SHOW_HELP))
    _analyze_arguments(actions.add_parser("analyze", help=ANALYZE_HELP))

    renamed = commands.add_parser("abtests", help=f"the earlier name of `{COMMAND} list|show`")
    earlier = renamed.add_subparsers(dest="action", required=True)
    for action, arguments, text in (("list", _list_arguments, LIST_HELP), ("show", _show_arguments, SHOW_HELP)):
        parser = earlier.add_parser(action, parents=[common], help=text)
        arguments(parser)
        parser.set_defaults(renamed=(f"abtests {action}", f"{COMMAND} {action}"))
    analyze = commands.add_parser("ab-analyze", help=f"the earlier name of `{COMMAND} analyze`")
    _analyze_arguments(analyze)
    analyze.set_defaults(renamed=("ab-analyze", f"{COMMAND} analyze"))
