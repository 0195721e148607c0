"""The generated grammars, run by the engines vLLM uses (llguidance; xgrammar where installed).

Every valid single action of every tool of the hotel pack and of the imported tau2 packs is
accepted; every violation class the parser knows is rejected; and on generated answers and
mutations of them the engine accepts exactly what `one_valid_action` (the parser plus the
schema rules) calls one valid action. Skips when the engine is not installed.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_agent.format import GrammarSyntax, PromptStyle
from tests.format.grammar_support import (
    MARKUP,
    PACKS,
    calls,
    functions,
    llguidance_accepts,
    markup_free_text,
    messages,
    one_valid_action,
    xgrammar_accepts,
)

pytest.importorskip("llguidance", reason="the grammar extra (llguidance) is not installed")

SLOW_ENGINE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
VARIANTS = [(style, thinking) for style in PromptStyle for thinking in (True, False)]


def engines(pack: str, style: PromptStyle, thinking: bool) -> dict[str, object]:
    found = {
        "lark": llguidance_accepts(pack, GrammarSyntax.LARK, style, thinking),
        "ebnf-llguidance": llguidance_accepts(pack, GrammarSyntax.EBNF, style, thinking),
    }
    try:
        import xgrammar  # noqa: F401
    except ImportError:
        return found
    found["ebnf-xgrammar"] = xgrammar_accepts(pack, style, thinking)
    return found


@pytest.mark.parametrize("pack", PACKS)
@pytest.mark.parametrize(("style", "thinking"), VARIANTS)
def test_every_engine_compiles_the_grammar_of_every_pack(
    pack: str, style: PromptStyle, thinking: bool
) -> None:
    for name, accepts in engines(pack, style, thinking).items():
        assert accepts("\nOne moment, please."), name  # type: ignore[operator]


@pytest.mark.parametrize("pack", PACKS)
@SLOW_ENGINE
@given(data=st.data())
def test_every_valid_call_of_every_tool_is_accepted(pack: str, data: st.DataObject) -> None:
    answer = data.draw(calls(pack))
    for style, thinking in VARIANTS:
        assert one_valid_action(answer, functions(pack), style=style, thinking=thinking)
        for name, accepts in engines(pack, style, thinking).items():
            assert accepts(answer), (name, style, thinking, answer)  # type: ignore[operator]


@pytest.mark.parametrize("pack", PACKS)
def test_each_tool_with_only_its_required_parameters_is_accepted(pack: str) -> None:
    for spec in functions(pack):
        required = spec.parameters.get("required", [])
        params = "".join(
            f"<parameter={name}>\n{_sample(spec.properties[name])}\n</parameter>\n"
            for name in spec.properties
            if name in required
        )
        answer = f"\n<tool_call>\n<function={spec.name}>\n{params}</function>\n</tool_call>"
        for name, accepts in engines(pack, PromptStyle.CARD, True).items():
            assert accepts(answer), (name, spec.name)  # type: ignore[operator]


def _sample(schema: object) -> str:
    assert isinstance(schema, dict)
    if "enum" in schema:
        return str(schema["enum"][0])
    return {"integer": "2", "number": "2.5", "boolean": "true", "array": "[]"}.get(
        str(schema.get("type")), "B11246"
    )


HOTEL_CALL = (
    "\n<tool_call>\n<function=request_cribs>\n<parameter=booking_id>\nB11246\n</parameter>\n"
    "<parameter=count>\n2\n</parameter>\n</function>\n</tool_call>"
)
VIOLATIONS = {
    # The parser's codes (policy_agent/format/_turns.py) and the schema rules of the issue.
    "multiple_tool_calls": HOTEL_CALL + HOTEL_CALL,
    "text_after_tool_call": HOTEL_CALL + "\nDone, two cribs are booked.",
    "malformed_tool_call: unclosed parameter": HOTEL_CALL.replace("2\n</parameter>", "2\n"),
    "malformed_tool_call: no </tool_call>": HOTEL_CALL.removesuffix("</tool_call>"),
    "malformed_tool_call: markup in a message": "\nI will call <function=x> now.",
    "unknown function": HOTEL_CALL.replace("request_cribs", "book_spa"),
    "missing required parameter": HOTEL_CALL.replace("<parameter=count>\n2\n</parameter>\n", ""),
    "value outside its enum": (
        "\n<tool_call>\n<function=add_special_request>\n<parameter=booking_id>\nB11246\n"
        "</parameter>\n<parameter=request>\nocean_view\n</parameter>\n</function>\n</tool_call>"
    ),
    "parameter given twice": HOTEL_CALL.replace(
        "</parameter>\n<parameter=count>",
        "</parameter>\n<parameter=booking_id>\nB2\n</parameter>\n<parameter=count>",
    ),
    "integer not well formed": HOTEL_CALL.replace("\n2\n", "\ntwo\n"),
    "undeclared parameter": HOTEL_CALL.replace(
        "</function>", "<parameter=note>\nx\n</parameter>\n</function>"
    ),
    "empty": "\n  \n",
}


@pytest.mark.parametrize(("style", "thinking"), VARIANTS)
@pytest.mark.parametrize("case", sorted(VIOLATIONS))
def test_every_violation_class_is_rejected(case: str, style: PromptStyle, thinking: bool) -> None:
    answer = VIOLATIONS[case]
    assert not one_valid_action(answer, functions("hotel"), style=style, thinking=thinking)
    for name, accepts in engines("hotel", style, thinking).items():
        assert not accepts(answer), name  # type: ignore[operator]


def test_text_with_tool_call_is_rejected_in_template_style_only() -> None:
    # Template style: the server would return the text as content beside the call, which
    # parse_structured reports as text_with_tool_call. Card style: the parser reads it as
    # reasoning before the call (its prelude), so the grammar allows it.
    answer = "\nLet me add the cribs." + HOTEL_CALL
    for thinking in (True, False):
        for name, accepts in engines("hotel", PromptStyle.TEMPLATE, thinking).items():
            assert not accepts(answer), name  # type: ignore[operator]
        for name, accepts in engines("hotel", PromptStyle.CARD, thinking).items():
            assert accepts(answer), name  # type: ignore[operator]


def test_thinking_grammar_does_not_start_with_tool_call_but_instruct_may() -> None:
    answer = HOTEL_CALL.removeprefix("\n")
    for style in PromptStyle:
        for name, accepts in engines("hotel", style, True).items():
            assert not accepts(answer), name  # type: ignore[operator]
        for name, accepts in engines("hotel", style, False).items():
            assert accepts(answer), name  # type: ignore[operator]


def test_a_think_tag_in_a_value_is_text_for_the_grammar_and_the_parser() -> None:
    # Found by the agreement test: the parser once cut a bare </think> after the reasoning as
    # if it ended the reasoning (split_reasoning), while the grammar takes it as a value.
    answer = (
        "\n<tool_call><function=get_guest_details><parameter=guest_id>\n</think>\n"
        "</parameter></function></tool_call>"
    )
    for style, thinking in VARIANTS:
        assert one_valid_action(answer, functions("hotel"), style=style, thinking=thinking)
        for name, accepts in engines("hotel", style, thinking).items():
            assert accepts(answer), (name, style, thinking)  # type: ignore[operator]


def test_an_instruct_answer_may_not_open_a_think_block() -> None:
    # The instruct prompt closed the reasoning; a block the completion opens would be read as
    # reasoning (split_reasoning(opened=False)), so the grammar refuses it. After </think> in
    # thinking mode it is answer text, allowed.
    for answer in ("<think>x</think>", "\n <think>x", "<think>x</think>" + HOTEL_CALL):
        for style in PromptStyle:
            assert not one_valid_action(answer, functions("hotel"), style=style, thinking=False)
            for name, accepts in engines("hotel", style, False).items():
                assert not accepts(answer), (name, style, answer)  # type: ignore[operator]
    for answer in ("Hi <think>", "<thin", "<think"):
        for name, accepts in engines("hotel", PromptStyle.CARD, False).items():
            assert accepts(answer), (name, answer)  # type: ignore[operator]
        for name, accepts in engines("hotel", PromptStyle.CARD, True).items():
            assert accepts("<think>x</think> " + answer), (name, answer)  # type: ignore[operator]


def test_markup_in_a_json_value_is_rejected() -> None:
    answer = (
        "\n<tool_call>\n<function=return_delivered_order_items>\n<parameter=order_id>\n#W1\n"
        '</parameter>\n<parameter=item_ids>\n["a</parameter>"]\n</parameter>\n'
        "<parameter=payment_method_id>\ngift_card_1\n</parameter>\n</function>\n</tool_call>"
    )
    for name, accepts in engines("tau2-retail", PromptStyle.CARD, True).items():
        assert not accepts(answer), name  # type: ignore[operator]
        assert accepts(answer.replace("a</parameter>", "a</param")), name  # type: ignore[operator]


def _mutations(answer: str, pack: str) -> st.SearchStrategy[str]:
    specs = functions(pack)
    tag = st.sampled_from(MARKUP)
    at = st.integers(0, max(len(answer) - 1, 0))
    return st.one_of(
        st.just(answer),
        st.just(answer + answer),
        markup_free_text.map(lambda text: answer + text),
        markup_free_text.map(lambda text: text + answer),
        st.tuples(at, tag).map(lambda p: answer[: p[0]] + p[1] + answer[p[0] :]),
        st.just(answer.lstrip()),
        st.sampled_from([s.name for s in specs] + ["unknown_tool"]).map(
            lambda name: _rename(answer, name)
        ),
        st.sampled_from(MARKUP).map(lambda t: answer.replace(t, "", 1)),
        st.just(_swap_first_two_parameters(answer)),
        st.just(_duplicate_first_parameter(answer)),
    )


def _rename(answer: str, name: str) -> str:
    start = answer.find("<function=")
    if start < 0:
        return answer
    end = answer.find(">", start)
    return answer[: start + len("<function=")] + name + answer[end:]


def _blocks(answer: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    while (start := answer.find("<parameter=", pos)) >= 0:
        end = answer.find("</parameter>", start)
        if end < 0:
            break
        spans.append((start, end + len("</parameter>")))
        pos = end
    return spans


def _swap_first_two_parameters(answer: str) -> str:
    spans = _blocks(answer)
    if len(spans) < 2:
        return answer
    (a0, a1), (b0, b1) = spans[:2]
    return answer[:a0] + answer[b0:b1] + answer[a1:b0] + answer[a0:a1] + answer[b1:]


def _duplicate_first_parameter(answer: str) -> str:
    spans = _blocks(answer)
    if not spans:
        return answer
    start, end = spans[0]
    return answer[:end] + answer[start:end] + answer[end:]


@pytest.mark.parametrize("pack", PACKS)
@pytest.mark.parametrize(("style", "thinking"), VARIANTS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_engine_accepts_exactly_one_valid_action(
    pack: str, style: PromptStyle, thinking: bool, data: st.DataObject
) -> None:
    # 4 packs x 4 variants x 150 answers: 2400 answers, each judged by every engine.
    answer = data.draw(st.one_of(calls(pack), messages))
    answer = data.draw(_mutations(answer, pack))
    expected = one_valid_action(answer, functions(pack), style=style, thinking=thinking)
    for name, accepts in engines(pack, style, thinking).items():
        assert accepts(answer) is expected, (name, answer)  # type: ignore[operator]
