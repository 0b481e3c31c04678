"""From ``terraform output -json`` to the pipeline's settings (``findining-mlops configure``).

The Terraform stack (infra/terraform) outputs every AWS setting the code reads, under the
output name ``settings.AWS_SETTINGS`` (and, for the negative-feedback digest,
``settings.BEDROCK_SETTINGS``) gives it; this module maps them back, checks them with
the same rules a task applies (``AwsSettings.from_env``, ``BedrockSettings.from_env``), and
writes them as

- ``env``: ``export FINDINING_…=…`` lines, MWAA's startup script (``airflow/startup.sh``) or a
  shell's ``source``;
- ``airflow-variables``: JSON for ``airflow variables import`` on a self-managed Airflow
  (the lower-cased names the plugin layer maps back to ``FINDINING_…``). The resource prefix
  (``settings.NAME_SETTINGS``) is no Variable: it goes to the Airflow processes' environment.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from findining_mlops.config.catalog import all_models, endpoint_name, resource_prefix
from findining_mlops.config.settings import AWS_SETTINGS, BEDROCK_SETTINGS, NAME_SETTINGS, AwsSettings, BedrockSettings
from findining_mlops.errors import ConfigurationError

FORMATS = ("env", "airflow-variables")


def read_outputs(path: Path) -> dict[str, object]:
    """Output name -> value, from ``terraform output -json`` (each output is ``{"value": …}``)."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"cannot read Terraform outputs from {path}: {exc}; "
                                 "write them with `terraform output -json > FILE`") from exc
    if not isinstance(raw, dict) or not all(isinstance(v, dict) and "value" in v for v in raw.values()):
        raise ConfigurationError(f"{path} is not the JSON of `terraform output -json` "
                                 "(an object of outputs, each with a \"value\")")
    return {name: entry["value"] for name, entry in raw.items()}


def settings_from_outputs(outputs: Mapping[str, object]) -> dict[str, str]:
    """The pipeline's environment (``FINDINING_BACKEND=aws``, every AWS and Bedrock setting and
    the resource prefix the stack provides), checked as a task would check it."""
    stack_settings = {**NAME_SETTINGS, **AWS_SETTINGS, **BEDROCK_SETTINGS}
    missing = sorted(output for output, _ in stack_settings.values() if output and output not in outputs)
    if missing:
        raise ConfigurationError(f"the Terraform outputs lack {', '.join(missing)}; "
                                 "run `terraform apply` with this repository's infra/terraform first")
    env = {"FINDINING_BACKEND": "aws"}
    for name, (output, _) in stack_settings.items():
        if output:
            value = outputs[output]
            env[name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    AwsSettings.from_env(env)  # a bad value fails here, naming the setting, not in the first task
    BedrockSettings.from_env(env)
    for model in all_models():
        endpoint_name(model, resource_prefix(env))
    return env


def render(env: Mapping[str, str], fmt: str) -> str:
    if fmt == "env":
        lines = ["# the Find Dining pipeline's settings, from `terraform output -json` (findining-mlops configure)"]
        return "\n".join(lines + [f"export {name}={shlex.quote(value)}" for name, value in env.items()]) + "\n"
    if fmt == "airflow-variables":
        return json.dumps({name.lower(): value for name, value in env.items() if name not in NAME_SETTINGS},
                          indent=2) + "\n"
    raise ConfigurationError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")


def cmd_configure(args) -> int:
    env = settings_from_outputs(read_outputs(args.terraform_output))
    text = render(env, args.format)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text, end="")
    if args.format != "env":
        names = " ".join(f"{name}={shlex.quote(env[name])}" for name in NAME_SETTINGS)
        print(f"also set {names} in the environment of every Airflow process (scheduler, DAG processor, workers, "
              "triggerer): resource names are read from the environment, never from an Airflow Variable",
              file=sys.stderr)
    return 0


def add_command(commands) -> None:
    configure = commands.add_parser(
        "configure", help="turn `terraform output -json` into the pipeline's settings (env file or Airflow Variables)")
    configure.add_argument("--terraform-output", type=Path, required=True, metavar="FILE",
                           help="the JSON of `terraform output -json` in infra/terraform")
    configure.add_argument("--format", choices=FORMATS, default="env",
                           help="env: export lines (MWAA startup script); airflow-variables: JSON for "
                                "`airflow variables import`")
    configure.add_argument("--out", type=Path, help="write here instead of to stdout")
    configure.set_defaults(func=cmd_configure)
