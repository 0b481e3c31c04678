"""Plots of days have a date axis ticked per day, however few days there are."""

import plotly.graph_objects as go

from findining_mlops.abtest.lifecycle import ci_figure
from findining_mlops.platform.ports import ABTest
from findining_mlops.reporting.plots import DAY_MS


def test_a_one_day_ab_test_plots_on_a_day_axis_not_around_midnight():
    test = ABTest("t", "one day", "sentiment", "e", 1, 2, "sentiment-v1", "sentiment-v2", 50, 14,
                  {"sentiment_accuracy": {}}, {"model_latency_ms": {}}, 0.05, "2026-10-05")
    day = {"day": "2026-10-05", "metrics": {name: {"difference": 0.01, "ci_low": -0.02, "ci_high": 0.04}
                                            for name in ("sentiment_accuracy", "model_latency_ms")}}
    figure = ci_figure(test, [day])
    for axis in (figure.layout.xaxis, figure.layout.xaxis2):
        assert axis.type == "date" and axis.dtick == DAY_MS and axis.tickformat == "%Y-%m-%d"
        assert tuple(axis.range) == ("2026-10-04T12:00:00", "2026-10-05T12:00:00")  # the day, with half a day each side


def test_an_empty_plot_keeps_plotlys_own_axis():
    from findining_mlops.reporting.plots import day_axis

    figure = go.Figure()
    day_axis(figure, [])
    assert figure.layout.xaxis.type is None
