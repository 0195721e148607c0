"""The agent: plays the policy-following customer-service role, one action per turn.

```python
agent = Agent.from_pack(pack, AgentConfig(model=ModelConfig(model="hosted_vllm/nemotron",
                                                            api_base="http://127.0.0.1:8000/v1")))
step = await agent.act(history, seed=7)   # AgentStep: turn, record, events, usage, latency
```
Three ways to ask the model (`AgentConfig.transport` and `.style`), all judged by
`policy_agent.format`'s parser: chat + card (the functions in the system prompt, the content
parsed here), chat + template (`tools=`, the server parses the calls), and completions (the
ChatML prompt rendered here, the raw text parsed here: the exact format, for training logs).
Answers that are not one action are handled by `ViolationPolicy`; failed model calls raise
`AgentModelError` with everything the turn recorded.
"""

from policy_agent.agent._agent import Agent, AgentStep
from policy_agent.agent._config import (
    DEFAULT_FEEDBACK,
    AgentConfig,
    ViolationPolicy,
    ViolationStrategy,
)
from policy_agent.agent._errors import AgentModelError
from policy_agent.agent._events import AgentEvent, RetryEvent, ViolationAction, ViolationEvent

__all__ = [
    "DEFAULT_FEEDBACK",
    "Agent",
    "AgentConfig",
    "AgentEvent",
    "AgentModelError",
    "AgentStep",
    "RetryEvent",
    "ViolationAction",
    "ViolationEvent",
    "ViolationPolicy",
    "ViolationStrategy",
]
