"""From ``terraform output -json`` to the pipeline's settings (``findining-mlops configure``).

The Terraform stack (infra/terraform) outputs every AWS setting the code reads, under the
output name ``settings.AWS_SETTINGS`` gives it; this module maps them back, checks them with
the same rules a task applies (``AwsSettings.from_env``), and writes them as

- ``env``: ``export FINDINING_…=…`` lines, MWAA's startup script (``airflow/startup.sh``) or a
  shell's ``source``;
- ``airflow-variables``: JSON for ``airflow variables import`` on a self-managed Airflow
  (the lower-cased names the plugin layer maps back to ``FINDINING_…``).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Mapping

from findining_mlops.errors import ConfigurationError
from findining_mlops.settings import AWS_SETTINGS, AwsSettings

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
    """The pipeline's environment (``FINDINING_BACKEND=aws`` and every AWS setting the stack
    provides), checked as a task would check it."""
    missing = sorted(output for output, _ in AWS_SETTINGS.values() if output and output not in outputs)
    if missing:
        raise ConfigurationError(f"the Terraform outputs lack {', '.join(missing)}; "
                                 "run `terraform apply` with this repository's infra/terraform first")
    env = {"FINDINING_BACKEND": "aws"}
    for name, (output, _) in AWS_SETTINGS.items():
        if output:
            value = outputs[output]
            env[name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    AwsSettings.from_env(env)  # a bad value fails here, naming the setting, not in the first task
    return env


def render(env: Mapping[str, str], fmt: str) -> str:
    if fmt == "env":
        lines = ["# the Find Dining pipeline's settings, from `terraform output -json` (findining-mlops configure)"]
        return "\n".join(lines + [f"export {name}={shlex.quote(value)}" for name, value in env.items()]) + "\n"
    if fmt == "airflow-variables":
        return json.dumps({name.lower(): value for name, value in env.items()}, indent=2) + "\n"
    raise ConfigurationError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")


def cmd_configure(args) -> int:
    text = render(settings_from_outputs(read_outputs(args.terraform_output)), args.format)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text, end="")
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
