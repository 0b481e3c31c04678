"""``findining-mlops``: the pipeline's operations outside Airflow.

Reads ``FINDINING_HOME`` (default ``.findining``) and ``FINDINING_BACKEND``. A malformed argument
is refused with a message and exit code 2 before anything is written; ``-`` as an output file
is standard output.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from findining_mlops.errors import FindiningError


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from exc


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated column names")
    return names


def _whole_number(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value
    return parse


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _input_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory, not a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{path} does not exist")
    return path


def _output_file(text: str) -> Path | None:
    """A file to write, checked before any work is done; ``-`` (None) is standard output."""
    if text == "-":
        return None
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory; name a file in it")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {path.parent} of {path} does not exist")
    return path


def _write(target: Path | None, text: str) -> None:
    if target is None:
        print(text)
    else:
        target.write_text(text + "\n", encoding="utf-8")


def _read_parquet(path: Path, what: str, read=None):
    """``read(path)`` (default ``pd.read_parquet``), with an unreadable file named as the ``what`` file."""
    import pandas as pd
    import pyarrow

    try:
        return (read or pd.read_parquet)(path)
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        raise FindiningError(f"{what} file {path} is not a readable parquet file ({exc})") from exc


def _platform(home: str | None, create: bool = False):
    """The configured platform; a local home that does not exist is only created when ``create``."""
    import os

    from findining_mlops.config.settings import Settings
    from findining_mlops.platform import get_platform

    env = dict(os.environ)
    if home:
        env["FINDINING_HOME"] = home
    settings = Settings.from_env(env)
    if settings.backend == "local":
        if settings.home.exists() and not settings.home.is_dir():
            raise FindiningError(f"the local backend's home {settings.home} is a file, not a directory")
        if not create and not settings.home.is_dir():
            raise FindiningError(f"there is no local backend at {settings.home} (--home / FINDINING_HOME); "
                                 "`findining-mlops generate-data` or `make demo` creates one")
    return get_platform(settings)


def cmd_generate_data(args) -> int:
    from findining_mlops.data.synthetic import ScenarioPlan, generate

    scenario = ScenarioPlan(args.scenario, args.scenario_start)
    platform = _platform(args.home, create=True)
    summary = generate(
        platform.store, args.start, args.days, args.seed, scenario, requests_per_day=args.requests_per_day,
        reviews_per_day=args.reviews_per_day, progress=lambda line: print(line, file=sys.stderr),
    )
    print(json.dumps({"days": summary.days, "interaction_rows": summary.interactions, "reviews": summary.reviews,
                      "store": platform.store.uri("data/")}, indent=2))
    return 0


def cmd_registry_list(args) -> int:
    from findining_mlops.config.catalog import get_model

    if args.model:
        get_model(args.model)  # an unknown name is an error, not an empty list
    platform = _platform(args.home)
    versions = [v.to_dict() for v in platform.registry.list_versions(args.model)]
    if args.json:
        print(json.dumps(versions, indent=2, ensure_ascii=False))
    else:
        for v in versions:
            print(f"{v['model']:<16} v{v['version']:<4} {v['status']:<22} {v['label']:<10} {v['created_at']}  "
                  f"{v['artifact_uri']}")
    return 0


def cmd_registry_show(args) -> int:
    from findining_mlops.config.catalog import get_model
    from findining_mlops.registry import versions

    get_model(args.model)
    version = versions.resolve(_platform(args.home).registry, args.model, args.version)
    print(json.dumps(version.to_dict(), indent=2, ensure_ascii=False))
    return 0


def cmd_health(args) -> int:
    """The guide's ``mlService.healthCheck()``: exit status 1 unless every endpoint serves."""
    import os

    from findining_mlops.serving.client.service import MLService, endpoint_names

    health = MLService(_platform(args.home), endpoints=endpoint_names(os.environ)).health_check()
    if args.json:
        print(json.dumps(health, indent=2))
    else:
        for name, state in health.items():
            if name not in ("healthy", "serving"):  # the client's own serving figures: in --json
                print(f"{name:<16} {state['status']:<12} {state['endpoint']}")
                for v in state.get("variants", []):
                    print(f"  {v['variant']:<24} {v['display']:<16} {v['traffic_percent']:6.2f} %")
    return 0 if health["healthy"] else 1


def cmd_endpoints_describe(args) -> int:
    from findining_mlops.registry.versions import labelled_variants

    platform = _platform(args.home)
    endpoints = platform.endpoints.list_endpoints()
    if args.name:
        endpoints = [e for e in endpoints if e.name == args.name]
        if not endpoints:
            raise FindiningError(f"endpoint {args.name} does not exist")
    described = [{**e.to_dict(), "variants": labelled_variants(platform.registry, e.to_dict()["variants"])}
                 for e in endpoints]
    if args.json:
        print(json.dumps(described, indent=2))
    else:
        for e in described:
            print(f"{e['endpoint']} ({e['status']}, config {e['config']})")
            for v in e["variants"]:
                print(f"  {v['variant']:<24} {v['model']} {v['display']:<16} {v['traffic_percent']:6.2f} %")
    return 0


def cmd_abtests_list(args) -> int:
    from findining_mlops.registry.versions import display

    platform = _platform(args.home)
    tests = [{**t.to_dict(), "control_display": display(platform.registry, t.model_name, t.control_version),
              "treatment_display": display(platform.registry, t.model_name, t.treatment_version)}
             for t in platform.abtests.list_tests(args.status)]
    if args.json:
        print(json.dumps(tests, indent=2, ensure_ascii=False))
    else:
        for t in tests:
            ended = f" {t['decision']} on {t['concluded_at']}" if t["concluded_at"] else ""
            print(f"{t['test_id']:<40} {t['status']:<10} {t['model_name']} {t['control_display']} vs "
                  f"{t['treatment_display']} ({t['traffic_split']} % treatment) from {t['started_at']}{ended}")
    return 0


def cmd_abtests_show(args) -> int:
    from findining_mlops.abtest.lifecycle import history

    platform = _platform(args.home)
    test = platform.abtests.get(args.test_id)
    if test is None:
        raise FindiningError(f"there is no A/B test {args.test_id!r}; `findining-mlops abtests list` shows them")
    print(json.dumps({"test": test.to_dict(), "daily_analyses": history(platform, test)}, indent=2,
                     ensure_ascii=False))
    return 0


def cmd_drift(args) -> int:
    from findining_mlops.monitoring.drift import detect_drift, read_parquet, render_html_report

    reference, _ = _read_parquet(args.reference, "reference", read_parquet)
    current, strings = _read_parquet(args.current, "current", read_parquet)
    result = detect_drift(reference, current, args.numerical, args.categorical, strings=strings)
    html = None
    if args.html:
        # the report compares exactly the columns that were judged, with the same types
        numerical = [name for name, c in result.columns.items() if c.column_type == "num"]
        categorical = [name for name, c in result.columns.items() if c.column_type == "cat"]
        html = render_html_report(reference, current, numerical, categorical, sample_size=args.sample_size)
    _write(args.json, json.dumps(result.to_dict(), indent=2))
    if html is not None:
        args.html.write_text(html, encoding="utf-8")
    return 0


def cmd_ab_analyze(args) -> int:
    from findining_mlops.abtest.stats import analyze, load_config

    config = load_config(args.config)
    result = analyze(_read_parquet(args.events, "events"), config)
    _write(args.json, json.dumps(result, indent=2))
    return 0


def cmd_traffic(args) -> int:
    import logging

    from devtools.traffic import generate_traffic
    from findining_mlops.config.catalog import all_models

    specs = {spec.endpoint_name: spec for spec in all_models().values()}
    if args.endpoint not in specs:
        raise FindiningError(f"no model in the catalog is served by endpoint {args.endpoint}; "
                             f"known endpoints: {', '.join(sorted(specs))}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # progress on stderr
    report = generate_traffic(_platform(args.home), specs[args.endpoint], args.rps, args.duration, seed=args.seed)
    summary = report.summary()
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(f"{summary['endpoint']}: {summary['sent']} sent, {summary['served']} served, "
              f"{summary['errors']} errors, {summary['lost']} lost")
        for variant, served in summary["per_variant"].items():
            print(f"  {variant:<24} {served['requests']:>7} requests  p50 {served['p50_latency_ms']} ms  "
                  f"p95 {served['p95_latency_ms']} ms")
        for message, count in summary["error_messages"].items():
            print(f"  {count:>7} x {message}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="findining-mlops", description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="local backend root (default: $FINDINING_HOME or .findining)")
    # --home is accepted before or after the command
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate-data", parents=[common], help="write synthetic daily partitions into the store")
    gen.add_argument("--start", type=_date, required=True, help="first day, YYYY-MM-DD")
    gen.add_argument("--days", type=_whole_number(1), required=True)
    gen.add_argument("--seed", type=_whole_number(0), default=42)
    gen.add_argument("--scenario", default="stable", help="stable | taste-shift | new-district | slang-shift")
    gen.add_argument("--scenario-start", type=_date, help="first day of the scenario")
    gen.add_argument("--requests-per-day", type=_whole_number(1), default=1500)
    gen.add_argument("--reviews-per-day", type=_whole_number(1), default=400)
    gen.set_defaults(func=cmd_generate_data)

    registry = commands.add_parser("registry", help="the model registry").add_subparsers(dest="action", required=True)
    listing = registry.add_parser("list", parents=[common], help="every model version with status, metrics and lineage")
    listing.add_argument("--model")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_registry_list)
    shown = registry.add_parser("show", parents=[common], help="one version, named by its number or its label")
    shown.add_argument("model")
    shown.add_argument("version", help="the registry's number (3) or the version's label (1.1.0)")
    shown.set_defaults(func=cmd_registry_show)

    health = commands.add_parser("health", parents=[common], help="each model's endpoint: status and variants "
                                 "(<MODEL>_ENDPOINT_NAME names another endpoint); exit 1 unless all serve")
    health.add_argument("--json", action="store_true")
    health.set_defaults(func=cmd_health)

    endpoints = commands.add_parser("endpoints", help="serving endpoints").add_subparsers(dest="action", required=True)
    describe = endpoints.add_parser("describe", parents=[common], help="variants with model version and weight")
    describe.add_argument("name", nargs="?")
    describe.add_argument("--json", action="store_true")
    describe.set_defaults(func=cmd_endpoints_describe)

    abtests = commands.add_parser("abtests", help="A/B tests in the A/B test store").add_subparsers(
        dest="action", required=True)
    tests = abtests.add_parser("list", parents=[common], help="every test with its status and decision")
    tests.add_argument("--status", choices=["running", "concluded", "stopped"])
    tests.add_argument("--json", action="store_true")
    tests.set_defaults(func=cmd_abtests_list)
    show = abtests.add_parser("show", parents=[common], help="a test and its daily analyses, as JSON")
    show.add_argument("test_id")
    show.set_defaults(func=cmd_abtests_show)

    drift = commands.add_parser("drift", help="per-column and dataset drift of two parquet files (Evidently's rules)")
    drift.add_argument("--reference", type=_input_file, required=True, help="reference parquet file")
    drift.add_argument("--current", type=_input_file, required=True, help="current parquet file")
    drift.add_argument("--numerical", type=_names, help="comma-separated numerical columns (default: inferred)")
    drift.add_argument("--categorical", type=_names, help="comma-separated categorical columns (default: inferred)")
    drift.add_argument("--json", type=_output_file, metavar="OUT", help="write the result here (default, -: stdout)")
    drift.add_argument("--html", type=_output_file, metavar="OUT", help="also write Evidently's HTML report here")
    drift.add_argument("--sample-size", type=_whole_number(1), default=5000, help="rows per side in the HTML report")
    drift.set_defaults(func=cmd_drift)

    ab = commands.add_parser("ab-analyze", help="SRM check, per-metric tests and the decision of an A/B test")
    ab.add_argument("--events", type=_input_file, required=True, help="events parquet: user_id, variant, "
                    "metric_name, metric_value, timestamp")
    ab.add_argument("--config", type=_input_file, required=True,
                    help="test config JSON (see findining_mlops.abtest.stats)")
    ab.add_argument("--json", type=_output_file, metavar="OUT", help="write the result here (default, -: stdout)")
    ab.set_defaults(func=cmd_ab_analyze)

    traffic = commands.add_parser("traffic", parents=[common],
                                  help="send synthetic requests to an endpoint at a steady rate")
    traffic.add_argument("--endpoint", required=True, help="endpoint name; its model is looked up in the catalog")
    traffic.add_argument("--rps", type=_positive_number, required=True, help="requests per second")
    traffic.add_argument("--duration", type=_positive_number, required=True, help="seconds")
    traffic.add_argument("--seed", type=_whole_number(0), default=0, help="synthetic world the requests come from")
    traffic.add_argument("--json", action="store_true", help="print the summary as JSON")
    traffic.set_defaults(func=cmd_traffic)

    from findining_mlops.cli import validate
    from findining_mlops.cli.feedback import add_feedback_commands
    from findining_mlops.config import terraform as infra_config

    infra_config.add_command(commands)
    validate.add_command(commands)
    add_feedback_commands(commands, common, _platform)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FindiningError, ValueError, OSError) as exc:  # OSError: an output that cannot be written
        print(f"findining-mlops: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
