"""Scripts from recorded runs: replay what the models said, to regression-test a changed pack.

The runner sends every model call of an episode with the episode's seed (attempt n of a turn
with seed + n - 1), and the seed comes from (run seed, task, trial) alone. So a `by_seed` script
holding each recorded seed's answers in order answers every request of a re-run of the same
config (same seed, tasks, trials) with what the model said to that request in the recording,
however the episodes interleave. The conversations then repeat exactly, and whatever the pack
decides (tool results, preconditions, the database, the reward) is computed afresh: a changed
pack shows up as different tool results and rewards, without a GPU.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import JsonValue

from policy_agent.errors import PolicyAgentError
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    Episode,
    Generation,
    UserMessage,
    UserRetryEvent,
    UserToolCall,
    ViolationEvent,
)
from policy_agent.scripted._script import Answer, Script, ScriptedToolCall, SeedRole
from policy_agent.scripted._writing import seed_script_yaml
from policy_agent.trajectory import EpisodeRef, RunStore

ROLES = ("agent", "user")
"""The roles whose model outputs a run records (the judge's answers are not kept)."""


class ScriptFromRunError(PolicyAgentError):
    """The run's episodes cannot be replayed by seed; the message names the episode and why."""


class SelectionError(ScriptFromRunError):
    """The episodes or roles asked for are not in the run (a usage problem)."""


@dataclass(frozen=True, kw_only=True)
class RecordedScript:
    """A `by_seed` script made from a run, with what its YAML comments say about each seed."""

    roles: dict[str, SeedRole]
    """Per model name as requests carry it (the script's roles), the answers by seed."""
    run_id: str
    run_seed: int | None
    """The run config's seed, which a re-run must keep."""
    episodes: tuple[str, ...]
    """`TASK#TRIAL` of each episode the script replays, in the run's order."""
    labels: dict[str, dict[int, str]]
    """Per script role and seed: the episode and attempt its answers come from."""
    notes: tuple[str, ...]
    """What may not replay exactly, one sentence each (for the user to read)."""

    @property
    def script(self) -> Script:
        """The script the server loads."""
        return Script(roles=dict(self.roles))

    def to_yaml(self) -> str:
        """The script as YAML, each seed's answers under a comment naming their episode."""
        header = [
            f"The model outputs of run {self.run_id}, written by `policy-agent script-from-run`.",
            "Serve it with `policy-agent serve-script <this file> --port 8000`, then re-run the",
            f"run's config (seed {self.run_seed}, the same tasks and trials) with its models'",
            "api_base at the server. Each request gets the next answer of its seed (attempt n",
            "of a turn sends seed + n - 1), so the models say what they said in the recording,",
            "and a changed domain pack shows up as different tool results and rewards.",
        ]
        return seed_script_yaml(header, self.roles, self.labels)


def served_model(model: str) -> str:
    """The `model` field litellm sends for a litellm model string: it drops the provider prefix.

    `hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B` is sent as `nvidia/Nemotron-Cascade-2-30B-A3B`,
    and the scripted server's role is that field.
    """
    return model.split("/", 1)[1] if "/" in model else model


@dataclass(frozen=True, kw_only=True)
class _Said:
    """One model answer of an episode, in the order the episode asked for it."""

    role: str
    seed: int
    attempt: int
    answer: Answer
    from_text_alone: bool = False
    """A rejected user answer, of which the trajectory keeps only the text."""


def script_from_run(
    directory: Path,
    *,
    episodes: Collection[EpisodeRef] | None = None,
    roles: Collection[str] | None = None,
) -> RecordedScript:
    """A script replaying the model outputs of the run in `directory`.

    `episodes` picks `(task_id, trial)` pairs or 1-based lines of episodes.jsonl (default: every
    episode; see `parse_episode_id`); `roles` picks `agent`
    and/or `user` (default: those that called a model). Raises `RunStoreError` when `directory`
    is not a readable run, `SelectionError` when a picked episode or role is not in it, and
    `ScriptFromRunError` when its episodes cannot be told apart by seed.
    """
    store = RunStore.open(directory)
    manifest = store.manifest
    run = f"run {manifest.run_id}"
    models = _configured_models(manifest.config)
    picked_roles = _pick_roles(models, roles, run)
    chosen = _pick_episodes(list(store.latest_episodes(tokens=False)), episodes, run)
    answers: dict[str, dict[int, list[Answer]]] = {}
    labels: dict[str, dict[int, str]] = {}
    owners: dict[tuple[str, int], str] = {}
    notes: list[str] = []
    for episode in chosen:
        name = f"{episode.task_id}#{episode.trial}"
        where = f"{run}, episode {name}"
        said = [s for s in _said(episode, where) if s.role in picked_roles]
        for item in said:
            model = models[item.role]
            assert model is not None  # a role without a model made no calls
            role = served_model(model)
            owner = owners.setdefault((role, item.seed), name)
            if owner != name:
                raise ScriptFromRunError(
                    f"{run}: episodes {owner} and {name} both sent seed {item.seed} to model "
                    f"{role!r}, so a script cannot tell their requests apart; make one script "
                    "for each with --episode"
                )
            answers.setdefault(role, {}).setdefault(item.seed, []).append(item.answer)
            labels.setdefault(role, {})[item.seed] = f"{name}, attempt {item.attempt}"
        retried = sum(1 for s in said if s.from_text_alone)
        if retried:
            notes.append(
                f"{where}: {retried} rejected user answer(s) are replayed from their text alone "
                "(the trajectory keeps no tool calls or finish_reason of rejected user answers); "
                "if the replay accepts one, this episode's conversation differs from the recording"
            )
    if not answers:
        raise SelectionError(
            f"{run}: the episodes picked hold no model outputs of {', '.join(picked_roles)}"
        )
    if manifest.config.get("judge") is not None:
        notes.append(
            f"{run} has a judge: its answers are not recorded, so the script leaves it out; "
            "the re-run asks the judge model its config names"
        )
    seed = manifest.config.get("seed")
    return RecordedScript(
        # The agent's model first, whoever spoke first.
        roles={
            role: SeedRole(mode="by_seed", answers=answers[role])
            for role in dict.fromkeys(served_model(models[r] or "") for r in picked_roles)
            if role in answers
        },
        run_id=manifest.run_id,
        run_seed=seed if isinstance(seed, int) else None,
        episodes=tuple(f"{e.task_id}#{e.trial}" for e in chosen),
        labels=labels,
        notes=tuple(notes),
    )


def _configured_models(config: dict[str, JsonValue]) -> dict[str, str | None]:
    """The litellm model string of each role in the run config; None for the oracle agent and
    the scripted user, which call no model."""
    models: dict[str, str | None] = {}
    for role in ROLES:
        section = config.get(role)
        settings = section.get("model") if isinstance(section, dict) else None
        model = settings.get("model") if isinstance(settings, dict) else None
        models[role] = model if isinstance(model, str) else None
    return models


def _pick_roles(
    models: dict[str, str | None], wanted: Collection[str] | None, run: str
) -> tuple[str, ...]:
    with_model = tuple(role for role in ROLES if models[role] is not None)
    if wanted is None:
        if not with_model:
            raise SelectionError(
                f"{run} called no model (its agent is the oracle and its user is scripted), so "
                "there is nothing to replay"
            )
        return with_model
    unknown = sorted(set(wanted) - set(ROLES))
    if unknown:
        raise SelectionError(
            f"unknown role(s) {', '.join(unknown)}: a run records the outputs of "
            f"{' and '.join(ROLES)}"
        )
    for role in wanted:
        if models[role] is None:
            raise SelectionError(f"{run}: its {role} called no model, so it has nothing to replay")
    return tuple(role for role in ROLES if role in wanted)


def _pick_episodes(
    latest: list[tuple[int, Episode]], wanted: Collection[EpisodeRef] | None, run: str
) -> list[Episode]:
    """The episodes `wanted` names, each (task, trial)'s latest attempt (all when None)."""
    recorded = [episode for _, episode in latest]
    if wanted is None:
        if not recorded:
            raise SelectionError(f"{run} has no episodes yet")
        return recorded
    by_line = {line: episode for line, episode in latest}
    lines = [line for line in wanted if isinstance(line, int)]
    beyond = [str(line) for line in lines if line not in by_line]
    if beyond:
        raise SelectionError(
            f"{run} has {len(recorded)} episode(s), one a line of episodes.jsonl; there is no "
            f"line {', '.join(beyond)} holding the latest attempt of an episode (an attempt a "
            "resume ran again is superseded: give TASK_ID#TRIAL)"
        )
    keys = [ref for ref in wanted if not isinstance(ref, int)]
    keys += [by_line[line].key for line in lines]
    present = {episode.key for episode in recorded}
    picked = set(keys)
    missing = [f"{task}#{trial}" for task, trial in keys if (task, trial) not in present]
    if missing:
        some = ", ".join(f"{task}#{trial}" for task, trial in sorted(present)[:5])
        raise SelectionError(
            f"{run} has no episode {', '.join(missing)}; its {len(present)} episode(s) include "
            f"{some or 'none'}"
        )
    return [episode for episode in recorded if episode.key in picked]


def _said(episode: Episode, where: str) -> Iterator[_Said]:
    """The episode's model answers in the order it asked for them, rejected attempts included.

    The events of a turn (violations of the agent, retries of the user) are stored apart from
    its record; the turn's kept answer says which attempt it was, so the attempts before it are
    the rejected ones that came first.
    """
    violations = deque(e for e in episode.events if isinstance(e, ViolationEvent))
    retries = deque(e for e in episode.events if isinstance(e, UserRetryEvent))
    for record in episode.messages:
        match record:
            case (
                AgentMessage(generation=Generation() as kept)
                | AgentToolCall(generation=Generation() as kept)
            ):
                for event in _rejected(violations, kept, where, lambda e: e.generation.attempt):
                    yield _said_by("agent", event.generation, where)
                if violations and violations[0].generation == kept:
                    violations.popleft()  # keep_first: its violation and its call share an answer
                yield _said_by("agent", kept, where)
            case (
                UserMessage(generation=Generation() as kept)
                | UserToolCall(generation=Generation() as kept)
            ):
                first_seed = _seed(kept, where) - kept.attempt + 1
                for retry in _rejected(retries, kept, where, lambda e: e.attempt):
                    yield _user_retry(retry, first_seed)
                yield _said_by("user", kept, where)
    # A turn that never got a usable answer ended the episode: its attempts come last.
    for event in violations:
        yield _said_by("agent", event.generation, where)
    for retry in retries:
        yield _user_retry(retry, episode.seed)


EventT = TypeVar("EventT")


def _rejected(
    queue: deque[EventT], kept: Generation, where: str, attempt_of: Callable[[EventT], int]
) -> list[EventT]:
    """The events of the attempts before the kept one, taken from the front of `queue`."""
    taken = []
    for expected in range(1, kept.attempt):
        if not queue or attempt_of(queue[0]) != expected:
            found = f"attempt {attempt_of(queue[0])}" if queue else "nothing"
            raise ScriptFromRunError(
                f"{where}: the events do not match the conversation: a turn's answer was "
                f"attempt {kept.attempt}, but where its rejected attempt {expected} should be "
                f"there is {found}; was this line written by the runner?"
            )
        taken.append(queue.popleft())
    return taken


def _said_by(role: str, generation: Generation, where: str) -> _Said:
    return _Said(
        role=role,
        seed=_seed(generation, where),
        attempt=generation.attempt,
        answer=_answer(generation),
    )


def _user_retry(retry: UserRetryEvent, first_seed: int) -> _Said:
    if retry.generation is not None:  # recorded in full since the event carries it
        return _Said(
            role="user",
            seed=first_seed + retry.attempt - 1,
            attempt=retry.attempt,
            answer=_answer(retry.generation),
        )
    return _Said(
        role="user",
        seed=first_seed + retry.attempt - 1,
        attempt=retry.attempt,
        answer=Answer(content=retry.raw_completion),
        from_text_alone=True,
    )


def _seed(generation: Generation, where: str) -> int:
    if generation.seed is None:
        raise ScriptFromRunError(
            f"{where}: a model call of attempt {generation.attempt} was sent without a seed, so "
            "its answer cannot be keyed by seed (the runner always sends one)"
        )
    return generation.seed


def _answer(generation: Generation) -> Answer:
    """The answer that makes the server send back what the model sent."""
    if generation.transport == "completions":
        return Answer(
            text=generation.raw_completion, finish_reason=_unless(generation.finish_reason, "stop")
        )
    calls = [
        ScriptedToolCall(name=call.name, arguments=call.arguments_json)
        for call in generation.raw_tool_calls
    ]
    # The record keeps "" for a content the server left out; leave it out again when the
    # answer has something else to say.
    empty = generation.raw_completion == "" and (calls or generation.raw_reasoning is not None)
    return Answer(
        content=None if empty else generation.raw_completion,
        reasoning=generation.raw_reasoning,
        tool_calls=calls,
        finish_reason=_unless(generation.finish_reason, "tool_calls" if calls else "stop"),
    )


FinishReason = Literal["stop", "length", "tool_calls"]


def _unless(reason: str | None, default: FinishReason) -> FinishReason | None:
    """The recorded finish reason when the server would not send it anyway, and can send it."""
    match reason:
        case "stop" | "length" | "tool_calls" if reason != default:
            return reason
    return None
