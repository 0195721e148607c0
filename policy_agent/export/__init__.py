"""A run's episodes in the formats training and benchmarking tools read.

```python
run = load_run(Path("runs/<run-id>"))                       # newest evaluation's rewards
with open("sft.jsonl", "w") as out:
    export_run(run, pack, "sft", out, reward_filter=RewardFilter(only_success=True))
```
- `sft`: one line per episode, OpenAI-format messages and tools (`SFTRecord`);
- `chatml`: one line per agent turn, the exact rendered prompt and the completion, with the
  episode's reward (`ChatMLTurn`): the input of RL and on-policy distillation;
- `rl`: one line per agent generation (`RLTurn`: prompt and completion token ids, logprobs,
  loss mask, reward) and one per episode (`RLEpisode`: the turns as token segments), from a run
  made with `record_tokens` (docs/rl.md);
- `tau2`: one tau2-bench `Results` file (`Tau2Results`).

Every format streams the run: memory does not grow with its number of episodes.
"""

from policy_agent.export._chatml import END_OF_TURN, ChatMLTurn, PromptMismatch, chatml_turns
from policy_agent.export._prompts import ORACLE_FORMAT, prompt_agent
from policy_agent.export._rl import (
    NoTokens,
    RLEpisode,
    RLSegment,
    RLTurn,
    rl_checks,
    rl_records,
    usage_checks,
)
from policy_agent.export._select import RewardFilter, Selection, Selector
from policy_agent.export._sft import SFTRecord, sft_record
from policy_agent.export._tau2 import (
    UnknownTasks,
    tau2_results_head,
    tau2_simulation,
    tau2_termination,
)
from policy_agent.export._tau2_models import Tau2Results, Tau2SimulationRun, Tau2Task
from policy_agent.export._write import FORMATS, ExportFormat, ExportResult, export_run

__all__ = [
    "END_OF_TURN",
    "FORMATS",
    "ORACLE_FORMAT",
    "ChatMLTurn",
    "ExportFormat",
    "ExportResult",
    "NoTokens",
    "PromptMismatch",
    "RLEpisode",
    "RLSegment",
    "RLTurn",
    "RewardFilter",
    "SFTRecord",
    "Selection",
    "Selector",
    "Tau2Results",
    "Tau2SimulationRun",
    "Tau2Task",
    "UnknownTasks",
    "chatml_turns",
    "export_run",
    "prompt_agent",
    "rl_checks",
    "rl_records",
    "sft_record",
    "tau2_results_head",
    "tau2_simulation",
    "tau2_termination",
    "usage_checks",
]
