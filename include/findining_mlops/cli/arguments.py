"""What every command line of the pipeline shares: argument types that refuse a malformed value
before anything is written, reading and writing files, and the platform a command works on."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from findining_mlops.errors import FindiningError


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from exc


def column_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated column names")
    return names


def whole_number(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value
    return parse


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def input_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory, not a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{path} does not exist")
    return path


def output_file(text: str) -> Path | None:
    """A file to write, checked before any work is done; ``-`` (None) is standard output."""
    if text == "-":
        return None
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory; name a file in it")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {path.parent} of {path} does not exist")
    return path


def write_output(target: Path | None, text: str) -> None:
    if target is None:
        print(text)
    else:
        target.write_text(text + "\n", encoding="utf-8")


def read_parquet_file(path: Path, what: str, read=None):
    """``read(path)`` (default ``pd.read_parquet``), with an unreadable file named as the ``what`` file."""
    import pandas as pd
    import pyarrow

    try:
        return (read or pd.read_parquet)(path)
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        raise FindiningError(f"{what} file {path} is not a readable parquet file ({exc})") from exc


def platform_at(home: str | None, create: bool = False):
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
