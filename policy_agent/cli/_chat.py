"""`policy-agent chat`: be the customer in the terminal and talk to the agent of a domain pack.

Each line you type is a user message; the agent then takes turns (its tool calls run against a
fresh episode of the pack's environment) until it answers you. Reasoning, tool calls, results,
database changes, violations and retries are shown as they happen. With `--task` you play that
task's customer: its instructions are shown, and the chat starts from the task's initial state
(its data, its setup calls and the conversation already under way).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policy_agent.cli import main
from policy_agent.cli._domain import load_pack_or_exit

if TYPE_CHECKING:
    from rich.console import Console

    from policy_agent.agent import Agent
    from policy_agent.domain import Task
    from policy_agent.environment import EpisodeEnvironment
    from policy_agent.records import AgentEvent, AgentToolCall, ConversationRecord, ToolResult

_STRATEGIES = ("resample", "feedback", "keep_first", "terminate")  # ViolationStrategy, kept light
_REASONING_CHARS = 600
_RESULT_LINES = 20


@main.command()
@click.option(
    "--domain",
    "domain",
    required=True,
    type=click.Path(path_type=Path),
    help="The domain pack's folder, e.g. domains/hotel.",
)
@click.option(
    "--agent-model",
    required=True,
    help="litellm model string, e.g. hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B.",
)
@click.option("--agent-api-base", help="The server's OpenAI URL, e.g. http://127.0.0.1:8000/v1.")
@click.option(
    "--transport",
    type=click.Choice(["chat", "completions"]),
    default="chat",
    show_default=True,
    help="chat: the server renders the prompt; completions: rendered here, in the exact format.",
)
@click.option(
    "--style",
    type=click.Choice(["card", "template"]),
    default="card",
    show_default=True,
    help="card: functions in the system prompt; template: sent as tools=.",
)
@click.option(
    "--server-profile",
    default="auto",
    show_default=True,
    metavar="auto|vllm-0.NN",
    help="The vLLM release line serving the agent (docs/servers.md); auto: ask the server "
    "(GET /version).",
)
@click.option("--instruct", is_flag=True, help="Instruct mode: no reasoning before answers.")
@click.option(
    "--constrain",
    type=click.Choice(["none", "grammar"]),
    default="none",
    show_default=True,
    help="grammar: every agent call carries the one-answer grammar (vLLM structured outputs).",
)
@click.option("--api-key-env", metavar="NAME", help="Environment variable holding the API key.")
@click.option(
    "--violations",
    type=click.Choice(_STRATEGIES),
    default="resample",
    show_default=True,
    help="What to do with a turn that is not exactly one message or one tool call.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=600.0,
    show_default=True,
    help="Seconds to wait for each model call.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Further attempts after a failed model call.",
)
@click.option(
    "--task",
    "task_id",
    metavar="ID",
    help="Play this task's customer, from the task's initial state (its history shown first).",
)
@click.option(
    "--max-tool-calls",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Tool calls per message of yours before the agent is stopped and you are asked again.",
)
@click.option(
    "--no-preflight",
    is_flag=True,
    help="Do not check the server (GET /v1/models) before the chat: for servers without it.",
)
def chat(
    domain: Path,
    agent_model: str,
    agent_api_base: str | None,
    transport: str,
    style: str,
    server_profile: str,
    instruct: bool,
    constrain: str,
    api_key_env: str | None,
    violations: str,
    timeout: float,
    retries: int,
    task_id: str | None,
    max_tool_calls: int,
    no_preflight: bool,
) -> None:
    """Talk to the agent of a domain pack: you play the customer.

    Type a message and press Enter; /quit or Ctrl-D ends the chat. The agent's tool calls run
    against a fresh copy of the pack's database, and the changes they make are shown. The
    server is checked first (it answers, serves the model, takes the key): --no-preflight skips.
    """
    from pydantic import ValidationError
    from rich.console import Console

    from policy_agent.agent import Agent, AgentConfig, ViolationPolicy
    from policy_agent.environment import Environment, InitialStateError
    from policy_agent.format import GrammarError, profile_named
    from policy_agent.llm import LLMError, ModelConfig, check_role
    from policy_agent.simulation import detect_agent_server

    pack = load_pack_or_exit(domain)
    try:
        task = pack.task(task_id) if task_id is not None else None
    except KeyError as error:
        raise click.BadParameter(str(error.args[0]), param_hint="--task") from None
    try:
        config = AgentConfig(
            model=ModelConfig(
                model=agent_model,
                api_base=agent_api_base,
                api_key_env=api_key_env,
                thinking=not instruct,
                timeout=timeout,
                retries=retries,
            ),
            transport=transport,  # type: ignore[arg-type]  # click.Choice checked the value
            style=style,  # type: ignore[arg-type]
            constrain=constrain,  # type: ignore[arg-type]
            violations=ViolationPolicy(strategy=violations),  # type: ignore[arg-type]
            server_profile=server_profile,
        )
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise click.UsageError(problems) from None
    console = Console(highlight=False, soft_wrap=True)
    try:
        if not no_preflight:
            asyncio.run(check_role(config.model, role="agent", chat=transport == "chat"))
    except (LLMError, GrammarError) as error:
        console.print(f"[bold red]error:[/] [red]{_escape(str(error))}[/]")
        raise SystemExit(1) from None
    agent_server, warning = asyncio.run(detect_agent_server(config))
    if warning is not None:
        console.print(f"[yellow]warning:[/] {_escape(warning)}")
    assert agent_server is not None  # a model agent always has a profile
    agent = Agent.from_pack(pack, config, profile=profile_named(agent_server.profile))
    mode = "instruct" if instruct else "thinking"
    console.print(
        f"[bold]{_escape(pack.name)} {_escape(pack.version)}[/] with agent "
        f"[bold]{_escape(agent_model)}[/] ({transport} transport, {style} style, {mode} mode, "
        f"server profile {agent_server.profile}"
        + (", grammar-constrained)." if constrain == "grammar" else ").")
    )
    console.print("You are the customer. Type a message; /quit or Ctrl-D ends the chat.")
    if pack.user_tools:
        names = ", ".join(tool.name for tool in pack.user_tools)
        console.print(f"Your own tools: /call NAME {{json arguments}}, NAME one of {names}.")
    try:
        episode = Environment.from_pack(pack).new_episode(task)
    except InitialStateError as error:
        console.print(f"[red]{_escape(str(error))}[/]")
        raise SystemExit(1) from None
    session = _Session(agent, episode, console, max_tool_calls, retries=retries)
    if task is not None:
        session.start_from(task)
    else:
        session.greet()
    with asyncio.Runner() as runner:
        try:
            code = session.run(runner)
        finally:
            runner.run(_close(agent))
    raise SystemExit(code)


async def _close(agent: Agent) -> None:
    from policy_agent.llm import close_connections

    await agent.client.aclose()
    await close_connections()


class _Session:
    """One chat: the conversation so far and the episode its tool calls act on."""

    def __init__(
        self,
        agent: Agent,
        episode: EpisodeEnvironment,
        console: Console,
        max_tool_calls: int,
        *,
        retries: int,
    ) -> None:
        self.agent = agent
        self.episode = episode
        self.console = console
        self.max_tool_calls = max_tool_calls
        self.retries = retries
        self.history: list[ConversationRecord] = []

    def greet(self) -> None:
        """The agent's first message, as `run` opens a simulation: the model then sees the
        conversation a simulated one would have (the run config's default greeting)."""
        from policy_agent.records import AgentMessage
        from policy_agent.simulation import TAU2_GREETING

        self.history.append(AgentMessage(content=TAU2_GREETING))
        self.console.print(f"[bold green]agent>[/] {_escape(TAU2_GREETING)}")

    def start_from(self, task: Task) -> None:
        """Show the task's customer and its history, which the conversation then goes on from."""
        from policy_agent.domain import StructuredInstructions
        from policy_agent.records import AgentMessage, AgentToolCall, ToolResult, UserMessage
        from policy_agent.simulation import history_records

        scenario = task.user_scenario
        instructions = scenario.instructions
        if isinstance(instructions, StructuredInstructions):
            parts = [instructions.reason_for_call, instructions.known_info]
            parts.append(instructions.task_instructions)
            shown = "\n".join(part.strip() for part in parts if part)
        else:
            shown = instructions.strip()
        self.console.print(f"[bold]Task {_escape(task.id)}[/]: you play its customer.")
        if scenario.persona:
            self.console.print(f"[dim]{_escape(scenario.persona)}[/]")
        self.console.print(f"[dim]{_escape(shown)}[/]")
        self.history = history_records(task, self.episode.history)
        if self.history:
            self.console.print("[dim]The conversation so far (the task's history):[/]")
        for record in self.history:
            if isinstance(record, UserMessage):
                self.console.print(f"[bold]you>[/] {_escape(record.content)}")
            elif isinstance(record, AgentMessage):
                self.console.print(f"[bold green]agent>[/] {_escape(record.content)}")
            elif isinstance(record, AgentToolCall):
                self._call(record)
            elif isinstance(record, ToolResult):
                self._result(record)
            else:
                self.console.print(f"[cyan]you → {_escape(record.name)}[/]")

    def run(self, runner: asyncio.Runner) -> int:
        """Read lines until /quit or end of input; the exit code (0: the person ended it).

        A failed agent turn (the server unreachable, the model's error) ends nothing: it is
        said, the conversation is kept, and /retry plays the turn again, /save FILE keeps the
        transcript."""
        from policy_agent.records import UserMessage
        from policy_agent.simulation import agent_moves_first

        if agent_moves_first(self.history):
            # The task's history leaves the agent to move first.
            self.turn(runner)
        while True:
            try:
                line = self.console.input("[bold]you>[/] ")
            except EOFError:
                self.console.print()
                return 0
            command = line.strip()
            if command == "/quit":
                return 0
            if not command:
                continue
            if command == "/retry":
                self.turn(runner)
                continue
            if command.startswith("/save"):
                self.save(command.removeprefix("/save").strip())
                continue
            if command.startswith("/call"):
                self._user_call(command.removeprefix("/call").strip())
                continue
            self.history.append(UserMessage(content=line))
            if self.turn(runner):
                return 1

    def turn(self, runner: asyncio.Runner) -> bool:
        """The agent's turns after the last message, with a line that shows it is working;
        True when the episode ended. A failure is said and leaves the conversation as it was."""
        from policy_agent.agent import AgentModelError
        from policy_agent.llm import LLMError

        try:
            return runner.run(self._working(self._agent_turns()))
        except (AgentModelError, LLMError) as error:
            self._events(getattr(error, "events", ()))
            self.console.print(f"[bold red]error:[/] [red]{_escape(str(error))}[/]")
            self.console.print(
                "[yellow]The conversation is kept: /retry asks the agent again, /save FILE "
                "writes the transcript, /quit ends.[/]"
            )
            return False

    async def _working(self, turns: Coroutine[object, object, bool]) -> bool:
        """Await `turns` under a status line with the time the model has taken so far (a turn
        of a big model on a busy server can take minutes)."""
        start = time.monotonic()
        with self.console.status("[dim]the agent is working… 0 s[/]") as status:
            task = asyncio.ensure_future(turns)
            while not task.done():
                await asyncio.wait({task}, timeout=1.0)
                status.update(f"[dim]the agent is working… {time.monotonic() - start:.0f} s[/]")
            return task.result()

    def save(self, name: str) -> None:
        """`/save FILE`: the conversation so far, one record per line (JSON)."""
        if not name:
            self.console.print("[red]Use /save FILE.[/]")
            return
        path = Path(name)
        try:
            with path.open("w", encoding="utf-8") as out:
                for record in self.history:
                    out.write(record.model_dump_json() + "\n")
        except OSError as error:
            self.console.print(f"[red]Not saved: {_escape(str(error))}[/]")
            return
        self.console.print(f"Saved {len(self.history)} records to {_escape(str(path))}.")

    def _user_call(self, text: str) -> None:
        """`/call NAME {json arguments}`: one of the user's own tools (dual control), on the
        user's database; the agent sees neither the call nor its result, as in a simulation."""
        from policy_agent.records import UserToolCall

        tools = [tool.name for tool in self.episode.environment.pack.user_tools]
        if not tools:
            self.console.print("[yellow]This pack has no user tools to /call.[/]")
            return
        name, _, raw = text.partition(" ")
        try:
            arguments = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as error:
            self.console.print(f"[red]The arguments are not JSON ({_escape(str(error))}).[/]")
            return
        if not name or not isinstance(arguments, dict):
            self.console.print(
                f"[red]Use /call NAME {{json arguments}}; your tools: {', '.join(tools)}[/]"
            )
            return
        number = 1 + sum(isinstance(record, UserToolCall) for record in self.history)
        call = UserToolCall(call_id=f"user_call_{number}", name=name, arguments=arguments)
        result = self.episode.call(name, arguments, requestor="user")
        recorded = result.record(call.call_id, name, requestor="user")
        self.history += [call, recorded]
        self._result(recorded)

    async def _agent_turns(self) -> bool:
        """The agent's turns up to its next message; True when the episode ended instead."""
        from policy_agent.agent import GaveUpStep
        from policy_agent.records import AgentMessage

        for _ in range(self.max_tool_calls + 1):
            step = await self.agent.act(self.history)
            self._events(step.events)
            if isinstance(step, GaveUpStep):
                self.console.print(
                    "[bold red]The agent gave no valid action; the episode ends as agent_error.[/]"
                )
                return True
            record = step.record
            self.history.append(record)
            self._reasoning(record.reasoning)
            if isinstance(record, AgentMessage):
                self.console.print(f"[bold green]agent>[/] {_escape(record.content)}")
                return False
            self._call(record)
            result = self.episode.call(record.name, record.arguments)
            recorded = result.record(record.call_id, record.name)
            self.history.append(recorded)
            self._result(recorded)
        self.console.print(
            f"[yellow]The agent made {self.max_tool_calls} tool calls without answering; "
            "stopped. Say something to let it continue.[/]"
        )
        return False

    def _events(self, events: list[AgentEvent] | tuple[AgentEvent, ...]) -> None:
        from policy_agent.records import RetryEvent

        for event in events:
            if isinstance(event, RetryEvent):
                if event.attempt > self.retries:
                    continue  # the last attempt failed: no retry follows, the error says why
                self.console.print(
                    f"[yellow]retry: {event.error_type} on attempt {event.attempt}: "
                    f"{_escape(event.message)}[/]"
                )
                continue
            violation = event.violation
            self.console.print(
                f"[bold red]violation[/] [red]{violation.code.value}: {_escape(violation.detail)}"
                f" → {event.action_taken}[/]"
            )
            raw = event.generation.raw_completion
            if raw.strip():
                self.console.print(f"[dim red]{_escape(_indent(_fold(raw, 6)))}[/]")
            for dropped in event.dropped_calls:
                self.console.print(f"[red]  dropped call {_escape(dropped.name)}[/]")
            if event.dropped_text:
                self.console.print(f"[red]  dropped text: {_escape(event.dropped_text)}[/]")

    def _reasoning(self, reasoning: str | None) -> None:
        if not reasoning:
            return
        shown = reasoning
        if len(shown) > _REASONING_CHARS:
            shown = shown[:_REASONING_CHARS] + f"… ({len(reasoning) - _REASONING_CHARS} more)"
        self.console.print(f"[dim italic]{_escape(shown)}[/]")

    def _call(self, call: AgentToolCall) -> None:
        if call.content:
            self.console.print(f"[dim italic]{_escape(call.content)}[/]")
        arguments = json.dumps(call.arguments, indent=2, ensure_ascii=False)
        self.console.print(f"[bold cyan]→ {_escape(call.name)}[/] {_escape(arguments)}")

    def _result(self, result: ToolResult) -> None:
        from policy_agent.environment import Change

        try:
            text = json.dumps(json.loads(result.content), indent=2, ensure_ascii=False)
        except json.JSONDecodeError:
            text = result.content
        colour = "red" if result.error else "blue"
        self.console.print(f"[{colour}]← {_escape(_fold(text, _RESULT_LINES))}[/]")
        if result.crashed and result.detail:
            self.console.print(f"[dim red]{_escape(_fold(result.detail, _RESULT_LINES))}[/]")
        for recorded in result.changes:
            change = Change.of_record(recorded)
            self.console.print(
                # Escaped whole: `[main]` on its own would read as a markup tag and vanish.
                f"[magenta]✎ {change.kind} {_escape(f'{change.table}[{change.record_id}]')}[/]"
            )
            for diff in change.field_diff():
                self.console.print(f"[magenta]    {_escape(str(diff))}[/]")


def _fold(text: str, lines: int) -> str:
    """At most `lines` lines, then how many were left out."""
    split = text.splitlines()
    if len(split) <= lines:
        return text
    return "\n".join(split[:lines]) + f"\n… ({len(split) - lines} more lines)"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
