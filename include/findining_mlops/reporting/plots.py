"""What every plot of days shares: a date axis with one tick per day.

Plotly reads ISO day strings as dates but scales the axis to the data: a single day (an A/B test's
first analysis) becomes a sub-second range around midnight. A fixed day tick and half a day of
margin either side keep the axis in days however few points there are.
"""

from __future__ import annotations

from datetime import date, timedelta

DAY_MS = 24 * 60 * 60 * 1000


def day_axis(figure, days: list[str]) -> None:
    """Gives every x axis of ``figure`` a date axis spanning ``days`` (ISO dates), ticked per day."""
    if not days:
        return
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    span = [f"{first - timedelta(days=1)}T12:00:00", f"{last}T12:00:00"]
    figure.update_xaxes(type="date", range=span, dtick=DAY_MS, tickformat="%Y-%m-%d")
