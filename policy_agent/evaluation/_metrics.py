"""Run metrics from the rewards of each task's trials: average reward, pass^k, pass@k, and
bootstrap confidence intervals over tasks.

Every metric here is a ratio of sums over tasks, `Σ numerator / Σ denominator`: pass^k and
pass@k average one value per task (denominator 1), the average reward weighs each task by its
trials (tau2-bench averages over episodes). A bootstrap resamples tasks, the unit that varies
between benchmarks, and recomputes that ratio.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

SUCCESS_TOLERANCE = 1e-6
"""A trial succeeds when its reward is within this of 1 (tau2-bench's `is_successful`)."""

RESAMPLES = 2000
CONFIDENCE = 0.95

RewardsByTask = Mapping[str, Sequence[float]]
"""Task id to the rewards of its trials."""


def is_success(reward: float) -> bool:
    """Whether a trial's reward counts as a success: |reward − 1| ≤ 1e-6."""
    return abs(reward - 1.0) <= SUCCESS_TOLERANCE


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One run metric: `average_reward`, `pass^k` or `pass@k`."""

    kind: Literal["average_reward", "pass^", "pass@"]
    k: int = 0

    @classmethod
    def average_reward(cls) -> Metric:
        """The mean reward over all trials."""
        return cls(kind="average_reward")

    @classmethod
    def pass_hat(cls, k: int) -> Metric:
        """pass^k: the chance that k trials drawn without replacement all succeed (τ-bench)."""
        return cls(kind="pass^", k=_positive(k))

    @classmethod
    def pass_at(cls, k: int) -> Metric:
        """pass@k: the chance that at least one of k trials drawn succeeds (Codex's estimator)."""
        return cls(kind="pass@", k=_positive(k))

    @property
    def name(self) -> str:
        """`average_reward`, `pass^2`, `pass@3`."""
        return self.kind if self.kind == "average_reward" else f"{self.kind}{self.k}"

    def task_terms(self, rewards: Sequence[float]) -> tuple[float, float]:
        """One task's numerator and denominator; ValueError when it has fewer than k trials."""
        return self.trial_terms(TaskTrials.of(rewards))

    def trial_terms(self, trials: TaskTrials) -> tuple[float, float]:
        """`task_terms` from a task's counted trials (counted once for every metric)."""
        n = trials.trials
        if self.kind == "average_reward":
            return trials.reward_sum, float(n)
        if n < self.k:
            raise ValueError(f"{self.name} needs at least {self.k} trials per task; one has {n}")
        c = trials.successes
        if self.kind == "pass^":
            return _comb(c, self.k) / _comb(n, self.k), 1.0
        return 1.0 - _comb(n - c, self.k) / _comb(n, self.k), 1.0

    def value(self, results_by_task: RewardsByTask) -> float:
        """The metric over the tasks; ValueError when there are none, or a task lacks trials."""
        terms = self.terms(results_by_task)
        return _ratio(terms, range(len(terms)))

    def terms(self, results_by_task: RewardsByTask) -> list[tuple[float, float]]:
        """Each task's terms, in the mapping's order, naming a task that cannot be counted."""
        if not results_by_task:
            raise ValueError(f"{self.name}: there are no tasks with scored trials")
        terms = []
        for task_id, rewards in results_by_task.items():
            if not rewards:
                raise ValueError(f"{self.name}: task {task_id!r} has no scored trials")
            try:
                terms.append(self.task_terms(rewards))
            except ValueError as error:
                raise ValueError(f"task {task_id!r}: {error}") from None
        return terms


@dataclass(frozen=True, kw_only=True)
class TaskTrials:
    """What every metric needs of one task's rewards: counted once, not once per metric (a
    10,000-episode run has 417 trials per task and reports pass^k for each k up to 417)."""

    trials: int
    successes: int
    reward_sum: float

    @classmethod
    def of(cls, rewards: Sequence[float]) -> TaskTrials:
        """The counts of `rewards`."""
        return cls(
            trials=len(rewards),
            successes=sum(1 for reward in rewards if is_success(reward)),
            reward_sum=float(sum(rewards)),
        )


def terms_value(terms: Sequence[tuple[float, float]]) -> float:
    """A metric's value from its tasks' terms (`Metric.terms`): Σ numerators / Σ denominators."""
    return _ratio(terms, range(len(terms)))


def pass_hat_k(results_by_task: RewardsByTask, k: int) -> float:
    """pass^k as τ-bench defines it: C(c, k) / C(n, k) per task, averaged over tasks."""
    return Metric.pass_hat(k).value(results_by_task)


def pass_at_k(results_by_task: RewardsByTask, k: int) -> float:
    """pass@k, unbiased: 1 − C(n − c, k) / C(n, k) per task, averaged over tasks."""
    return Metric.pass_at(k).value(results_by_task)


def average_reward(results_by_task: RewardsByTask) -> float:
    """The mean reward over every trial of every task."""
    return Metric.average_reward().value(results_by_task)


@dataclass(frozen=True, kw_only=True)
class Interval:
    """A metric's value and its bootstrap percentile interval."""

    value: float
    low: float
    high: float
    confidence: float


def bootstrap_interval(
    results_by_task: RewardsByTask,
    metric: Metric,
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """The metric with a percentile interval from resampling tasks with replacement.

    The same seed gives the same interval; with one task the interval is the value itself.
    """
    return bootstrap_terms(
        metric.terms(results_by_task), resamples=resamples, confidence=confidence, seed=seed
    )


def bootstrap_terms(
    terms: Sequence[tuple[float, float]],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """`bootstrap_interval` from each task's terms (`Metric.terms`)."""
    return _interval(tuple(terms), resamples, confidence, seed)


@functools.lru_cache(maxsize=64)
def _interval(
    terms: tuple[tuple[float, float], ...], resamples: int, confidence: float, seed: int
) -> Interval:
    # Cached: pass^k for the large k of a long run is the same 0/1 per task for k after k.
    n = len(terms)
    values = sorted(_resampled_ratios(terms, n, resamples, seed))
    low, high = _bounds(values, confidence)
    return Interval(value=_ratio(terms, range(n)), low=low, high=high, confidence=confidence)


def paired_bootstrap(
    terms_a: Sequence[tuple[float, float]],
    terms_b: Sequence[tuple[float, float]],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """The difference b − a of one metric over the same tasks (paired: position i is one task
    in both), with a percentile interval from resampling those tasks."""
    if len(terms_a) != len(terms_b) or not terms_a:
        raise ValueError(
            f"a paired bootstrap needs the same tasks on both sides, and some: got "
            f"{len(terms_a)} and {len(terms_b)}"
        )
    return _paired(tuple(terms_a), tuple(terms_b), resamples, confidence, seed)


@functools.lru_cache(maxsize=64)
def _paired(
    terms_a: tuple[tuple[float, float], ...],
    terms_b: tuple[tuple[float, float], ...],
    resamples: int,
    confidence: float,
    seed: int,
) -> Interval:
    # Cached as `_interval` is: the large k of two long runs repeat the same 0/1 per task.
    n = len(terms_a)
    differences = sorted(
        b - a
        for a, b in zip(
            _resampled_ratios(terms_a, n, resamples, seed),
            _resampled_ratios(terms_b, n, resamples, seed),
            strict=True,
        )
    )
    low, high = _bounds(differences, confidence)
    everything = range(n)
    value = _ratio(terms_b, everything) - _ratio(terms_a, everything)
    return Interval(value=value, low=low, high=high, confidence=confidence)


@functools.lru_cache(maxsize=4)
def _draws(n: int, resamples: int, seed: int) -> tuple[tuple[int, ...], ...]:
    """Each resample's tasks, in the order drawn: the same for every metric of a summary (so
    they are drawn once), and the same for the same seed."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1 (e.g. {RESAMPLES}); got {resamples}")
    rng = random.Random(seed)
    tasks = range(n)
    return tuple(tuple(rng.choices(tasks, k=n)) for _ in range(resamples))


_Picker = Callable[[Sequence[float]], tuple[float, ...]]

_PICKER_SETS = 8
"""Sets of left-out tasks kept per draw (each is one itemgetter per resample)."""


@functools.lru_cache(maxsize=4)
def _picker_sets(n: int, resamples: int, seed: int) -> dict[frozenset[int], tuple[_Picker, ...]]:
    """The resamples' pickers made so far, by the tasks they leave out (see `_pickers`)."""
    return {frozenset(): _make_pickers(n, resamples, seed, frozenset())}


def _pickers(n: int, resamples: int, seed: int, zeros: frozenset[int]) -> tuple[_Picker, ...]:
    """Each resample (`_draws`) as one `itemgetter` of the values of its tasks in the order
    drawn, leaving out some of the tasks `zeros` (whose values are 0.0, see `_resampled_sums`).

    Leaving out any of them gives the same sums, so pickers made for fewer zeros serve; new ones
    (2000 itemgetters) are made only when they would leave out a quarter of the tasks more.
    """
    made = _picker_sets(n, resamples, seed)
    best = max((left_out for left_out in made if left_out <= zeros), key=len)
    if len(zeros) - len(best) >= max(1, n // 4) and len(made) < _PICKER_SETS:
        made[zeros] = _make_pickers(n, resamples, seed, zeros)
        best = zeros
    return made[best]


def _make_pickers(
    n: int, resamples: int, seed: int, left_out: frozenset[int]
) -> tuple[_Picker, ...]:
    return tuple(
        _getter([task for task in drawn if task not in left_out])
        for drawn in _draws(n, resamples, seed)
    )


def _getter(indices: list[int]) -> _Picker:
    # itemgetter of one index gives the value itself, of none an error: both as tuples here.
    if len(indices) > 1:
        return operator.itemgetter(*indices)
    if indices:
        only = indices[0]
        return lambda values: (values[only],)
    return lambda values: ()


def _resampled_sums(values: Sequence[float], n: int, resamples: int, seed: int) -> list[float]:
    """Each resample's sum of `values`, added left to right in the order drawn (as `sum` over
    a generator adds them), with one `itemgetter` and one `sum` per resample, both in C.

    Tasks whose value is 0.0 are left out of the sums of a metric whose values are all at
    least 0 (pass^k, pass@k, breach rates): adding 0.0 changes no partial sum, so every sum is
    the same to the last bit, and pass^k for large k adds up only the tasks that still pass."""
    zeros = frozenset(i for i, value in enumerate(values) if value == 0.0)
    if min(values, default=0.0) < 0:
        zeros = frozenset()
    pickers = _pickers(n, resamples, seed, zeros)
    return list(map(sum, map(operator.call, pickers, itertools.repeat(values))))


def _resampled_ratios(
    terms: Sequence[tuple[float, float]], n: int, resamples: int, seed: int
) -> list[float]:
    """`_ratio` of each resample of the `n` tasks."""
    numerators = [numerator for numerator, _ in terms]
    denominators = [denominator for _, denominator in terms]
    sums = _resampled_sums(numerators, n, resamples, seed)
    if all(denominator == 1.0 for denominator in denominators):
        # pass^k and pass@k: every resample's denominator is n 1.0s, whose sum is exactly n.
        return list(map(operator.truediv, sums, itertools.repeat(float(n))))
    return list(map(operator.truediv, sums, _resampled_sums(denominators, n, resamples, seed)))


def _ratio(terms: Sequence[tuple[float, float]], indices: Sequence[int]) -> float:
    """Σ numerators / Σ denominators; every task's denominator is at least 1."""
    return sum(terms[i][0] for i in indices) / sum(terms[i][1] for i in indices)


def _bounds(ordered: Sequence[float], confidence: float) -> tuple[float, float]:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95); got {confidence}")
    tail = (1 - confidence) / 2
    return _quantile(ordered, tail), _quantile(ordered, 1 - tail)


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@functools.lru_cache(maxsize=4096)
def _comb(n: int, k: int) -> int:
    """`math.comb`, kept: every task with n trials divides by C(n, k), for every k up to n (a
    10,000-episode run of 24 tasks asks for 40,000 binomials of numbers of 120 digits)."""
    return math.comb(n, k)


def _positive(k: int) -> int:
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    return k
