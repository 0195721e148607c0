"""The model card's example task of the shipped hotel pack, scored as an oracle agent plays it and
as an agent that books one crib too few."""

from __future__ import annotations

from policy_agent.domain import DomainPack
from policy_agent.evaluation import Evaluator
from policy_agent.records import Episode, RewardType
from tests.domains.test_hotel import CARD_MESSAGE
from tests.evaluation.conftest import Converse


def card_episode(converse: Converse, hotel: DomainPack, *, cribs: int) -> Episode:
    """The conversation an oracle has for `card_triplet_cribs`, booking `cribs` cribs."""
    return (
        converse(hotel)
        .user(CARD_MESSAGE)
        .agent("Happy to help. May I have your full name?")
        .user("My name is Elena Marsh.")
        .call("get_guest_details", guest_id="G90920")
        .call("get_booking_details", booking_id="B11246")
        .agent(
            "Three cribs fit a Deluxe room and you are more than 24 hours ahead. Shall I add them?"
        )
        .user("Yes, please add the three cribs to my booking.")
        .call("request_cribs", booking_id="B11246", count=cribs)
        .call("search_available_rooms", booking_id="B11246")
        .agent(
            "Done. Room 412 is quiet and free for your whole stay at no extra cost. "
            "Shall I move you there?"
        )
        .user("That sounds perfect. Yes, please move us to the quiet room.")
        .call("change_room", booking_id="B11246", room_id="R0412")
        .agent("You are now in room 412. Anything else?")
        .user("Wonderful, that's everything I needed. Thank you! ###STOP###")
        .episode("card_triplet_cribs")
    )


def test_the_oracle_conversation_scores_1(converse: Converse, hotel: DomainPack) -> None:
    reward = Evaluator(hotel).evaluate_without_judge(card_episode(converse, hotel, cribs=3))
    assert reward.reward == 1.0
    assert reward.reward_basis == [RewardType.DB, RewardType.ENV_ASSERTION, RewardType.COMMUNICATE]
    assert reward.reward_breakdown == {
        RewardType.DB: 1.0,
        RewardType.ENV_ASSERTION: 1.0,
        RewardType.ACTION: 1.0,
        RewardType.COMMUNICATE: 1.0,
        RewardType.RULES: 1.0,
    }
    assert reward.note == "NL assertions were not judged (no judge configured)."


def test_a_wrong_crib_count_fails_db_and_names_the_field(
    converse: Converse, hotel: DomainPack
) -> None:
    reward = Evaluator(hotel).evaluate_without_judge(card_episode(converse, hotel, cribs=2))
    assert reward.reward == 0.0
    assert reward.db_check is not None
    assert [
        (d.table, d.record_id, d.field, d.expected, d.actual) for d in reward.db_check.differences
    ] == [("bookings", "B11246", "cribs", 3, 2)]
    assert reward.reward_breakdown[RewardType.DB] == 0.0
    assert reward.reward_breakdown[RewardType.ACTION] == 0.0
    missed = [c.action.action_id for c in reward.action_checks if not c.action_match]
    assert missed == ["card_2"]
    failed = [a.env_assertion.message for a in reward.env_assertions if not a.met]
    assert failed == ["The three cribs are on the booking."]
    assert reward.reward_breakdown[RewardType.COMMUNICATE] == 1.0
