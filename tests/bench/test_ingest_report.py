"""The ingest benchmark's report: the verdict and the bound come from the figures, not the text."""

from __future__ import annotations

import pytest

from bench.ingest import Run, render

SPLIT = {"parse": 0.04, "sentiment": 1.8, "rules": 0.2, "documents": 0.06, "bson": 0.04}


def runs(pipeline_s: float, *, client_cpu_s: float = 3.0) -> dict[str, Run]:
    return {
        "raw": Run(1.0, 0.2, 0.8),
        "raw_indexed": Run(2.0, 0.2, 1.9),
        "no_sentiment": Run(2.2, 0.7, 2.0),
        "pipeline": Run(pipeline_s, client_cpu_s, 2.0),
    }


@pytest.mark.parametrize(
    ("pipeline_s", "ratio", "verdict"),
    [
        (2.5, "0.80", "is met"),
        (2.0, "1.00", "is met"),
        (2.6, "0.76", "is not met"),
        (2.5025, "0.79", "is not met"),
    ],
)
def test_the_goal_is_judged_against_the_indexed_insert(
    pipeline_s: float, ratio: str, verdict: str
) -> None:
    """The verdict follows raw-with-indexes ÷ pipeline, shown rounded down; bare ratio too."""
    report = render(runs(pipeline_s), SPLIT)
    assert f"same indexed collection: **{ratio}**, so the goal (≥ 0.8) {verdict}" in report
    assert f"pipeline ÷ that is {1.0 / pipeline_s:.2f}" in report


@pytest.mark.parametrize(
    ("client_cpu_s", "bound"),
    [(3.0, "this process is the bound"), (1.5, "the server is the bound")],
)
def test_the_bound_is_the_busier_process(client_cpu_s: float, bound: str) -> None:
    """Whichever process needs more CPU per media is named as the bound."""
    report = render(runs(2.5, client_cpu_s=client_cpu_s), SPLIT)
    assert bound in report


def test_sentiment_is_the_difference_between_the_two_pipeline_runs() -> None:
    """Sentiment's cost in the run is the pipeline's CPU less the run without sentiment."""
    report = render(runs(3.0), SPLIT)
    assert "sentiment cost 0.230 ms in the run (0.180 ms clocked alone" in report
