"""The report of a run with many trials per task: pass^k and pass@k for every k, and their
intervals, equal the textbook computation (exact binomials, a bootstrap summing each resample
in the order drawn), which the fast path (one count per task, shared resamples) must not change."""

from __future__ import annotations

import math
import random
import re
from fractions import Fraction
from pathlib import Path

from policy_agent.report import (
    build_comparison,
    build_report,
    load_run,
    render_comparison,
    render_report,
)
from policy_agent.report._tables import shown_k
from tests.report._support import episode, write_run
from tests.report.test_report import text_of

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


def test_the_terminal_shows_k_1_to_8_then_powers_of_two_and_the_last(tmp_path: Path) -> None:
    episodes = [episode("a", trial, 1.0) for trial in range(TRIALS)]
    report = build_report(load_run(write_run(tmp_path, episodes, trials=TRIALS)), resamples=10)
    text = text_of(render_report(report))
    table = text[text.index("pass^k and pass@k") : text.index("pass^k against k")]
    shown = [int(line.split()[0]) for line in table.splitlines() if line.strip()[:1].isdigit()]
    assert shown == [1, 2, 3, 4, 5, 6, 7, 8, 16, 30]
    assert "k = 1..8, then powers of two and the last; `report --json` has every k up to 30" in text
    chart = text[text.index("pass^k against k") : text.index("Results per task")]
    assert [line.split()[0] for line in chart.splitlines()[1:] if line.strip()] == [
        f"k={k}" for k in shown
    ]
    assert [e.k for e in report.pass_hat_k] == list(range(1, TRIALS + 1))


def test_up_to_12_k_the_terminal_shows_every_k() -> None:
    assert shown_k(12) == list(range(1, 13))
    assert shown_k(13) == [1, 2, 3, 4, 5, 6, 7, 8, 13]
    assert shown_k(417) == [1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64, 128, 256, 417]


def test_the_comparison_shows_the_same_k_as_the_report(tmp_path: Path) -> None:
    episodes = [episode("a", trial, 1.0 if trial % 2 else 0.0) for trial in range(TRIALS)]
    run = load_run(write_run(tmp_path, episodes, trials=TRIALS))
    comparison = build_comparison(run, run, resamples=10)
    text = text_of(render_comparison(comparison))
    shown = re.findall(r"^ *(pass[\^@][0-9]+) ", text, re.MULTILINE)
    assert shown == [f"pass{kind}{k}" for kind in "^@" for k in [*range(1, 9), 16, 30]]
    assert "k = 1..8, then powers of two and the last; `compare --json` has every k up to 30" in (
        text
    )
    assert len(comparison.metrics) == 1 + 2 * TRIALS


def test_past_12_trials_a_tasks_rewards_are_counted_rather_than_marked(tmp_path: Path) -> None:
    rewards = [1.0] * 26 + [0.0] * 3 + [0.5]
    episodes = [episode("a", trial, reward) for trial, reward in enumerate(rewards)]
    episodes += [episode("b", trial, 1.0 if trial % 2 else 0.0) for trial in range(12)]
    report = build_report(load_run(write_run(tmp_path, episodes, trials=TRIALS)), resamples=10)
    text = text_of(render_report(report))
    rows = text[text.index("Results per task") :].splitlines()
    [a] = [row for row in rows if row.strip().startswith("a ")]
    [b] = [row for row in rows if row.strip().startswith("b ")]
    assert "✓ 26  ✗ 3  partial 1" in a
    assert "✗ ✓ ✗ ✓ ✗ ✓ ✗ ✓ ✗ ✓ ✗ ✓" in b
