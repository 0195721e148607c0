"""The agent: one policy-following customer-service turn at a time, one action per turn.

```python
agent = Agent.from_pack(pack, AgentConfig(model=ModelConfig(model="hosted_vllm/...", ...)))
step = await agent.act(history, seed=7)
match step:
    case MessageStep(): ...    # step.record is an AgentMessage: the user's turn next
    case ToolCallStep(): ...   # step.record is an AgentToolCall: run it, append a ToolResult
    case GaveUpStep(): ...     # the violation strategy gave up: the episode ends as agent_error
    case _: assert_never(step)
```
An `Agent` holds no conversation state (the history is passed in), so one agent serves every
episode of a run concurrently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict, assert_never

from pydantic import JsonValue

from policy_agent.agent._answers import ModelAnswer, read_chat_content, read_structured, read_text
from policy_agent.agent._config import AgentConfig
from policy_agent.agent._errors import AgentModelError
from policy_agent.agent._history import to_chat_messages, to_openai_messages
from policy_agent.agent._step import AgentStep, GaveUpStep, MessageStep, ToolCallStep
from policy_agent.domain import DomainPack
from policy_agent.format import (
    CARD_MINIMUM,
    SUPPORTED_VLLM,
    FunctionSpec,
    PromptStyle,
    ServerProfile,
    answer_grammar,
    card_system_prompt,
    functions_from_openai,
    grammar_request_fields,
    policy_only_system_prompt,
    render_conversation,
)
from policy_agent.llm import Completion, LLMClient, LLMError, ModelClient
from policy_agent.records import (
    AgentEvent,
    AgentMessage,
    AgentToolCall,
    ChatMessage,
    ChatSystemMessage,
    ChatUserMessage,
    ConversationRecord,
    Generation,
    Message,
    TokenUsage,
    ToolCall,
    Violation,
    ViolationAction,
    ViolationEvent,
)


@dataclass(kw_only=True)
class _Tally:
    """What one turn has gathered so far: events, tokens, time."""

    events: list[AgentEvent] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    latency_ms: float = 0.0

    def add(self, completion: Completion, generation: Generation) -> None:
        # The client's failed attempts before this answer come first, as they happened first.
        self.events += [r.retry_event(completion.model) for r in completion.attempts]
        self.usage += generation.usage
        self.latency_ms += generation.latency_ms

    def said(self, turn: Message, record: AgentMessage) -> MessageStep:
        return MessageStep(turn=turn, record=record, **self._so_far())

    def called(self, turn: ToolCall, record: AgentToolCall) -> ToolCallStep:
        return ToolCallStep(turn=turn, record=record, **self._so_far())

    def gave_up(self, turn: Violation) -> GaveUpStep:
        return GaveUpStep(turn=turn, **self._so_far())

    def _so_far(self) -> _SoFar:
        return {"events": tuple(self.events), "usage": self.usage, "latency_ms": self.latency_ms}


class _SoFar(TypedDict):
    events: tuple[AgentEvent, ...]
    usage: TokenUsage
    latency_ms: float


class Agent:
    """Asks the agent's model for one action per turn and enforces that it is one action."""

    def __init__(
        self,
        *,
        policy: str,
        tools: Sequence[Mapping[str, JsonValue]],
        config: AgentConfig,
        client: ModelClient | None = None,
        profile: ServerProfile | None = None,
    ) -> None:
        """`tools` are OpenAI function schemas; `client` defaults to one for `config.model`,
        made when the first model call needs it. `profile` is the vLLM release line serving
        the agent (detected when a run starts); by default the one `config.server_profile`
        names, else the card minimum."""
        self.config = config
        self.profile: ServerProfile = profile or config.named_profile() or CARD_MINIMUM
        """What the agent's server does with the format: how calls are typed when we parse,
        how tools reach the template when we render (docs/servers.md)."""
        self.functions: tuple[FunctionSpec, ...] = functions_from_openai([dict(t) for t in tools])
        self.openai_tools = [dict(tool) for tool in tools]
        # Template style: the template appends the tools block itself (from tools= in chat,
        # from `functions` when we render), so the system text is the policy alone.
        text = (
            card_system_prompt(policy, self.functions)
            if config.style is PromptStyle.CARD
            else policy_only_system_prompt(policy)
        )
        self.system_message = ChatSystemMessage(content=text)
        if client is not None and client.config != config.model:
            raise ValueError(
                f"the client is configured for model {client.config.model!r} with other "
                "settings than the agent config's `model`; pass a client made from "
                "config.model, or none"
            )
        self._client = client
        thinking_kwarg = config.model.chat_template_kwargs.get("truncate_history_thinking", True)
        self._truncate_history_thinking = bool(thinking_kwarg)
        self.grammar: str | None = None
        """The one-answer grammar every model call carries (`constrain: grammar`), else None."""
        self.grammar_sha256: str | None = None
        """sha256 (hex) of `grammar`'s UTF-8 text, recorded on each generation and the run."""
        self._grammar_fields: dict[str, dict[str, JsonValue]] = {}
        match config.constrain:
            case "none":
                pass
            case "grammar":
                grammar = answer_grammar(
                    self.functions,
                    style=config.style,
                    thinking=config.model.thinking,
                    syntax=config.grammar_syntax,
                )
                self.grammar = grammar
                self.grammar_sha256 = hashlib.sha256(grammar.encode()).hexdigest()
                # Every supported vLLM release reads the same field for both endpoints
                # (`grammar_request_fields`, docs/grammar.md), so the oldest one stands for all.
                self._grammar_fields = {
                    endpoint: grammar_request_fields(
                        grammar, config.grammar_syntax, SUPPORTED_VLLM[0], endpoint
                    )
                    for endpoint in ("chat", "completions")
                }
            case _:
                assert_never(config.constrain)

    @property
    def client(self) -> ModelClient:
        """The model client, made on first use: rebuilding prompts (exports) needs no litellm."""
        if self._client is None:
            self._client = LLMClient(self.config.model, role="agent")
        return self._client

    @classmethod
    def from_pack(
        cls,
        pack: DomainPack,
        config: AgentConfig,
        client: ModelClient | None = None,
        profile: ServerProfile | None = None,
    ) -> Agent:
        """The agent of a domain pack: its policy and its agent tools."""
        return cls(
            policy=pack.policy,
            tools=[tool.openai_schema() for tool in pack.tools],
            config=config,
            client=client,
            profile=profile,
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
        self,
        history: Sequence[ConversationRecord],
        *,
        seed: int | None = None,
        session: str | None = None,
    ) -> AgentStep:
        """The agent's next turn after `history`.

        Raises `AgentModelError` when the model cannot be reached or fails after the client's
        retries; it carries the events of the turn so far.
        """
        policy = self.config.violations
        base = self.messages(history)
        corrections: list[ChatMessage] = []
        tally = _Tally()
        for attempt in range(1, policy.max_attempts + 1):
            attempt_seed = None if seed is None else seed + attempt - 1
            try:
                completion, answer, generation = await self._ask(
                    [*base, *corrections], corrections, attempt_seed, attempt, session
                )
            except LLMError as error:
                tally.events += [r.retry_event(error.model) for r in error.retried]
                raise AgentModelError(error, tally.events) from error
            tally.add(completion, generation)
            turn = answer.turn
            match turn:
                case Message():
                    record = AgentMessage(
                        content=turn.content, reasoning=turn.reasoning, generation=generation
                    )
                    return tally.said(turn, record)
                case ToolCall():
                    return tally.called(turn, self._call_record(history, turn, generation))
                case Violation():
                    pass
                case _:
                    assert_never(turn)
            action = self._action(turn, attempt)
            kept = action == "keep_first"
            tally.events.append(
                ViolationEvent(
                    violation=turn,
                    action_taken=action,
                    dropped_calls=turn.calls[1:] if kept else [],
                    dropped_text=turn.content if kept else None,
                    vllm_would=answer.vllm_would,
                    generation=generation,
                )
            )
            match action:
                case "keep_first":
                    first = turn.calls[0].model_copy(
                        update={"reasoning": turn.reasoning, "prelude": turn.prelude}
                    )
                    return tally.called(first, self._call_record(history, first, generation))
                case "terminate":
                    return tally.gave_up(turn)
                case "feedback":
                    correction = ChatUserMessage(content=policy.correction(turn.detail))
                    corrections += [answer.echo, correction]
                case "resample":
                    pass
                case _:
                    assert_never(action)
        raise AssertionError("unreachable: the last attempt always terminates")

    def _action(self, violation: Violation, attempt: int) -> ViolationAction:
        policy = self.config.violations
        last = attempt >= policy.max_attempts
        match policy.strategy:
            case "terminate":
                return "terminate"
            case "keep_first" if violation.calls:
                return "keep_first"
            case "keep_first" | "resample":
                # keep_first without a well-formed call to keep asks again, as resample does.
                return "terminate" if last else "resample"
            case "feedback":
                return "terminate" if last else "feedback"
            case _:
                assert_never(policy.strategy)

    def _call_record(
        self, history: Sequence[ConversationRecord], call: ToolCall, generation: Generation
    ) -> AgentToolCall:
        # Ids only need to be unique within the conversation; counting keeps them reproducible.
        number = 1 + sum(isinstance(record, AgentToolCall) for record in history)
        return AgentToolCall(
            call_id=f"call_{number}",
            name=call.name,
            arguments=call.arguments,
            reasoning=call.reasoning,
            content=call.prelude,
            generation=generation,
        )

    async def _ask(
        self,
        messages: list[ChatMessage],
        corrections: list[ChatMessage],
        seed: int | None,
        attempt: int,
        session: str | None,
    ) -> tuple[Completion, ModelAnswer, Generation]:
        config = self.config
        prompt_sha256 = None
        if config.transport == "completions":
            prompt = self._render(messages)
            prompt_sha256 = hashlib.sha256(prompt.encode()).hexdigest()
            completion = await self.client.complete(
                prompt,
                seed=seed,
                extra_body=self._grammar_fields.get("completions"),
                session=session,
            )
            answer = read_text(
                completion.text or "",
                self.functions,
                thinking=config.model.thinking,
                finish_reason=completion.finish_reason,
                profile=self.profile,
            )
        else:
            template = config.style is PromptStyle.TEMPLATE
            completion = await self.client.chat(
                to_openai_messages(messages),
                tools=self.openai_tools if template else None,
                seed=seed,
                extra_body=self._grammar_fields.get("chat"),
                session=session,
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
                    profile=self.profile,
                )
        generation = completion.generation(
            transport=self.config.transport,
            seed=seed,
            attempt=attempt,
            prompt_sha256=prompt_sha256,
            corrections=corrections,
            grammar_sha256=self.grammar_sha256,
        )
        return completion, answer, generation

    def _render(self, messages: Sequence[ChatMessage]) -> str:
        template = self.config.style is PromptStyle.TEMPLATE
        return render_conversation(
            messages,
            self.functions if template else None,
            thinking=self.config.model.thinking,
            truncate_history_thinking=self._truncate_history_thinking,
            served_by=self.profile,
        )
