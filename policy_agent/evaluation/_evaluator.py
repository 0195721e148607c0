"""`Evaluator`: scores an episode the tau2-bench way and keeps every component's result.

The predicted state is a fresh episode (at the task's initial state, history included) on which
every logged tool call after the history (the agent's and the user's, in order) is replayed; the
expected state is a fresh episode at the task's initial state on which the task's actions are
made. The action and communicate checks read the whole conversation, history included, as
tau2-bench's do. Beyond tau2-bench: every component is computed and stored even when it is
outside the reward basis or the episode ended early, the DB component names the fields that
differ, a failure outside the agent (the run's infrastructure, the judge) is flagged so that
totals can keep it apart, and the task's policy rules are checked over the trajectory during the
same replay (`RewardInfo.rules`, the `RULES` component; docs/rules.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from policy_agent.domain import DomainPack, Task
from policy_agent.environment import (
    HASH_SCHEME,
    Environment,
    EpisodeEnvironment,
    InitialStateError,
    same_result,
)
from policy_agent.evaluation._calls import LoggedCall, agent_texts, logged_calls
from policy_agent.evaluation._checks import (
    check_actions,
    check_assertions,
    check_communicated,
    database_differences,
)
from policy_agent.evaluation._errors import JudgeRequired, UnknownTask
from policy_agent.evaluation._judge import Judge, JudgeVerdict
from policy_agent.evaluation._rule_kinds import check_rules
from policy_agent.evaluation._rules import RuleBook, RuleProbe, judge_requests, rules_judge_usage
from policy_agent.llm import ModelClient
from policy_agent.records import DBCheck, Episode, RewardInfo, RewardType

_MISMATCHES_SHOWN = 3


@dataclass(frozen=True, kw_only=True)
class _Expected:
    """A task's expected end state (the same for every episode of the task, so made once)."""

    environment: EpisodeEnvironment
    errors: tuple[str, ...]
    """Expected actions that failed (`policy-agent check` flags them; the state is kept anyway)."""


@dataclass(frozen=True, kw_only=True)
class _Replay:
    environment: EpisodeEnvironment
    notes: tuple[str, ...]


class Evaluator:
    """Scores the episodes of one domain pack; one instance serves a whole run.

    ```python
    evaluator = Evaluator(pack, judge=LLMClient(judge_config, role="judge"))
    reward = await evaluator.evaluate(episode)          # RewardInfo
    episode = episode.model_copy(update={"reward": reward})
    ```
    """

    def __init__(
        self,
        pack: DomainPack,
        *,
        environment: Environment | None = None,
        judge: ModelClient | None = None,
        task_ids: Iterable[str] | None = None,
    ) -> None:
        """JudgeRequired, up front, when a task's reward needs the judge and there is none.

        `task_ids` limits that check to the tasks a run will score (default: every task).
        """
        self.pack = pack
        self.environment = environment if environment is not None else Environment.from_pack(pack)
        self._judge = Judge(judge) if judge is not None else None
        self._expected: dict[str, _Expected] = {}
        self._rule_books: dict[str, RuleBook] = {}
        if judge is None:
            tasks = pack.tasks if task_ids is None else [self._task(i) for i in task_ids]
            needing = [task for task in tasks if self._needs_judge(task)]
            if needing:
                raise JudgeRequired(self._judge_required(needing))

    async def evaluate(self, episode: Episode) -> RewardInfo:
        """The episode's reward with every component; the judge is asked when the task has NL
        assertions, or rules that ask it, and a judge is configured (its failures are recorded,
        never raised)."""
        if self._judge is None:
            return self.evaluate_without_judge(episode)
        task = self._task(episode.task_id)
        verdict = None
        assertions = task.evaluation_criteria.nl_assertions
        if assertions:
            verdict = await self._judge.judge(
                episode.messages, assertions, seed=episode.seed, session=episode.session
            )
        rule_verdicts = {}
        for request in judge_requests(self._rule_book(task), episode):
            rule_verdicts[(request.rule, request.record_index)] = await self._judge.judge(
                request.records, [request.statement], seed=episode.seed, session=episode.session
            )
        return self._score(episode, task, verdict, rule_verdicts)

    def evaluate_without_judge(self, episode: Episode) -> RewardInfo:
        """The reward without asking the judge: NL_ASSERTION is left out of the breakdown, and
        rules that ask the judge are undecided.

        JudgeRequired when the task's reward needs it (NL assertions, or such rules, in the basis).
        """
        task = self._task(episode.task_id)
        if self._needs_judge(task):
            raise JudgeRequired(self._judge_required([task]))
        return self._score(episode, task, None, None)

    # ------------------------------------------------------------------------------ scoring

    def _score(
        self,
        episode: Episode,
        task: Task,
        verdict: JudgeVerdict | None,
        rule_verdicts: dict[tuple[str, int], JudgeVerdict] | None,
    ) -> RewardInfo:
        criteria = task.evaluation_criteria
        notes: list[str] = []
        calls = logged_calls(episode.messages)
        book = self._rule_book(task)
        probe = book.probe()
        try:
            replay = self._replay(episode, task, calls, probe)
            expected = self._expected_state(task)
        except InitialStateError as error:
            # Not the agent's doing: the pack's task cannot start (the run recorded why).
            return RewardInfo(
                reward=0.0,
                reward_basis=list(criteria.reward_basis),
                note="The task's initial state could not be set, so nothing was scored.",
                infrastructure_error=str(error),
            )
        notes.extend(replay.notes)
        if expected.errors:
            notes.append(f"expected actions that failed: {'; '.join(expected.errors)}")
        predicted = replay.environment

        db_check = self._db_check(expected.environment, predicted)
        if not _expects_database(task):
            # tau2-bench: with nothing expected of the database, DB scores 1 whatever changed.
            db_check = db_check.model_copy(update={"db_reward": 1.0})
            if not db_check.db_match:
                notes.append("the task expects no actions or assertions, so DB scores 1 anyway.")
        assertion_checks = check_assertions(criteria.env_assertions, predicted)
        action_checks = check_actions(criteria.actions, calls)
        communicate_checks = check_communicated(
            criteria.communicate_info, agent_texts(episode.messages)
        )
        breakdown = {
            RewardType.DB: db_check.db_reward,
            RewardType.ENV_ASSERTION: _product(c.reward for c in assertion_checks),
            RewardType.ACTION: _product(c.action_reward for c in action_checks),
            RewardType.COMMUNICATE: _product(1.0 if c.met else 0.0 for c in communicate_checks),
        }
        if not criteria.nl_assertions:
            breakdown[RewardType.NL_ASSERTION] = 1.0
        elif verdict is not None:
            breakdown[RewardType.NL_ASSERTION] = verdict.reward
        else:
            notes.append("NL assertions were not judged (no judge configured).")
        rule_results = check_rules(book, episode, probe, rule_verdicts)
        rules_judge = rules_judge_usage((rule_verdicts or {}).values())
        if rule_results or RewardType.RULES in criteria.reward_basis:
            # Only then, so that a pack without rules keeps tau2-bench's breakdown.
            breakdown[RewardType.RULES] = 1.0 if all(r.kept for r in rule_results) else 0.0

        infrastructure_error = None
        termination = episode.termination_reason
        if termination.is_normal_end:
            reward = _product(breakdown[kind] for kind in criteria.reward_basis)
            judge_error = verdict.usage.error if verdict is not None else None
            rules_error = rules_judge.error if rules_judge is not None else None
            if judge_error is not None and RewardType.NL_ASSERTION in criteria.reward_basis:
                infrastructure_error = f"the judge failed: {judge_error}"
            elif rules_error is not None and RewardType.RULES in criteria.reward_basis:
                infrastructure_error = f"the judge failed on a rule: {rules_error}"
        else:
            reward = 0.0
            notes.insert(0, f"the episode ended early ({termination.value}), so it scores 0.")
            if termination.is_infrastructure:
                detail = episode.error or "no detail was recorded"
                infrastructure_error = f"the episode ended with infrastructure_error: {detail}"
        return RewardInfo(
            reward=reward,
            reward_basis=list(criteria.reward_basis),
            reward_breakdown=breakdown,
            db_check=db_check,
            env_assertions=assertion_checks,
            action_checks=action_checks,
            communicate_checks=communicate_checks,
            nl_assertions=verdict.checks if verdict is not None else [],
            judge=verdict.usage if verdict is not None else None,
            rules=rule_results,
            rules_judge=rules_judge,
            note=" ".join(_sentence(n) for n in notes) or None,
            infrastructure_error=infrastructure_error,
        )

    def _replay(
        self, episode: Episode, task: Task, calls: list[LoggedCall], probe: RuleProbe
    ) -> _Replay:
        """A fresh episode with the logged calls after the task's history made again, checked
        against what they returned; `probe` sees the database before each call (the history's
        calls: the episode's starting state, their effects in it).

        tau2 raises when a replayed result differs (a non-deterministic tool); here the episode
        is still scored on the replayed state, with a note naming the calls.
        """
        environment = self.environment.new_episode(task)
        mismatched: list[str] = []
        unanswered: list[str] = []
        for call in calls:
            if call.index < episode.initial_messages:
                probe.observe(call, environment.database)
        played = [call for call in calls if call.index >= episode.initial_messages]
        for position, call in enumerate(played, 1):
            label = f"#{position} {call.name} ({call.requestor})"
            probe.observe(call, environment.database)
            if call.result is None:
                unanswered.append(label)
                continue
            result = environment.call(call.name, call.arguments, requestor=call.requestor)
            if not same_result(result.content, call.result.content):
                mismatched.append(label)
        notes = []
        if mismatched:
            shown = ", ".join(mismatched[:_MISMATCHES_SHOWN])
            more = len(mismatched) - _MISMATCHES_SHOWN
            notes.append(
                f"{len(mismatched)} replayed call(s) returned something other than in the episode "
                f"(is a tool non-deterministic?): {shown}{f' and {more} more' if more > 0 else ''}"
            )
        if unanswered:
            notes.append(
                f"calls without a logged result were not replayed: {', '.join(unanswered)}"
            )
        hashes = environment.content_hash()
        recorded = [("agent", episode.database, hashes.agent)]
        if episode.user_database is not None:
            recorded.append(("user", episode.user_database, hashes.user))
        # A run recorded before today's hash scheme has hashes of another kind: not comparable.
        differing = [
            name
            for name, logged, replayed in recorded
            if logged.hash_scheme == HASH_SCHEME and logged.final_hash != replayed
        ]
        if differing:
            notes.append(
                f"the replayed {' and '.join(differing)} database differs from the episode's "
                "recorded final state; the replayed one is scored"
            )
        return _Replay(environment=environment, notes=tuple(notes))

    def _expected_state(self, task: Task) -> _Expected:
        if task.id not in self._expected:
            environment = self.environment.new_episode(task)
            errors = []
            for action in task.evaluation_criteria.actions:
                result = environment.call(action.name, action.arguments, requestor=action.requestor)
                if result.error:
                    errors.append(f"{action.action_id} {action.name}: {result.content}")
            self._expected[task.id] = _Expected(environment=environment, errors=tuple(errors))
        return self._expected[task.id]

    @staticmethod
    def _db_check(expected: EpisodeEnvironment, predicted: EpisodeEnvironment) -> DBCheck:
        gold, actual = expected.content_hash(), predicted.content_hash()
        match = gold == actual
        return DBCheck(
            db_match=match,
            db_reward=1.0 if match else 0.0,
            differences=[] if match else database_differences(expected, predicted),
            expected_hash=gold.agent,
            actual_hash=actual.agent,
            expected_user_hash=gold.user,
            actual_user_hash=actual.user,
        )

    def _rule_book(self, task: Task) -> RuleBook:
        if task.id not in self._rule_books:
            self._rule_books[task.id] = RuleBook(self.pack, task)
        return self._rule_books[task.id]

    def _needs_judge(self, task: Task) -> bool:
        """Whether the task's reward needs the judge: NL assertions, or rules that ask it, in
        the reward basis."""
        basis = task.evaluation_criteria.reward_basis
        return _needs_judge(task) or (
            RewardType.RULES in basis and bool(self._rule_book(task).judged)
        )

    def _judge_required(self, tasks: list[Task]) -> str:
        nl = [task.id for task in tasks if _needs_judge(task)]
        rules = [task.id for task in tasks if task.id not in nl]
        needs = []
        if nl:
            needs.append(f"NL_ASSERTION is in the reward basis of {', '.join(nl)}")
        if rules:
            needs.append(
                f"RULES is in the reward basis of {', '.join(rules)} and a rule of theirs asks "
                "the judge (judge: true)"
            )
        return (
            f"domain {self.pack.name!r}: {'; '.join(needs)}, but no judge model is configured; "
            "add a `judge:` model to the run config, or take them out of those tasks' "
            "reward_basis"
        )

    def _task(self, task_id: str) -> Task:
        try:
            return self.pack.task(task_id)
        except KeyError:
            raise UnknownTask(
                f"task {task_id!r} is not in domain {self.pack.name!r} (from {self.pack.root}); "
                "score the run with the pack it was made with"
            ) from None


def _expects_database(task: Task) -> bool:
    """Whether the task says anything about the final database: tau2-bench compares it when
    `actions` or `env_assertions` is given, even as an empty list (`actions: []` means that
    nothing may change), and only when both are absent does DB score 1 whatever changed."""
    criteria = task.evaluation_criteria
    given = criteria.model_fields_set & {"actions", "env_assertions"}
    return bool(given or criteria.actions or criteria.env_assertions)


def _needs_judge(task: Task) -> bool:
    criteria = task.evaluation_criteria
    return bool(criteria.nl_assertions) and RewardType.NL_ASSERTION in criteria.reward_basis


def _product(values: Iterable[float]) -> float:
    result = 1.0
    for value in values:
        result *= value
    return result


def _sentence(note: str) -> str:
    note = note[:1].upper() + note[1:]
    return note if note.endswith(".") else note + "."
