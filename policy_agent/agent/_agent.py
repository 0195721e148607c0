"""The agent: one policy-following customer-service turn at a time, one action per turn.

```python
agent = Agent.from_pack(pack, AgentConfig(model=ModelConfig(model="hosted_vllm/...", ...)))
step = await agent.act(history, seed=7)
match step.turn:
    case Message(): ...      # step.record is an AgentMessage: the user's turn next
    case ToolCall(): ...     # step.record is an AgentToolCall: run it, append a ToolResult
    case Violation(): ...    # the violation strategy gave up: the episode ends as agent_error
```
An `Agent` holds no conversation state (the history is passed in), so one agent serves every
episode of a run concurrently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import JsonValue

from policy_agent.agent._answers import Answer, read_chat_content, read_structured, read_text
from policy_agent.agent._config import AgentConfig
from policy_agent.agent._errors import AgentModelError
from policy_agent.agent._events import AgentEvent, RetryEvent, ViolationAction, ViolationEvent
from policy_agent.conversation import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    Generation,
    TokenUsage,
    to_chat_messages,
    to_openai_messages,
)
from policy_agent.domain import DomainPack
from policy_agent.format import (
    ChatMessage,
    FunctionSpec,
    Message,
    PromptStyle,
    SystemMessage,
    ToolCall,
    Violation,
    card_system_prompt,
    functions_from_openai,
    policy_only_system_prompt,
    render_conversation,
)
from policy_agent.format import UserMessage as ChatUserMessage
from policy_agent.llm import Completion, LLMClient, LLMError


@dataclass(frozen=True, kw_only=True)
class AgentStep:
    """One agent turn: the action, the record to append, and what happened on the way."""

    turn: Message | ToolCall | Violation
    """The action; a `Violation` only when the strategy ended the episode (`agent_error`)."""
    record: AgentMessage | AgentToolCall | None
    """What to append to the conversation (None for a terminal violation)."""
    events: tuple[AgentEvent, ...] = ()
    """Violations and retries, in order."""
    usage: TokenUsage
    """Tokens of every model call of the turn, rejected attempts included."""
    latency_ms: float
    """Time spent in successful model calls of the turn (failed attempts are in the events)."""


@dataclass(kw_only=True)
class _Tally:
    """What one turn has gathered so far: events, tokens, time."""

    events: list[AgentEvent] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    latency_ms: float = 0.0

    def add(self, completion: Completion, generation: Generation) -> None:
        # The client's failed attempts before this answer come first, as they happened first.
        self.events += [RetryEvent.of(completion.model, r) for r in completion.attempts]
        self.usage += generation.usage
        self.latency_ms += generation.latency_ms

    def step(
        self, turn: Message | ToolCall | Violation, record: AgentMessage | AgentToolCall | None
    ) -> AgentStep:
        return AgentStep(
            turn=turn,
            record=record,
            events=tuple(self.events),
            usage=self.usage,
            latency_ms=self.latency_ms,
        )


class Agent:
    """Asks the agent's model for one action per turn and enforces that it is one action."""

    def __init__(
        self,
        *,
        policy: str,
        tools: Sequence[Mapping[str, JsonValue]],
        config: AgentConfig,
        client: LLMClient | None = None,
    ) -> None:
        """`tools` are OpenAI function schemas; `client` defaults to one for `config.model`,
        made when the first model call needs it."""
        self.config = config
        self.functions: tuple[FunctionSpec, ...] = functions_from_openai([dict(t) for t in tools])
        self.openai_tools = [dict(tool) for tool in tools]
        # Template style: the template appends the tools block itself (from tools= in chat,
        # from `functions` when we render), so the system text is the policy alone.
        text = (
            card_system_prompt(policy, self.functions)
            if config.style is PromptStyle.CARD
            else policy_only_system_prompt(policy)
        )
        self.system_message = SystemMessage(content=text)
        if client is not None and client.config != config.model:
            raise ValueError(
                f"the client is configured for model {client.config.model!r} with other "
                "settings than the agent config's `model`; pass a client made from "
                "config.model, or none"
            )
        self._client = client
        thinking_kwarg = config.model.chat_template_kwargs.get("truncate_history_thinking", True)
        self._truncate_history_thinking = bool(thinking_kwarg)

    @property
    def client(self) -> LLMClient:
        """The model client, made on first use: rebuilding prompts (exports) needs no litellm."""
        if self._client is None:
            self._client = LLMClient(self.config.model, role="agent")
        return self._client

    @classmethod
    def from_pack(
        cls, pack: DomainPack, config: AgentConfig, client: LLMClient | None = None
    ) -> Agent:
        """The agent of a domain pack: its policy and its agent tools."""
        return cls(
            policy=pack.policy,
            tools=[tool.openai_schema() for tool in pack.tools],
            config=config,
            client=client,
        )

    def messages(
        self, history: Sequence[ConversationRecord], *, corrections: Sequence[ChatMessage] = ()
    ) -> list[ChatMessage]:
        """The messages of the next request: system prompt, conversation, corrections."""
        return [self.system_message, *to_chat_messages(history), *corrections]

    def prompt(
        self, history: Sequence[ConversationRecord], *, corrections: Sequence[ChatMessage] = ()
    ) -> str:
        """The ChatML prompt the model sees next (what the completions transport sends).

        Rebuilds a stored turn's prompt from the records before it and its generation's
        `correction_messages`; its sha256 is the generation's `prompt_sha256`.
        """
        return self._render(self.messages(history, corrections=corrections))

    async def act(
        self, history: Sequence[ConversationRecord], *, seed: int | None = None
    ) -> AgentStep:
        """The agent's next turn after `history`.

        Raises `AgentModelError` when the model cannot be reached or fails after the client's
        retries; it carries the events of the turn so far.
        """
        policy = self.config.violations
        base = self.messages(history)
        corrections: list[ChatMessage] = []
        turn_so_far = _Tally()
        for attempt in range(1, policy.max_attempts + 1):
            attempt_seed = None if seed is None else seed + attempt - 1
            try:
                completion, answer, generation = await self._ask(
                    [*base, *corrections], corrections, attempt_seed, attempt
                )
            except LLMError as error:
                turn_so_far.events += [RetryEvent.of(error.model, r) for r in error.attempts]
                raise AgentModelError(error, turn_so_far.events) from error
            turn_so_far.add(completion, generation)
            turn = answer.turn
            if isinstance(turn, Message):
                record = AgentMessage(
                    content=turn.content, reasoning=answer.reasoning, generation=generation
                )
                return turn_so_far.step(turn, record)
            if isinstance(turn, ToolCall):
                return turn_so_far.step(turn, self._call_record(history, turn, answer, generation))
            action = self._action(turn, attempt)
            kept = action == "keep_first"
            turn_so_far.events.append(
                ViolationEvent(
                    violation=turn,
                    action_taken=action,
                    dropped_calls=turn.calls[1:] if kept else [],
                    dropped_text=turn.content if kept else None,
                    generation=generation,
                )
            )
            if action == "keep_first":
                first = turn.calls[0]
                return turn_so_far.step(
                    first, self._call_record(history, first, answer, generation)
                )
            if action == "terminate":
                return turn_so_far.step(turn, None)
            if action == "feedback":
                correction = ChatUserMessage(content=policy.correction(turn.detail))
                corrections += [answer.echo, correction]
        raise AssertionError("unreachable: the last attempt always terminates")

    def _action(self, violation: Violation, attempt: int) -> ViolationAction:
        policy = self.config.violations
        match policy.strategy:
            case "terminate":
                return "terminate"
            case "keep_first" if violation.calls:
                return "keep_first"
        if attempt >= policy.max_attempts:
            return "terminate"
        # keep_first without a well-formed call to keep asks again, as resample does.
        return "feedback" if policy.strategy == "feedback" else "resample"

    def _call_record(
        self,
        history: Sequence[ConversationRecord],
        call: ToolCall,
        answer: Answer,
        generation: Generation,
    ) -> AgentToolCall:
        # Ids only need to be unique within the conversation; counting keeps them reproducible.
        number = 1 + sum(isinstance(record, AgentToolCall) for record in history)
        return AgentToolCall(
            call_id=f"call_{number}",
            name=call.name,
            arguments=call.arguments,
            reasoning=answer.reasoning,
            content=answer.prelude,
            generation=generation,
        )

    async def _ask(
        self,
        messages: list[ChatMessage],
        corrections: list[ChatMessage],
        seed: int | None,
        attempt: int,
    ) -> tuple[Completion, Answer, Generation]:
        config = self.config
        prompt_sha256 = None
        if config.transport == "completions":
            prompt = self._render(messages)
            prompt_sha256 = hashlib.sha256(prompt.encode()).hexdigest()
            completion = await self.client.complete(prompt, seed=seed)
            answer = read_text(
                completion.text or "", self.functions, thinking=config.model.thinking
            )
        else:
            template = config.style is PromptStyle.TEMPLATE
            completion = await self.client.chat(
                to_openai_messages(messages),
                tools=self.openai_tools if template else None,
                seed=seed,
            )
            if template:
                answer = read_structured(
                    completion.text,
                    completion.tool_calls,
                    completion.reasoning,
                    finish_reason=completion.finish_reason,
                )
            else:
                answer = read_chat_content(
                    completion.text,
                    completion.reasoning,
                    self.functions,
                    finish_reason=completion.finish_reason,
                )
        generation = Generation.of(
            completion,
            transport=self.config.transport,
            seed=seed,
            attempt=attempt,
            prompt_sha256=prompt_sha256,
            corrections=corrections,
        )
        return completion, answer, generation

    def _render(self, messages: Sequence[ChatMessage]) -> str:
        template = self.config.style is PromptStyle.TEMPLATE
        return render_conversation(
            messages,
            self.functions if template else None,
            thinking=self.config.model.thinking,
            truncate_history_thinking=self._truncate_history_thinking,
        )
