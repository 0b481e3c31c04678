"""Constants and helpers shared by the feedback tests (a module of its own: ``conftest`` is
a name every test folder has)."""

from __future__ import annotations

from datetime import date, timedelta

DATA_START = date(2026, 10, 1)
DATA_DAYS = 14
TRAINED_UNTIL = date(2026, 10, 11)  # the days after it are the digest's, unseen in training
WORLD_SEED = 3


def unseen_days(count: int) -> list[date]:
    return [TRAINED_UNTIL + timedelta(days=40 + k) for k in range(count)]
