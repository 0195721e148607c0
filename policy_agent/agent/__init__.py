"""The agent: plays the policy-following customer-service role, one action per turn.

```python
agent = Agent.from_pack(pack, AgentConfig(model=ModelConfig(model="hosted_vllm/nemotron",
                                                            api_base="http://127.0.0.1:8000/v1")))
step = await agent.act(history, seed=7)   # MessageStep | ToolCallStep | GaveUpStep
```
Three ways to ask the model (`AgentConfig.transport` and `.style`), all judged by
`policy_agent.format`'s parser: chat + card (the functions in the system prompt, the content
parsed here), chat + template (`tools=`, the server parses the calls), and completions (the
ChatML prompt rendered here, the raw text parsed here: the exact format, for training logs).
Answers that are not one action are handled by `ViolationPolicy`; failed model calls raise
`AgentModelError` with everything the turn recorded.
"""

from policy_agent.agent._agent import Agent
from policy_agent.agent._config import (
    DEFAULT_FEEDBACK,
    AgentConfig,
    ViolationPolicy,
    ViolationStrategy,
)
from policy_agent.agent._errors import AgentModelError
from policy_agent.agent._history import to_chat_messages, to_openai_messages
from policy_agent.agent._step import AgentStep, GaveUpStep, MessageStep, ToolCallStep

__all__ = [
    "DEFAULT_FEEDBACK",
    "Agent",
    "AgentConfig",
    "AgentModelError",
    "AgentStep",
    "GaveUpStep",
    "MessageStep",
    "ToolCallStep",
    "ViolationPolicy",
    "ViolationStrategy",
    "to_chat_messages",
    "to_openai_messages",
]
