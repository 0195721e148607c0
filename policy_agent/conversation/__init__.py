"""Conversation records shared by the agent, the simulation runner and the trajectory store.

```python
history: list[ConversationRecord] = [UserMessage(content="Hi, I need three cribs.")]
step = await agent.act(history)                   # appends nothing itself
history.append(step.record)                       # AgentMessage or AgentToolCall
history.append(ToolResult.of(call.call_id, call.name, episode.call(call.name, call.arguments)))
to_chat_messages(history)                         # the agent's view, as the template rebuilds it
```
"""

from policy_agent.conversation._history import to_chat_messages, to_openai_messages
from policy_agent.conversation._records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    Generation,
    RecordedChange,
    StructuredCall,
    TokenUsage,
    ToolResult,
    UserMessage,
    UserToolCall,
    now,
)

__all__ = [
    "AgentMessage",
    "AgentToolCall",
    "ConversationRecord",
    "Generation",
    "RecordedChange",
    "StructuredCall",
    "TokenUsage",
    "ToolResult",
    "UserMessage",
    "UserToolCall",
    "now",
    "to_chat_messages",
    "to_openai_messages",
]
