"""``make compose-env``: docker-compose.yaml's settings and its Docker secrets, generated.

Secrets never pass through ``.env`` or a container's environment, where every process of
the container (and ``docker inspect``) would read them: each is a file under the secrets
directory, which docker-compose.yaml declares as a Docker secret and hands only to the
services that need it (mounted at ``/run/secrets/<name>``; Airflow reads it through its
``_CMD`` options). ``.env`` (git-ignored, no secret in it) is ``.env.example`` plus
``FINDINING_SECRETS_DIR``, which compose requires, so a stack never starts without them.

Both are written once: an existing ``.env`` or secrets directory is refused, because its
Fernet key encrypts the Connections already in the database and its passwords are the
ones the volumes were created with.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

SECRETS_DIR_VARIABLE = "FINDINING_SECRETS_DIR"
# the service names and database users docker-compose.yaml declares
DATABASE_HOST, BROKER_HOST = "postgres", "redis"
AIRFLOW_DATABASE_USER = "airflow"
RESULTS_DATABASE_USER = "celery_results"  # owns only the Celery result database
FLOWER_USER = "admin"


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _token() -> str:
    # URL-safe: the Redis and PostgreSQL passwords are embedded in connection URLs
    return secrets.token_urlsafe(32)


def generate_secrets() -> dict[str, str]:
    """Every Docker secret by name. The connection URLs embed the passwords the servers
    are started with: a worker gets the broker and result-backend URLs, never the
    metadata database's password nor the raw Redis one."""
    database, results, broker = _token(), _token(), _token()
    return {
        "fernet_key": _fernet_key(),
        "jwt_secret": _token(),
        "api_secret_key": _token(),
        "admin_password": _token(),
        "flower_basic_auth": f"{FLOWER_USER}:{_token()}",
        "postgres_password": database,
        "sql_alchemy_conn": f"postgresql+psycopg2://{AIRFLOW_DATABASE_USER}:{database}@{DATABASE_HOST}/airflow",
        "celery_results_password": results,
        "celery_result_backend":
            f"db+postgresql+psycopg2://{RESULTS_DATABASE_USER}:{results}@{DATABASE_HOST}/celery_results",
        "redis_password": broker,
        "celery_broker_url": f"redis://:{broker}@{BROKER_HOST}:6379/0",
    }


def write_secrets(directory: Path) -> dict[str, str]:
    """One file per secret, without a trailing newline (Airflow's ``_CMD`` keeps it).

    The directory is the owner's only (0700); the files are 0644 because a bind-mounted
    secret keeps its host mode and each container reads it as its own user (PostgreSQL
    as ``postgres``, Airflow as ``AIRFLOW_UID``), and a container sees only its own.
    """
    directory.mkdir(parents=True)
    directory.chmod(0o700)
    values = generate_secrets()
    for name, value in values.items():
        path = directory / name
        path.write_text(value)
        path.chmod(0o644)
    return values


def render(example: str, secrets_dir: Path) -> str:
    """The example's settings and where the secrets are; compose resolves a relative
    directory against the project directory."""
    return example.rstrip("\n") + f"\n\n# Docker secrets, one file each (make compose-env)\n" \
                                  f"{SECRETS_DIR_VARIABLE}={secrets_dir}\n"


def write_env(example: Path, target: Path, secrets_dir: Path) -> None:
    for existing in (target, secrets_dir):
        if existing.exists():
            raise FileExistsError(f"{existing} exists and holds what your volumes were created with; "
                                  f"remove {target} and {secrets_dir} to generate new secrets "
                                  f"(and recreate the volumes)")
    write_secrets(secrets_dir)
    target.write_text(render(example.read_text(), secrets_dir))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", type=Path, default=Path(".env.example"))
    parser.add_argument("--output", type=Path, default=Path(".env"))
    parser.add_argument("--secrets-dir", type=Path, default=Path(".secrets"))
    args = parser.parse_args(argv)
    try:
        write_env(args.example, args.output, args.secrets_dir)
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} and the Docker secrets in {args.secrets_dir}/; "
          f"the admin password is {args.secrets_dir}/admin_password")
    return 0


if __name__ == "__main__":
    sys.exit(main())
