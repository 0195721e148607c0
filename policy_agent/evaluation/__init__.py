"""Scoring episodes the tau2-bench way, and the metrics of a run (pass^k, pass@k, intervals).

```python
evaluator = Evaluator(pack, judge=LLMClient(judge_config, role="judge"))  # judge: optional
reward = await evaluator.evaluate(episode)        # RewardInfo: reward, breakdown, every check
reward.rules                                      # each policy rule: held, broken where, n/a
summary = summarize(episodes)                     # agent scores, infrastructure failures apart
comparison = compare_runs(summary, summarize(other_episodes))  # paired, over shared tasks
```
"""

from policy_agent.evaluation._checks import action_matches
from policy_agent.evaluation._errors import EvaluationError, JudgeRequired, UnknownTask
from policy_agent.evaluation._evaluator import Evaluator
from policy_agent.evaluation._judge import (
    Judge,
    JudgeAnswerError,
    JudgeVerdict,
    judge_messages,
    parse_verdict,
    transcript,
)
from policy_agent.evaluation._metrics import (
    CONFIDENCE,
    RESAMPLES,
    SUCCESS_TOLERANCE,
    Interval,
    Metric,
    RewardsByTask,
    average_reward,
    bootstrap_interval,
    is_success,
    paired_bootstrap,
    pass_at_k,
    pass_hat_k,
)
from policy_agent.evaluation._rule_kinds import check_rules
from policy_agent.evaluation._rules import (
    RuleBook,
    RuleProbe,
    confirmation_statement,
    judge_requests,
)
from policy_agent.evaluation._summary import (
    Estimate,
    MetricDifference,
    RunComparison,
    RunSummary,
    RunTally,
    ScoredEpisode,
    ScoredReward,
    compare_runs,
    is_infrastructure_failure,
    run_metrics,
    summarize,
)

__all__ = [
    "CONFIDENCE",
    "RESAMPLES",
    "SUCCESS_TOLERANCE",
    "Estimate",
    "EvaluationError",
    "Evaluator",
    "Interval",
    "Judge",
    "JudgeAnswerError",
    "JudgeRequired",
    "JudgeVerdict",
    "Metric",
    "MetricDifference",
    "RewardsByTask",
    "RuleBook",
    "RuleProbe",
    "RunComparison",
    "RunSummary",
    "RunTally",
    "ScoredEpisode",
    "ScoredReward",
    "UnknownTask",
    "action_matches",
    "average_reward",
    "bootstrap_interval",
    "check_rules",
    "compare_runs",
    "confirmation_statement",
    "is_infrastructure_failure",
    "is_success",
    "judge_messages",
    "judge_requests",
    "paired_bootstrap",
    "parse_verdict",
    "pass_at_k",
    "pass_hat_k",
    "run_metrics",
    "summarize",
    "transcript",
]
