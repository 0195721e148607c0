"""Every persisted model: what a run writes to disk and every reader relies on.

A leaf package: it imports nothing of policy-agent's runtime (no litellm, no environment, no
format functions), so a reader of `episodes.jsonl` — a report, a replay, a training pipeline —
needs only pydantic. The packages that produce the values convert into these records
(`policy_agent.llm` a completion into a `Generation`, `policy_agent.environment` a tool's outcome
into a `ToolResult`); the records know nothing of them.

```
Episode          one line of episodes.jsonl
  messages       ConversationRecord: UserMessage | AgentMessage | AgentToolCall
                 | UserToolCall | ToolResult
  events         EpisodeEvent: ViolationEvent | RetryEvent | ErrorEvent | UserRetryEvent
  reward         RewardInfo: the reward and every component (DBCheck, ActionCheck, ...),
                 and each policy rule's RuleResult (held, broken where, not applicable)
AgentTurn        the parser's verdict on one answer: Message | ToolCall | Violation
ChatMessage      an OpenAI-format prompt message (ChatSystemMessage, ...)
```
"""

from policy_agent.records._base import Record, Requestor, now
from policy_agent.records._canonical import canonical_json
from policy_agent.records._chat import (
    ChatAssistantMessage,
    ChatMessage,
    ChatSystemMessage,
    ChatToolCall,
    ChatToolMessage,
    ChatUserMessage,
    FunctionCallPayload,
)
from policy_agent.records._conversation import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    Generation,
    RecordedChange,
    StructuredCall,
    TokenTrace,
    TokenUsage,
    ToolResult,
    Transport,
    UserMessage,
    UserToolCall,
)
from policy_agent.records._episode import (
    DatabaseState,
    Episode,
    RoleTotals,
    TerminationReason,
    episode_session,
)
from policy_agent.records._events import (
    AgentEvent,
    EpisodeEvent,
    ErrorEvent,
    EventRole,
    RetryEvent,
    UserEvent,
    UserRetryEvent,
    ViolationAction,
    ViolationEvent,
    VllmReading,
)
from policy_agent.records._reward import (
    ActionCheck,
    CommunicateCheck,
    DBCheck,
    EnvAssertionCheck,
    FieldDifference,
    JudgeUsage,
    NLAssertionCheck,
    RecordedAction,
    RecordedAssertion,
    RewardInfo,
    RewardType,
    assertion_source,
)
from policy_agent.records._rules import (
    RuleBreach,
    RuleKind,
    RuleResult,
    RuleSeverity,
    RuleStatus,
)
from policy_agent.records._turns import AgentTurn, Message, ToolCall, Violation, ViolationCode

__all__ = [
    "ActionCheck",
    "AgentEvent",
    "AgentMessage",
    "AgentToolCall",
    "AgentTurn",
    "ChatAssistantMessage",
    "ChatMessage",
    "ChatSystemMessage",
    "ChatToolCall",
    "ChatToolMessage",
    "ChatUserMessage",
    "CommunicateCheck",
    "ConversationRecord",
    "DBCheck",
    "DatabaseState",
    "EnvAssertionCheck",
    "Episode",
    "EpisodeEvent",
    "ErrorEvent",
    "EventRole",
    "FieldDifference",
    "FunctionCallPayload",
    "Generation",
    "JudgeUsage",
    "Message",
    "NLAssertionCheck",
    "Record",
    "RecordedAction",
    "RecordedAssertion",
    "RecordedChange",
    "Requestor",
    "RetryEvent",
    "RewardInfo",
    "RewardType",
    "RoleTotals",
    "RuleBreach",
    "RuleKind",
    "RuleResult",
    "RuleSeverity",
    "RuleStatus",
    "StructuredCall",
    "TerminationReason",
    "TokenTrace",
    "TokenUsage",
    "ToolCall",
    "ToolResult",
    "Transport",
    "UserEvent",
    "UserMessage",
    "UserRetryEvent",
    "UserToolCall",
    "Violation",
    "ViolationAction",
    "ViolationCode",
    "ViolationEvent",
    "VllmReading",
    "assertion_source",
    "canonical_json",
    "episode_session",
    "now",
]
