"""``findining-mlops``: the pipeline's operations outside Airflow.

Reads ``FINDINING_HOME`` (default ``.findining``) and ``FINDINING_BACKEND``. A malformed argument
is refused with a message and exit code 2 before anything is written; ``-`` as an output file
is standard output. A command known by an earlier name still answers to it and says its name.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from findining_mlops.cli.arguments import (
    column_names,
    day,
    input_file,
    output_file,
    platform_at,
    read_parquet_file,
    whole_number,
    write_output,
)
from findining_mlops.errors import FindiningError

# commands that are not the product's: where they live
DEV_TOOLS = {"traffic": "python -m devtools.traffic"}


def cmd_generate_data(args) -> int:
    from findining_mlops.data.synthetic import ScenarioPlan, generate

    scenario = ScenarioPlan(args.scenario, args.scenario_start)
    platform = platform_at(args.home, create=True)
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
    platform = platform_at(args.home)
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
    version = versions.resolve(platform_at(args.home).registry, args.model, args.version)
    print(json.dumps(version.to_dict(), indent=2, ensure_ascii=False))
    return 0


def cmd_health(args) -> int:
    """The guide's ``mlService.healthCheck()``: exit status 1 unless every endpoint serves."""
    import os

    from findining_mlops.serving.client.service import MLService, endpoint_names

    health = MLService(platform_at(args.home), endpoints=endpoint_names(os.environ)).health_check()
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

    platform = platform_at(args.home)
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


def cmd_drift(args) -> int:
    from findining_mlops.monitoring.drift import detect_drift, read_parquet, render_html_report

    reference, _ = read_parquet_file(args.reference, "reference", read_parquet)
    current, strings = read_parquet_file(args.current, "current", read_parquet)
    result = detect_drift(reference, current, args.numerical, args.categorical, strings=strings)
    html = None
    if args.html:
        # the report compares exactly the columns that were judged, with the same types
        numerical = [name for name, c in result.columns.items() if c.column_type == "num"]
        categorical = [name for name, c in result.columns.items() if c.column_type == "cat"]
        html = render_html_report(reference, current, numerical, categorical, sample_size=args.sample_size)
    write_output(args.json, json.dumps(result.to_dict(), indent=2))
    if html is not None:
        args.html.write_text(html, encoding="utf-8")
    return 0


def cmd_dev_tool(args) -> int:
    """A development tool's earlier name: says how to run it, since the product does not ship dev tools."""
    command = " ".join([DEV_TOOLS[args.command], shlex.join(args.arguments)]).strip()
    print(f"findining-mlops: `{args.command}` is a development tool: from the repository, run `{command}`",
          file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    from findining_mlops.cli import validate
    from findining_mlops.cli.abtest import add_abtest_commands
    from findining_mlops.cli.feedback import add_feedback_commands
    from findining_mlops.config import terraform as infra_config

    parser = argparse.ArgumentParser(prog="findining-mlops", description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="local backend root (default: $FINDINING_HOME or .findining)")
    # --home is accepted before or after the command
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(commands, common)
    _add_serving_commands(commands, common)
    add_abtest_commands(commands, common)
    for name, command in DEV_TOOLS.items():
        # every argument is taken as it is, to be repeated in the message
        tool = commands.add_parser(name, add_help=False, prefix_chars="\0", help=f"a development tool: `{command}`")
        tool.add_argument("arguments", nargs=argparse.REMAINDER)
        tool.set_defaults(func=cmd_dev_tool)
    infra_config.add_command(commands)
    validate.add_command(commands)
    add_feedback_commands(commands, common, platform_at)
    return parser


def _add_data_commands(commands, common: argparse.ArgumentParser) -> None:
    gen = commands.add_parser("generate-data", parents=[common], help="write synthetic daily partitions into the store")
    gen.add_argument("--start", type=day, required=True, help="first day, YYYY-MM-DD")
    gen.add_argument("--days", type=whole_number(1), required=True)
    gen.add_argument("--seed", type=whole_number(0), default=42)
    gen.add_argument("--scenario", default="stable", help="stable | taste-shift | new-district | slang-shift")
    gen.add_argument("--scenario-start", type=day, help="first day of the scenario")
    gen.add_argument("--requests-per-day", type=whole_number(1), default=1500)
    gen.add_argument("--reviews-per-day", type=whole_number(1), default=400)
    gen.set_defaults(func=cmd_generate_data)

    drift = commands.add_parser("drift", help="per-column and dataset drift of two parquet files (Evidently's rules)")
    drift.add_argument("--reference", type=input_file, required=True, help="reference parquet file")
    drift.add_argument("--current", type=input_file, required=True, help="current parquet file")
    drift.add_argument("--numerical", type=column_names, help="comma-separated numerical columns (default: inferred)")
    drift.add_argument("--categorical", type=column_names,
                       help="comma-separated categorical columns (default: inferred)")
    drift.add_argument("--json", type=output_file, metavar="OUT", help="write the result here (default, -: stdout)")
    drift.add_argument("--html", type=output_file, metavar="OUT", help="also write Evidently's HTML report here")
    drift.add_argument("--sample-size", type=whole_number(1), default=5000, help="rows per side in the HTML report")
    drift.set_defaults(func=cmd_drift)


def _add_serving_commands(commands, common: argparse.ArgumentParser) -> None:
    """The model registry and the endpoints that serve its versions."""
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if renamed := getattr(args, "renamed", None):
        earlier, current = renamed
        print(f"findining-mlops: `{earlier}` is `findining-mlops {current}`", file=sys.stderr)
    try:
        return args.func(args)
    except (FindiningError, ValueError, OSError) as exc:  # OSError: an output that cannot be written
        print(f"findining-mlops: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
