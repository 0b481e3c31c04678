"""Connection settings for Airflow's metadata database, named by ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS``.

On SQLite (``make demo``, ``make airflow``) every component writes to one file. Python's
sqlite3 gives up on a lock after 5 s and Airflow's scheduler exits on that error ("database
is locked"), which a busy 2-core machine reaches while tasks start side by side. Waiting
longer for the lock costs nothing when it is free.
"""

from __future__ import annotations

SQLITE_LOCK_TIMEOUT_S = 60.0
SQLITE_CONNECT_ARGS = {"timeout": SQLITE_LOCK_TIMEOUT_S}
