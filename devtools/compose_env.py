"""``make compose-env``: the ``.env`` of docker-compose.yaml, with every secret generated.

``.env.example`` (committed) names each setting and leaves the secrets empty;
docker-compose.yaml requires each of them (``${NAME:?...}``), so a stack never starts on a
default password. This writes ``.env`` (git-ignored) from the example with a fresh value for
each secret, and refuses to overwrite an existing ``.env``: its Fernet key encrypts the
Connections already in the database, and its passwords are the ones the volumes hold.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable
from pathlib import Path


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _token() -> str:
    # URL-safe: the Redis and PostgreSQL passwords are embedded in connection URLs
    return secrets.token_urlsafe(32)


SECRETS: dict[str, Callable[[], str]] = {
    "AIRFLOW_FERNET_KEY": _fernet_key,
    "AIRFLOW_JWT_SECRET": _token,
    "AIRFLOW_API_SECRET_KEY": _token,
    "AIRFLOW_ADMIN_PASSWORD": _token,
    "POSTGRES_PASSWORD": _token,
    "REDIS_PASSWORD": _token,
    "FLOWER_PASSWORD": _token,
}


def render(example: str) -> str:
    """The example's text with each empty secret filled in; every other line as it is."""
    lines = []
    for line in example.splitlines():
        name, sep, value = line.partition("=")
        if sep and name in SECRETS and not value.strip():
            line = f"{name}={SECRETS[name]()}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def write_env(example: Path, target: Path) -> None:
    if target.exists():
        raise FileExistsError(f"{target} exists and holds the secrets your volumes were created with; "
                              f"remove it first to generate new ones (and recreate the volumes)")
    target.write_text(render(example.read_text()))
    target.chmod(0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", type=Path, default=Path(".env.example"))
    parser.add_argument("--output", type=Path, default=Path(".env"))
    args = parser.parse_args(argv)
    try:
        write_env(args.example, args.output)
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} with generated secrets; the admin password is AIRFLOW_ADMIN_PASSWORD in it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
