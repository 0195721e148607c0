"""Fixture runs of the hotel domain, built record by record with fixed times and contents.

`card_triplet_cribs#0` is the model card's conversation, scored 1. `card_triplet_cribs#1` goes
wrong: a violation (two calls at once) sampled again, a retried server error, two cribs instead
of three, and a reward of 0 with its breakdown. `twins_upgrade_for_cribs#0` ran out of steps and
`crib_limit_partial#0` died on the user simulator (a user retry, then an error).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import JsonValue

from policy_agent.domain import Action, load_pack
from policy_agent.records import (
    ActionCheck,
    AgentMessage,
    AgentToolCall,
    CommunicateCheck,
    ConversationRecord,
    DatabaseState,
    DBCheck,
    EnvAssertionCheck,
    Episode,
    EpisodeEvent,
    ErrorEvent,
    FieldDifference,
    Generation,
    NLAssertionCheck,
    RecordedAssertion,
    RecordedChange,
    RetryEvent,
    RewardInfo,
    RewardType,
    TerminationReason,
    TokenTrace,
    ToolCall,
    ToolResult,
    UserMessage,
    UserRetryEvent,
    Violation,
    ViolationCode,
    ViolationEvent,
)
from policy_agent.trajectory import RunManifest, RunStore

HOTEL = Path(__file__).parents[2] / "domains" / "hotel"
START = datetime(2025, 6, 3, 9, 0, 0, tzinfo=UTC)
RUN_ID = "20250603-090000-hotel-abc123"
MODEL = "hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B"

GUEST = (
    '{"id": "G90920", "first_name": "Elena", "last_name": "Marsh", "email": '
    '"elena.marsh@example.com", "phone": "+1-415-555-0142", "loyalty_tier": "silver", '
    '"member_since": "2021-08-03"}'
)


def _booking(cribs: int, room: str) -> dict[str, JsonValue]:
    return {
        "id": "B11246",
        "guest_id": "G90920",
        "status": "confirmed",
        "room_type": "deluxe",
        "room_id": room,
        "check_in": "2025-06-05T15:00:00",
        "check_out": "2025-06-08T11:00:00",
        "nights": 3,
        "infants": 3,
        "cribs": cribs,
        "nightly_rate": 249,
        "amount_paid": 747,
    }


ROOMS = (
    '[{"room_id": "R0401", "room_type": "deluxe", "floor": 4, "view": "city", "quiet": false}, '
    '{"room_id": "R0410", "room_type": "deluxe", "floor": 4, "view": "harbour", "quiet": false}, '
    '{"room_id": "R0412", "room_type": "deluxe", "floor": 4, "view": "harbour", "quiet": true}]'
)

FIRST_LINE = (
    "Hello, I'm calling regarding my upcoming stay at your hotel. My guest ID is G90920 and "
    "booking ID is B11246 for a Deluxe room on June 5th. I need three infant cribs."
)


class _Clock:
    """Hands out times 1.5 s apart from `START` plus `offset` seconds."""

    def __init__(self, offset: float = 0.0) -> None:
        self.moment = START + timedelta(seconds=offset)

    def tick(self) -> datetime:
        self.moment += timedelta(seconds=1.5)
        return self.moment


def _generation(raw: str, *, attempt: int = 1) -> Generation:
    return Generation(
        model=MODEL, transport="completions", raw_completion=raw, seed=7, attempt=attempt
    )


class _Conversation:
    """Builds the records of one conversation, stamping each with the next time."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.records: list[ConversationRecord] = []
        self.calls = 0

    def user(self, text: str) -> None:
        self.records.append(UserMessage(content=text, timestamp=self.clock.tick()))

    def say(self, reasoning: str, text: str) -> None:
        raw = f"{reasoning}</think>\n{text}"
        self.records.append(
            AgentMessage(
                content=text,
                reasoning=reasoning,
                timestamp=self.clock.tick(),
                generation=_generation(raw),
            )
        )

    def call(
        self,
        reasoning: str,
        name: str,
        arguments: dict[str, JsonValue],
        result: str,
        changes: tuple[RecordedChange, ...] = (),
        *,
        attempt: int = 1,
    ) -> None:
        self.calls += 1
        call_id = f"call_{self.calls}"
        raw = f"{reasoning}</think>\n<tool_call>\n<function={name}>\n</function>\n</tool_call>"
        self.records.append(
            AgentToolCall(
                call_id=call_id,
                name=name,
                arguments=arguments,
                reasoning=reasoning,
                timestamp=self.clock.tick(),
                generation=_generation(raw, attempt=attempt),
            )
        )
        self.records.append(
            ToolResult(
                call_id=call_id,
                name=name,
                content=result,
                changes=list(changes),
                timestamp=self.clock.tick(),
                duration_ms=0.4,
            )
        )


def _update(before: dict[str, JsonValue], after: dict[str, JsonValue]) -> RecordedChange:
    return RecordedChange(table="bookings", record_id="B11246", before=before, after=after)


def _opening(talk: _Conversation) -> None:
    talk.user(FIRST_LINE)
    talk.say("The guest must be identified first.", "Happy to help. May I have your full name?")
    talk.user("My name is Elena Marsh.")
    talk.call(
        "Name given; check it against the guest record.",
        "get_guest_details",
        {"guest_id": "G90920"},
        GUEST,
    )


def _episode(
    talk: _Conversation,
    *,
    task_id: str,
    trial: int,
    reason: TerminationReason,
    events: list[EpisodeEvent] | None = None,
    reward: RewardInfo | None = None,
    error: str | None = None,
    diff: list[RecordedChange] | None = None,
) -> Episode:
    started = talk.records[0].timestamp - timedelta(seconds=0.5)
    ended = talk.clock.tick()
    return Episode(
        task_id=task_id,
        trial=trial,
        seed=1000 + trial,
        termination_reason=reason,
        started_at=started,
        ended_at=ended,
        duration_s=(ended - started).total_seconds(),
        messages=talk.records,
        events=events or [],
        steps=len(talk.records),
        database=DatabaseState(initial_hash="a" * 64, final_hash="b" * 64, diff=diff or []),
        reward=reward,
        error=error,
    )


def _actions() -> list[Action]:
    return [
        Action(action_id="card_0", name="get_guest_details", arguments={"guest_id": "G90920"}),
        Action(action_id="card_1", name="get_booking_details", arguments={"booking_id": "B11246"}),
        Action(
            action_id="card_2", name="request_cribs", arguments={"booking_id": "B11246", "count": 3}
        ),
    ]


def successful() -> Episode:
    """The model card's conversation: identified, three cribs, a quiet room; reward 1."""
    talk = _Conversation(_Clock())
    _opening(talk)
    booking = _booking(0, "R0403")
    talk.call(
        "Elena Marsh matches. Now the booking.",
        "get_booking_details",
        {"booking_id": "B11246"},
        _json(booking),
    )
    with_cribs = _booking(3, "R0403")
    talk.call(
        "Deluxe allows 3 cribs, 30 hours ahead.",
        "request_cribs",
        {"booking_id": "B11246", "count": 3},
        _json(with_cribs),
        (_update(booking, with_cribs),),
    )
    talk.call("Now a quiet Deluxe room.", "search_available_rooms", {"booking_id": "B11246"}, ROOMS)
    moved = _booking(3, "R0412")
    talk.call(
        "R0412 is quiet and free.",
        "change_room",
        {"booking_id": "B11246", "room_id": "R0412"},
        _json({"upgrade_charge": 0, "booking": moved}),
        (_update(with_cribs, moved),),
    )
    talk.say("Done.", "Three cribs are booked and you are in quiet room 412 at no extra cost.")
    talk.user("Wonderful, thank you! ###STOP###")
    reward = RewardInfo(
        reward=1.0,
        reward_basis=[RewardType.DB, RewardType.COMMUNICATE],
        reward_breakdown={RewardType.DB: 1.0, RewardType.COMMUNICATE: 1.0},
        db_check=DBCheck(db_match=True, db_reward=1.0),
        communicate_checks=[CommunicateCheck(info="412", met=True, justification="said")],
    )
    return _episode(
        talk,
        task_id="card_triplet_cribs",
        trial=0,
        reason=TerminationReason.USER_STOP,
        reward=reward,
    )


def failed() -> Episode:
    """Two cribs instead of three, after a violation and a retried server error; reward 0."""
    clock = _Clock(offset=100)
    talk = _Conversation(clock)
    _opening(talk)
    violation_time = clock.tick()
    retry_time = clock.tick()
    booking = _booking(0, "R0403")
    talk.call(
        "Now the booking, one call at a time.",
        "get_booking_details",
        {"booking_id": "B11246"},
        _json(booking),
        attempt=2,
    )
    two = _booking(2, "R0403")
    talk.call(
        "Two cribs should do.",
        "request_cribs",
        {"booking_id": "B11246", "count": 2},
        _json(two),
        (_update(booking, two),),
    )
    talk.say("Booked.", "I have added two cribs to your booking.")
    talk.user("I asked for three. Never mind. ###STOP###")
    raw = (
        "I'll look up the booking and the rooms together.</think>\n<tool_call>\n"
        "<function=get_booking_details>\n<parameter=booking_id>\nB11246\n</parameter>\n"
        "</function>\n</tool_call>\n<tool_call>\n<function=search_available_rooms>\n"
        "<parameter=booking_id>\nB11246\n</parameter>\n</function>\n</tool_call>"
    )
    events: list[EpisodeEvent] = [
        ViolationEvent(
            violation=Violation(
                code=ViolationCode.MULTIPLE_TOOL_CALLS,
                reasoning="I'll look up the booking and the rooms together.",
                calls=[
                    ToolCall(name="get_booking_details", arguments={"booking_id": "B11246"}),
                    ToolCall(name="search_available_rooms", arguments={"booking_id": "B11246"}),
                ],
                detail="2 tool calls in one turn; make exactly one call per turn",
            ),
            action_taken="resample",
            generation=_generation(raw),
            timestamp=violation_time,
        ),
        RetryEvent(
            model=MODEL,
            attempt=1,
            error_type="ServerError",
            message="503 Service Unavailable",
            latency_ms=212.0,
            timestamp=retry_time,
        ),
    ]
    actions = _actions()
    reward = RewardInfo(
        reward=0.0,
        reward_basis=[RewardType.DB, RewardType.ENV_ASSERTION, RewardType.COMMUNICATE],
        reward_breakdown={
            RewardType.DB: 0.0,
            RewardType.ENV_ASSERTION: 0.0,
            RewardType.COMMUNICATE: 0.0,
            RewardType.ACTION: 0.0,
        },
        db_check=DBCheck(
            db_match=False,
            db_reward=0.0,
            differences=[
                FieldDifference(
                    database="assistant",
                    table="bookings",
                    record_id="B11246",
                    field="cribs",
                    expected=3,
                    actual=2,
                ),
                FieldDifference(
                    database="assistant",
                    table="bookings",
                    record_id="B11246",
                    field="room_id",
                    expected="R0412",
                    actual="R0403",
                ),
            ],
        ),
        env_assertions=[
            EnvAssertionCheck(
                env_assertion=RecordedAssertion(
                    check="lookup('bookings', 'B11246').cribs == 3",
                    message="The three cribs are on the booking.",
                ),
                met=False,
                reward=0.0,
            )
        ],
        action_checks=[
            ActionCheck(action=actions[0].recorded(), action_match=True, action_reward=1.0),
            ActionCheck(action=actions[1].recorded(), action_match=True, action_reward=1.0),
            ActionCheck(action=actions[2].recorded(), action_match=False, action_reward=0.0),
        ],
        communicate_checks=[CommunicateCheck(info="412", met=False, justification="not said")],
        nl_assertions=[
            NLAssertionCheck(
                nl_assertion="The agent offers a quiet room free of charge.",
                met=False,
                justification="No room was offered.",
            )
        ],
    )
    with_two = _update(booking, two)
    return _episode(
        talk,
        task_id="card_triplet_cribs",
        trial=1,
        reason=TerminationReason.USER_STOP,
        events=events,
        reward=reward,
        diff=[with_two],
    )


def out_of_steps() -> Episode:
    """The twins' task, cut off by max_steps before anything was written; not evaluated."""
    talk = _Conversation(_Clock(offset=200))
    talk.user("Hi, I have booking B11308 under the name Haddad. We need two cribs.")
    for _ in range(3):
        talk.call(
            "Look again.", "get_booking_details", {"booking_id": "B11308"}, '{"error": "not found"}'
        )
    return _episode(
        talk,
        task_id="twins_upgrade_for_cribs",
        trial=0,
        reason=TerminationReason.MAX_STEPS,
        error="The episode reached max_steps (7).",
    )


def user_died() -> Episode:
    """The user simulator wrote nothing usable twice; the episode ended on its error."""
    clock = _Clock(offset=300)
    talk = _Conversation(clock)
    retry_time = clock.tick()
    talk.user("Hi, the room already has 2 cribs, I need 2 more.")
    talk.say("Check the limit first.", "May I have your booking ID?")
    events: list[EpisodeEvent] = [
        UserRetryEvent(reason="empty message", raw_completion="", attempt=1, timestamp=retry_time),
        ErrorEvent(
            role="user",
            error_type="UserSimulatorError",
            message="the user simulator gave no usable turn after 3 attempts",
            timestamp=clock.tick(),
        ),
    ]
    return _episode(
        talk,
        task_id="crib_limit_partial",
        trial=0,
        reason=TerminationReason.USER_ERROR,
        events=events,
        error="The user simulator gave no usable turn.",
    )


THOUGHT = (
    "The guest wants the cribs, a quiet room and a late check-out, and is upset about last "
    "year's stay; the policy lets me do the first two but a complaint about a past stay goes "
    "to a human agent, so I look the booking up and then transfer with a summary."
)
SUMMARY = (
    "Elena Marsh (G90920), booking B11246, Deluxe, June 5-8: three cribs and a quiet room are "
    "in place; she asks for compensation for noise during her stay in 2024, which I may not "
    "offer, and for a late check-out at 14:00 on June 8."
)
CONFIRMATION = "https://hotel.example.com/bookings/B11246/confirm?token=" + "9f3a0c7e" * 8


def long_values() -> Episode:
    """Arguments and results wider than 80 columns: a long thought and summary (words), a long
    link (one word), nested lists; the episode ends in a transfer."""
    talk = _Conversation(_Clock(offset=400))
    talk.user(FIRST_LINE)
    talk.call("Think first.", "think", {"thought": THOUGHT}, '{"ok": true}')
    booking = _booking(3, "R0412") | {
        "special_requests": ["quiet_location", "late_checkout", "extra_pillows"],
        "confirmation_url": CONFIRMATION,
        "history": [{"year": 2024, "complaint": "Noise from the bar below until 2 am, twice."}],
    }
    talk.call("Now the booking.", "get_booking_details", {"booking_id": "B11246"}, _json(booking))
    talk.call(
        "A complaint: transfer.",
        "transfer_to_human_agents",
        {"summary": SUMMARY, "topics": ["cribs", "quiet room", "compensation", "late checkout"]},
        '"Transfer successful"',
    )
    return _episode(talk, task_id="card_triplet_cribs", trial=2, reason=TerminationReason.TRANSFER)


def all_episodes() -> list[Episode]:
    """The four fixture episodes, in the order they are written."""
    return [successful(), failed(), out_of_steps(), user_died()]


def traced(episode: Episode) -> Episode:
    """`episode` with a token trace on its second record's generation (the store puts it in
    `tokens.jsonl`), as a run with `record_tokens` has."""
    record = episode.messages[1]
    assert isinstance(record, AgentMessage) and record.generation is not None
    trace = TokenTrace(
        prompt_token_ids=[1, 2, 3], completion_token_ids=[4], completion_logprobs=[-0.5]
    )
    generation = record.generation.model_copy(update={"tokens": trace})
    messages = list(episode.messages)
    messages[1] = record.model_copy(update={"generation": generation})
    return episode.model_copy(update={"messages": messages})


def _json(value: JsonValue) -> str:
    return json.dumps(value)


def write_run(
    runs: Path, episodes: list[Episode] | None = None, *, domain: str | None = None
) -> Path:
    """A finished run of `episodes` (all four by default) under `runs`; returns its folder."""
    pack = load_pack(HOTEL)
    manifest = RunManifest.start(
        config={"domain": str(HOTEL) if domain is None else domain, "trials": 2},
        exclude=(),
        domain_name="hotel",
        domain_hash=pack.content_hash,
        episodes_planned=4,
        now=START,
    ).model_copy(update={"run_id": RUN_ID})
    with RunStore.create(runs, manifest, fsync=False) as store:
        for episode in all_episodes() if episodes is None else episodes:
            store.append(episode)
        store.finish(now=START + timedelta(minutes=5))
    return store.directory
