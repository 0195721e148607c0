"""The report of a run with many trials per task: pass^k and pass@k for every k, and their
intervals, equal the textbook computation (exact binomials, a bootstrap summing each resample
in the order drawn), which the fast path (one count per task, shared resamples) must not change."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from pathlib import Path

from policy_agent.report import build_report, load_run
from tests.report._support import episode, write_run

TRIALS = 30
RESAMPLES = 300
SEED = 5

# Successes per task out of TRIALS: all, none, and in between (so pass^k changes with k and
# reaches 0 for k > c, where terms of consecutive k repeat).
SUCCESSES = {"a": 30, "b": 0, "c": 12, "d": 29, "e": 3}


def reference_interval(terms: list[float], seed: int) -> tuple[float, float, float]:
    """The percentile bootstrap over tasks, written plainly (numpy's linear quantile)."""
    rng = random.Random(seed)
    n = len(terms)
    draws = [rng.choices(range(n), k=n) for _ in range(RESAMPLES)]
    values = sorted(sum(terms[i] for i in draw) / sum(1.0 for _ in draw) for draw in draws)

    def quantile(q: float) -> float:
        position = q * (len(values) - 1)
        below = math.floor(position)
        above = min(below + 1, len(values) - 1)
        return values[below] + (values[above] - values[below]) * (position - below)

    tail = (1 - 0.95) / 2  # as the report computes it: 0.025 and a few ulps
    return quantile(tail), sum(terms) / n, quantile(1 - tail)


def test_every_pass_k_of_a_long_run_is_the_textbook_value_and_interval(tmp_path: Path) -> None:
    episodes = [
        episode(task, trial, 1.0 if trial < successes else 0.0)
        for task, successes in SUCCESSES.items()
        for trial in range(TRIALS)
    ]
    report = build_report(
        load_run(write_run(tmp_path, episodes, trials=TRIALS)), resamples=RESAMPLES, seed=SEED
    )
    assert [e.k for e in report.pass_hat_k] == list(range(1, TRIALS + 1))
    assert [e.k for e in report.pass_at_k] == list(range(1, TRIALS + 1))
    for k in range(1, TRIALS + 1):
        hat = [float(Fraction(math.comb(c, k), math.comb(TRIALS, k))) for c in SUCCESSES.values()]
        at = [1.0 - math.comb(TRIALS - c, k) / math.comb(TRIALS, k) for c in SUCCESSES.values()]
        for estimate, terms in ((report.pass_hat_k[k - 1], hat), (report.pass_at_k[k - 1], at)):
            got = (estimate.low, estimate.value, estimate.high)
            assert got == reference_interval(terms, SEED), estimate.metric
            assert estimate.tasks == len(SUCCESSES)
