"""CPU of the pass^k and pass@k intervals of a long run: 24 tasks of 416-417 trials whose
successes vary (all, none, half, all but 3, and random), 834 intervals of 2000 resamples each,
as `summarize` computes them for a 10,000-episode run (docs/scale.md).

    python benchmarks/bootstrap.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import time

from _support import machine_load

from policy_agent.evaluation import summarize
from policy_agent.records import DatabaseState, Episode, RewardInfo, RewardType, TerminationReason


def long_run() -> list[Episode]:
    """The 24 tasks' episodes, rewards 1 or 0."""
    rng = random.Random(1)
    episodes = []
    for task in range(24):
        trials = 417 if task < 16 else 416
        successes = (
            [trials, 0, trials // 2, trials - 3][task % 4] if task < 8 else rng.randrange(trials)
        )
        for trial in range(trials):
            value = 1.0 if trial < successes else 0.0
            episodes.append(
                Episode.model_construct(
                    task_id=f"t{task}",
                    trial=trial,
                    termination_reason=TerminationReason.USER_STOP,
                    database=DatabaseState(initial_hash="0", final_hash="0"),
                    reward=RewardInfo(reward=value, reward_basis=[RewardType.DB]),
                )
            )
    return episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    episodes = long_run()
    print(machine_load())
    for seed in range(arguments.repeat):
        started = time.process_time()
        # A new seed each time: the draws and intervals of a seed are cached in the process.
        summary = summarize(episodes, seed=seed)
        spent = time.process_time() - started
        print(f"{len(summary.metrics) - 1} intervals: {spent:.2f} s CPU")


if __name__ == "__main__":
    main()
